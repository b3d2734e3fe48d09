"""People and departments: creating users, serving departments as referent, who sees what."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hub.i18n import N_, Message
from hub.models import STAFF, TEAM, Department, DepartmentReferent, Role, User, id_of
from hub.passwords import check_password_strength, hash_password

DEPARTMENT_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,19}$")
# Deliberately loose: one @, something on each side, a dot in the domain. Delivery proves the rest.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_email(email: str) -> str:
    return email.strip().lower()


# --- departments -------------------------------------------------------------------------


def create_department(session: Session, *, code: str, name: str) -> Department:
    code = code.strip().upper()
    name = name.strip()
    errors = {}
    if not DEPARTMENT_CODE.match(code):
        errors["code"] = N_("1 à 20 caractères : lettres, chiffres, - ou _ (ex. SCI).")
    if not name or len(name) > 200:
        errors["name"] = N_("Le nom est obligatoire (200 caractères au plus).")
    if errors:
        raise InvalidInput("Département invalide.", errors)
    if session.exec(select(Department).where(Department.code == code)).first():
        raise Conflict(Message(N_("Le département %(code)s existe déjà."), code=code))
    department = Department(code=code, name=name)
    session.add(department)
    _flush_or_conflict(session, Message(N_("Le département %(code)s existe déjà."), code=code))
    return department


def list_departments(session: Session) -> Sequence[Department]:
    return session.exec(select(Department).order_by(col(Department.code))).all()


def get_department(session: Session, code: str) -> Department:
    department = session.exec(
        select(Department).where(Department.code == code.strip().upper())
    ).first()
    if department is None:
        raise NotFound(Message(N_("Département inconnu : %(code)s"), code=code))
    return department


def department_referents(session: Session, department: Department) -> list[tuple[User, bool]]:
    """The referents of a department with their backup flag, primary referents first."""
    rows = session.exec(
        select(User, DepartmentReferent.is_backup)
        .join(DepartmentReferent, col(DepartmentReferent.user_id) == col(User.id))
        .where(DepartmentReferent.department_id == department.id)
        .order_by(col(DepartmentReferent.is_backup), col(User.name))
    ).all()
    return [(user, bool(is_backup)) for user, is_backup in rows]


def department_members(session: Session, department: Department, *, actor: User) -> Sequence[User]:
    """Members are listed to the department's referents and the e-learning team only."""
    if actor.role not in (Role.referent, Role.elearning):
        return []
    return session.exec(
        select(User).where(User.department_id == department.id).order_by(col(User.name))
    ).all()


# --- users -------------------------------------------------------------------------------


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    role: Role | str,
    departments: Sequence[str] = (),
    password: str | None = None,
) -> User:
    """Create a user. A teacher or student has at most one department; a referent serves one or
    more (and at least one); the e-learning team serves every department without a link."""
    email = normalise_email(email)
    name = name.strip()
    errors: dict[str, str] = {}
    if not EMAIL.match(email) or len(email) > 320:
        errors["email"] = N_("Adresse e-mail invalide.")
    if not name or len(name) > 200:
        errors["name"] = N_("Le nom est obligatoire (200 caractères au plus).")
    try:
        role = Role(role)
    except ValueError:
        errors["role"] = "Rôle inconnu : " + ", ".join(r.value for r in Role) + "."
        role = Role.student
    codes = list(dict.fromkeys(code.strip().upper() for code in departments if code.strip()))
    if role in (Role.teacher, Role.student) and len(codes) > 1:
        errors["department"] = N_("Un enseignant ou un étudiant appartient à un seul département.")
    if role is Role.teacher and not codes:
        errors["department"] = N_("Un enseignant appartient à un département.")
    if role is Role.referent and not codes:
        errors["department"] = N_("Un référent sert au moins un département.")
    if role is Role.elearning and codes:
        errors["department"] = N_("L'équipe e-learning sert tous les départements.")
    if password is not None:
        try:
            check_password_strength(password)
        except InvalidInput as exc:
            errors.update(exc.fields)
    found = (
        {
            d.code: d
            for d in session.exec(select(Department).where(col(Department.code).in_(codes))).all()
        }
        if codes
        else {}
    )
    missing = [code for code in codes if code not in found]
    if missing:
        errors["department"] = "Département inconnu : " + ", ".join(missing)
    if errors:
        raise InvalidInput("Utilisateur invalide.", errors)
    if session.exec(select(User).where(User.email == email)).first():
        raise Conflict(Message(N_("Un compte existe déjà pour %(email)s."), email=email))

    user = User(
        email=email,
        name=name,
        role=role,
        password_hash=hash_password(password) if password else None,
        department_id=found[codes[0]].id if codes and role is not Role.referent else None,
    )
    session.add(user)
    _flush_or_conflict(session, Message(N_("Un compte existe déjà pour %(email)s."), email=email))
    if role is Role.referent:
        for code in codes:
            session.add(DepartmentReferent(department_id=id_of(found[code]), user_id=id_of(user)))
        session.flush()
    return user


