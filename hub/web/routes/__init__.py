"""One router per area of the web UI and API; assembled in hub/web/app.py."""
