"""A small college for the question tests: two departments, their people, fixed clocks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlmodel import Session, col, select

from hub.business_hours import BRUSSELS
from hub.models import Role, User
from hub.outbox import OutboxMessage
from hub.people import assign_referent, get_department
from tests.factories import make_department, make_user


@dataclass
class College:
    teacher: User  # SCI
    colleague: User  # SCI
    other_teacher: User  # LET
    referent: User  # SCI (main)
    other_referent: User  # LET (main), backup of SCI
    elearning: User
    student: User  # SCI


@pytest.fixture
def college(db: Session) -> College:
    make_department(db, "SCI", "Sciences")
    make_department(db, "LET", "Lettres")
    people = College(
        teacher=make_user(db, Role.teacher, departments=["SCI"], name="Alice Prof"),
        colleague=make_user(db, Role.teacher, departments=["SCI"], name="Bruno Prof"),
        other_teacher=make_user(db, Role.teacher, departments=["LET"], name="Chloé Prof"),
        referent=make_user(db, Role.referent, departments=["SCI"], name="Rita Référente"),
        other_referent=make_user(db, Role.referent, departments=["LET"], name="Léo Référent"),
        elearning=make_user(db, Role.elearning, name="Emma E-learning"),
        student=make_user(db, Role.student, departments=["SCI"], name="Sam Étudiant"),
    )
    assign_referent(
        db, department=get_department(db, "SCI"), user=people.other_referent, backup=True
    )
    db.commit()
    return people


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=BRUSSELS)  # type: ignore[misc]


def mails(db: Session, kind: str | None = None, to: str | None = None) -> list[OutboxMessage]:
    db.commit()  # a new transaction: see what other sessions committed
    db.expire_all()
    query = select(OutboxMessage).where(OutboxMessage.channel == "email")
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    if to:
        query = query.where(OutboxMessage.recipient == to)
    return list(db.exec(query.order_by(col(OutboxMessage.id))).all())


def posts(db: Session, kind: str | None = None) -> list[OutboxMessage]:
    db.commit()  # a new transaction: see what other sessions committed
    db.expire_all()
    query = select(OutboxMessage).where(OutboxMessage.channel == "teams")
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return list(db.exec(query.order_by(col(OutboxMessage.id))).all())


# Minimal valid files, by content.
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
HTML = b"<!doctype html><script>alert(document.cookie)</script>"
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64
