"""Which transport carries each outbox channel: the one map, built here.

The outbox (hub/outbox.py) knows messages, leases and retries, not how a message travels;
each channel's module knows how it travels, not when. This module joins them: a factory per
channel, returning None when the settings leave that channel unconfigured (its messages then
wait in the outbox, readable on the "sent mail" page). A new channel is one line here.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Engine

from hub.mail import smtp_transport
from hub.outbox import Channel, DeliveryReport, Transport, deliver_due
from hub.settings import Settings
from hub.teams.transport import teams_transport

TransportFactory = Callable[[Settings], Transport | None]

FACTORIES: dict[Channel, TransportFactory] = {
    Channel.email: smtp_transport,
    Channel.teams: teams_transport,
}


def configured_transports(settings: Settings) -> dict[Channel, Transport]:
    """The transports the settings configure, by channel."""
    transports: dict[Channel, Transport] = {}
    for channel, factory in FACTORIES.items():
        transport = factory(settings)
        if transport is not None:
            transports[channel] = transport
    return transports


def deliver_outbox(engine: Engine, settings: Settings) -> DeliveryReport:
    """One delivery pass with the configured transports (the scheduler's job, `hub outbox
    deliver`)."""
    transports = configured_transports(settings)
    try:
        return deliver_due(engine, transports)
    finally:
        for transport in transports.values():
            transport.close()
