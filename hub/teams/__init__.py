"""Microsoft Teams: the crisis channel, department channels, meetings for webinars.

The hub links to the Teams space the crisis was run from instead of replacing it:
- posts (new questions, escalations, announcements, webinars, kind words) always go
  through the outbox and are delivered by the worker (`transport.py`);
- the home page shows the crisis channel's recent messages from a cache (`feed.py`);
- webinar sessions can get a Teams meeting (`meetings.py`);
- `hub teams login` / `hub teams check` (`auth.py`, `check.py`).

Two gateways behind `gateway.TeamsGateway`: Graph (msgraph-sdk, imported lazily, only when
Teams is configured) and a Workflows webhook (post only). This package must stay cheap to
import: nothing here imports msgraph at module level.
"""