def assign_referent(
    session: Session, *, department: Department, user: User, backup: bool = False
) -> None:
    """Make a referent serve a department (or become its backup); idempotent."""
    if user.role is not Role.referent:
        raise InvalidInput(
            Message(
                N_("%(email)s n'est pas référent (rôle : %(role)s)."),
                email=user.email,
                role=user.role.value,
            )
        )
    link = session.get(DepartmentReferent, (department.id, user.id))
    if link is None:
        session.add(
            DepartmentReferent(
                department_id=id_of(department), user_id=id_of(user), is_backup=backup
            )
        )
    else:
        link.is_backup = backup
        session.add(link)
    session.flush()


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == normalise_email(email))).first()


def require_user_by_email(session: Session, email: str) -> User:
    user = get_user_by_email(session, email)
    if user is None:
        raise NotFound(Message(N_("Aucun compte pour %(email)s."), email=normalise_email(email)))
    return user


def list_users(session: Session, *, actor: User) -> Sequence[User]:
    require_role(actor, *TEAM)
    return session.exec(select(User).order_by(col(User.role), col(User.name))).all()


# --- permissions -------------------------------------------------------------------------


def require_role(user: User | None, *roles: Role) -> User:
    """The one role check: raises PermissionDenied unless the user has one of `roles`."""
    if user is None or not user.is_active:
        raise PermissionDenied("Connectez-vous pour accéder à cette page.")
    if user.role not in roles:
        raise PermissionDenied("Votre rôle ne permet pas d'accéder à cette page.")
    return user


def served_department_ids(session: Session, user: User) -> set[int]:
    """Departments whose questions this user handles: a referent's own list, all for e-learning."""
    if user.role is Role.elearning:
        return {d.id for d in list_departments(session) if d.id is not None}
    if user.role is Role.referent:
        return set(
            session.exec(
                select(DepartmentReferent.department_id).where(
                    DepartmentReferent.user_id == user.id
                )
            ).all()
        )
    return set()


def visible_departments(session: Session, user: User) -> Sequence[Department]:
    """Departments a user may open: served ones, or a teacher's own."""
    require_role(user, *STAFF)
    if user.role is Role.elearning:
        return list_departments(session)
    ids = (
        served_department_ids(session, user)
        if user.role is Role.referent
        else {user.department_id} - {None}
    )
    if not ids:
        return []
    return session.exec(
        select(Department).where(col(Department.id).in_(ids)).order_by(col(Department.code))
    ).all()


def open_department(session: Session, *, actor: User | None, code: str) -> Department:
    """A department page's access rule, in one place: isolation between departments."""
    actor = require_role(actor, *STAFF)
    department = get_department(session, code)
    if actor.role is Role.elearning:
        return department
    if actor.role is Role.teacher and actor.department_id == department.id:
        return department
    if actor.role is Role.referent and department.id in served_department_ids(session, actor):
        return department
    raise PermissionDenied("Ce département n'est pas le vôtre.")


def _flush_or_conflict(session: Session, message: str) -> None:
    """Flush; a unique violation (a concurrent duplicate) becomes a Conflict for the caller."""
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(message) from None
