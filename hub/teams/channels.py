"""Which Teams channel a message goes to (the crisis channel, a department's channel), and
the gateway that reaches them (Graph or a Workflows webhook)."""

from __future__ import annotations

from sqlmodel import Session

from hub.errors import InvalidInput
from hub.models import TEAM, Department, User
from hub.people import require_role
from hub.settings import Settings
from hub.teams.gateway import ChannelRef, TeamsGateway

WEBHOOK_CHANNEL = ChannelRef("workflows", "webhook")  # a webhook posts to its own channel


def configured(settings: Settings) -> bool:
    return bool(settings.teams_mode)


def gateway_for(settings: Settings) -> TeamsGateway:
    """The gateway of the configured mode (imports msgraph-sdk for Graph: call lazily)."""
    if settings.teams_mode == "graph":
        import warnings

        # The generated SDK warns about its own deprecated classes as its modules load.
        warnings.filterwarnings(
            "ignore",
            category=DeprecationWarning,
            module=r"(msgraph\.generated|kiota_abstractions)\.",
        )
        from hub.teams.graph import GraphGateway

        return GraphGateway(settings)
    if settings.teams_mode == "webhook":
        from hub.teams.webhook import WebhookGateway

        return WebhookGateway(settings)
    raise RuntimeError("Teams is not configured")


def crisis_channel(settings: Settings) -> ChannelRef:
    if settings.teams_mode == "webhook":
        return WEBHOOK_CHANNEL
    return ChannelRef(settings.teams_team_id, settings.teams_channel_id)


def parse_channel(value: str, settings: Settings) -> ChannelRef:
    """A department's channel setting: "<channel id>" (in the crisis team) or
    "<team id>/<channel id>"."""
    value = value.strip()
    team, slash, channel = value.rpartition("/")
    if slash:
        return ChannelRef(team.strip(), channel.strip())
    return ChannelRef(settings.teams_team_id, value)


def department_channel(department: Department | None, settings: Settings) -> ChannelRef:
    """The department's own channel, or the crisis channel when it has none."""
    if settings.teams_mode == "webhook" or department is None or not department.teams_channel_id:
        return crisis_channel(settings)
    return parse_channel(department.teams_channel_id, settings)


def clean_channel_value(value: str) -> str | None:
    """Validate what the e-learning team typed as a department channel (empty: none)."""
    value = value.strip()
    if not value:
        return None
    team, slash, channel = value.rpartition("/")
    if len(value) > 300 or any(c.isspace() for c in value) or (slash and not (team and channel)):
        message = "identifiant de canal invalide (ex. 19:abc…@thread.tacv2 ou équipe/canal)"
        raise InvalidInput(message, {"teams_channel_id": message})
    return value


def set_department_channel(
    session: Session, department: Department, value: str, *, actor: User | None
) -> Department:
    """The e-learning team sets (or clears) a department's Teams channel (None: the CLI)."""
    if actor is not None:
        require_role(actor, *TEAM)
    department.teams_channel_id = clean_channel_value(value)
    session.add(department)
    session.flush()
    return department
