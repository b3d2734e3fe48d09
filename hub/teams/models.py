"""Tables of the Teams package: the cached channel feed shown on the home page."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from hub.models import UTCDateTime


class TeamsFeed(SQLModel, table=True):
    """The last read of one channel: sanitised messages as JSON, shared by every web worker.

    `refresh_claimed_until` lets one process refresh at a time (a conditional UPDATE)."""

    __tablename__ = "teams_feed"

    channel_key: str = Field(primary_key=True, max_length=300)  # "<team id>/<channel id>"
    channel_name: str = Field(default="", max_length=300)
    channel_url: str | None = Field(default=None, max_length=1000)
    items_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    fetched_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    refresh_claimed_until: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
