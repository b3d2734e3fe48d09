"""Crisis mode: the crisis state read by the SLA clocks (`state`), the switch with its
banner, pins and announcement (`mode`), and the pre-flight checks (`readiness`). The pages
are web.py."""
