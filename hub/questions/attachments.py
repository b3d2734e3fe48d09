"""Screenshots and PDFs attached to questions: checked by content (magic bytes, never the
file name), stored under random names, served only to people who may read the question."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from hub.errors import InvalidInput, NotFound
from hub.i18n import N_
from hub.models import User, id_of
from hub.questions.models import MessageKind, QuestionAttachment, QuestionMessage
from hub.questions.queues import is_staff_for, open_question

MAX_BYTES = 10 * 1024 * 1024  # per file (the request body limit bounds the total)
MAX_FILES = 5  # per question or message
# A file younger than this may belong to a request still running (written, not yet committed).
ORPHAN_GRACE = timedelta(hours=1)
PRUNE_BATCH = 500
SUBDIRECTORY = "attachments"
ACCEPTED = N_("Captures d'écran (PNG, JPEG, WebP, GIF) ou PDF, 10 Mo au plus chacune.")
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


@dataclass(frozen=True)
class CheckedUpload:
    filename: str
    data: bytes
    content_type: str
    extension: str


def sniff(data: bytes) -> tuple[str, str] | None:
    """(content type, extension) from the first bytes, or None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        return "image/png", ".png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", ".jpg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif", ".gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and data[12:15] == b"VP8":
        return "image/webp", ".webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf", ".pdf"
    return None


_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


def clean_filename(name: str, extension: str) -> str:
    """A display name: the last path part, no control or path characters, the real extension."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    stem = _UNSAFE_NAME.sub("_", name.rsplit(".", 1)[0] if "." in name else name).strip(" ._")
    return (stem[:100] or "piece-jointe") + extension


def check_uploads(uploads: Sequence[Upload]) -> list[CheckedUpload]:
    """Validate every file before anything is stored; empty file fields are ignored."""
    present = [u for u in uploads if u.data or u.filename]
    if len(present) > MAX_FILES:
        raise InvalidInput(
            N_("Trop de pièces jointes."),
            {"attachments": N_("5 pièces jointes au plus.")},
        )
    checked = []
    for upload in present:
        if not upload.data:
            raise InvalidInput(
                N_("Pièce jointe vide."), {"attachments": N_("Un fichier envoyé est vide.")}
            )
        if len(upload.data) > MAX_BYTES:
            raise InvalidInput(
                N_("Pièce jointe trop lourde."),
                {"attachments": N_("Chaque fichier fait 10 Mo au plus.")},
            )
        found = sniff(upload.data)
        if found is None:
            raise InvalidInput(N_("Type de fichier refusé."), {"attachments": ACCEPTED})
        content_type, extension = found
        checked.append(
            CheckedUpload(
                filename=clean_filename(upload.filename or "", extension),
                data=upload.data,
                content_type=content_type,
                extension=extension,
            )
        )
    return checked


def storage_root(data_dir: Path) -> Path:
    return data_dir / SUBDIRECTORY


def _write(root: Path, data: bytes, extension: str) -> str:
    """Write atomically under a random name (two-level fan-out); returns the relative name."""
    token = secrets.token_hex(16)
    relative = f"{token[:2]}/{token}{extension}"
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".part")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)
    return relative


def store(
    session: Session,
    *,
    question_id: int,
    message_id: int | None,
    files: Sequence[CheckedUpload],
    actor: User | None,
    data_dir: Path,
) -> list[QuestionAttachment]:
    """Write the files and their rows. A rolled-back transaction leaves unreferenced files
    behind, never a row without its file."""
    rows = []
    for file in files:
        name = _write(storage_root(data_dir), file.data, file.extension)
        row = QuestionAttachment(
            question_id=question_id,
            message_id=message_id,
            filename=file.filename,
            content_type=file.content_type,
            size=len(file.data),
            sha256=hashlib.sha256(file.data).hexdigest(),
            storage_name=name,
            uploaded_by_id=actor.id if actor else None,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def visible_attachments(
    session: Session, *, question_id: int, staff: bool
) -> list[QuestionAttachment]:
    """Attachments of a question; those of internal notes only for staff."""
    query = select(QuestionAttachment).where(QuestionAttachment.question_id == question_id)
    rows = list(session.exec(query.order_by(col(QuestionAttachment.id))).all())
    if staff:
        return rows
    notes = set(
        session.exec(
            select(QuestionMessage.id).where(
                QuestionMessage.question_id == question_id,
                QuestionMessage.kind == MessageKind.note.value,
            )
        ).all()
    )
    return [row for row in rows if row.message_id not in notes]


def open_attachment(
    session: Session, *, actor: User | None, attachment_id: int, data_dir: Path
) -> tuple[QuestionAttachment, Path]:
    """An attachment and its file, for someone allowed to read it (else NotFound)."""
    row = session.get(QuestionAttachment, attachment_id)
    if row is None:
        raise NotFound(N_("Pièce jointe introuvable."))
    question = open_question(session, actor=actor, question_id=row.question_id)
    assert actor is not None
    staff = is_staff_for(session, actor, question)
    if not staff and row.id not in {
        a.id for a in visible_attachments(session, question_id=id_of(question), staff=False)
    }:
        raise NotFound(N_("Pièce jointe introuvable."))
    root = storage_root(data_dir).resolve()
    path = (root / row.storage_name).resolve()
    if root not in path.parents or not path.is_file():
        raise NotFound(N_("Pièce jointe introuvable."))
    return row, path


@dataclass(frozen=True)
class PruneReport:
    checked: int
    removed: int


def _stored_files(root: Path, older_than: float) -> Iterator[tuple[str, Path]]:
    """(relative name, path) of the files under `root` last modified before `older_than`."""
    if not root.is_dir():
        return
    for directory in sorted(root.iterdir()):
        if not directory.is_dir() or directory.is_symlink():
            continue
        for path in sorted(directory.iterdir()):
            try:
                if path.is_file() and not path.is_symlink() and path.stat().st_mtime < older_than:
                    yield f"{directory.name}/{path.name}", path
            except FileNotFoundError:
                continue  # removed meanwhile


def prune_orphan_files(
    session: Session, *, data_dir: Path, grace: timedelta = ORPHAN_GRACE
) -> PruneReport:
    """Delete stored files that no attachment row names: those of requests rolled back after
    `store` wrote them, and `.part` files of writes cut short. Files younger than `grace`
    are left alone (their request may still commit)."""
    older_than = time.time() - grace.total_seconds()
    checked = removed = 0
    batch: list[tuple[str, Path]] = []

    def flush() -> int:
        names = [name for name, _ in batch]
        known = set(
            session.exec(
                select(QuestionAttachment.storage_name).where(
                    col(QuestionAttachment.storage_name).in_(names)
                )
            ).all()
        )
        gone = 0
        for name, path in batch:
            if name not in known:
                path.unlink(missing_ok=True)
                gone += 1
        batch.clear()
        return gone

    for name, path in _stored_files(storage_root(data_dir), older_than):
        checked += 1
        batch.append((name, path))
        if len(batch) >= PRUNE_BATCH:
            removed += flush()
    if batch:
        removed += flush()
    return PruneReport(checked=checked, removed=removed)
