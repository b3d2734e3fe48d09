"""The synonym table the e-learning team edits: a term users type -> words to search too."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from hub.errors import Conflict, InvalidInput, NotFound
from hub.i18n import N_, Message
from hub.models import TEAM, User
from hub.people import require_role
from kb.analyzer import fold
from kb.models import Synonym

# Loaded by `hub kb import` when the table is empty: what people typed in the first crisis.
STARTER_SYNONYMS = {
    "mdp": "mot de passe",
    "ordi": "ordinateur",
    "pc": "ordinateur",
    "visio": "visioconférence réunion",
    "exam": "examen",
    "wifi": "connexion internet",
    "qcm": "quiz",
    "cam": "webcam caméra",
    "micro": "microphone",
    "prof": "enseignant",
    "zoom": "teams réunion",
    # Belgian and campus words, and everyday ones, for the words the articles use.
    "gsm": "téléphone smartphone",
    "tp": "travail devoir",
    "interro": "test quiz évaluation",
    "kot": "logement chambre",
    "boulot": "travail",
    "logger": "connecter connexion",
    "syllabus": "support de cours",
    "valves": "annonces",
    "auditoire": "salle amphithéâtre",
    "blocus": "révisions étude",
    "session": "examens",
    "épuisé": "stress fatigue",
    "crevé": "stress fatigue",
    "mails": "messages courriels",
}


def list_synonyms(session: Session) -> Sequence[Synonym]:
    return session.exec(select(Synonym).order_by(col(Synonym.term))).all()


def add_synonym(session: Session, *, term: str, expansion: str, actor: User | None) -> Synonym:
    if actor is not None:
        require_role(actor, *TEAM)
    term = " ".join(fold(term).split())
    expansion = " ".join(expansion.split())
    errors = {}
    if not term or len(term) > 60:
        errors["term"] = N_("Le terme est obligatoire (60 caractères au plus).")
    if not expansion or len(expansion) > 200:
        errors["expansion"] = N_("Les mots à chercher aussi sont obligatoires.")
    if errors:
        raise InvalidInput(N_("Synonyme invalide."), errors)
    if session.exec(select(Synonym).where(Synonym.term == term)).first():
        raise Conflict(Message(N_("« %(term)s » a déjà un synonyme."), term=term))
    synonym = Synonym(term=term, expansion=expansion)
    session.add(synonym)
    session.flush()
    return synonym


def delete_synonym(session: Session, *, synonym_id: int, actor: User) -> None:
    require_role(actor, *TEAM)
    synonym = session.get(Synonym, synonym_id)
    if synonym is None:
        raise NotFound(N_("Synonyme introuvable."))
    session.delete(synonym)
    session.flush()


def load_starter_synonyms(session: Session) -> int:
    if session.exec(select(Synonym)).first() is not None:
        return 0
    for term, expansion in STARTER_SYNONYMS.items():
        add_synonym(session, term=term, expansion=expansion, actor=None)
    return len(STARTER_SYNONYMS)
