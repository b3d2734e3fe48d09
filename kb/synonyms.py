"""The search vocabulary the e-learning team edits: synonyms (a term users type -> words to
search too, one way) and concepts (words and phrases that mean the same thing here, searched
every way round: word families and everyday paraphrases)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlmodel import Session, col, select

from hub.errors import Conflict, InvalidInput, NotFound
from hub.i18n import N_, Message
from hub.models import TEAM, User
from hub.people import require_role
from kb.analyzer import analyze, fold
from kb.models import Concept, Synonym

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
    """The starter synonyms and concepts, each into its table when that table is empty;
    how many rows were added."""
    added = 0
    if session.exec(select(Synonym)).first() is None:
        for term, expansion in STARTER_SYNONYMS.items():
            add_synonym(session, term=term, expansion=expansion, actor=None)
        added += len(STARTER_SYNONYMS)
    if session.exec(select(Concept)).first() is None:
        for members in STARTER_CONCEPTS:
            add_concept(session, members="\n".join(members), actor=None)
        added += len(STARTER_CONCEPTS)
    return added


# --- concepts ----------------------------------------------------------------------------

MAX_MEMBERS = 20
MAX_MEMBER_LENGTH = 60
MEMBERS_LENGTH = 600  # Concept.members
MEMBER_SEPARATORS = re.compile(r"[\n,;]+")

# Loaded with the starter synonyms: word families the stemmer does not join (présent and
# présence stem apart) and the everyday ways people name the starter pack's topics.
STARTER_CONCEPTS: tuple[tuple[str, ...], ...] = (
    ("présence", "présent", "présents", "absent", "absence", "assiduité"),
    ("noter", "note", "noté", "coter", "cote", "évaluer", "correction", "corriger"),
    (
        "remettre",
        "remise",
        "rendre un travail",
        "rendre mon travail",
        "rendre un devoir",
        "déposer",
        "dépôt",
        "soumettre",
    ),
    ("devoir", "travail à rendre", "rapport", "TP", "travail écrit"),
    (
        "stress",
        "débordé",
        "surchargé",
        "surmenage",
        "croule",
        "à bout",
        "épuisement",
        "charge de travail",
        "angoisse",
        "moral",
    ),
    ("isolement", "seul", "seule", "solitude", "isolé", "isolée"),
    ("connexion", "connecter", "se connecter", "login", "identifier", "reconnaît"),
    ("compte bloqué", "verrouillé", "bloqué", "trop d'essais", "tentatives"),
    ("enregistrement", "enregistrer", "enregistré", "replay", "rediffusion"),
    ("sous-groupes", "petits groupes", "groupes", "travail de groupe", "breakout"),
    ("inscrire", "inscription", "ajouter des membres", "ajouter des étudiants", "membres"),
    ("micro", "microphone", "grésille", "entend", "entendre", "écho"),
    ("caméra", "webcam", "image", "filmer"),
    ("préparer", "préparation", "checklist", "veille", "avant l'examen"),
    ("distance", "distanciel", "en ligne", "à distance", "remote"),
    ("annonce", "annoncer", "prévenir", "informer", "message aux étudiants", "valves"),
    ("introuvable", "retrouver", "disparu", "perdu"),
    ("support de cours", "syllabus", "ressources", "notes de cours", "slides"),
    ("emprunter", "prêt", "prêter", "louer"),
    ("panne", "plante", "bug", "crash", "ne marche plus", "ne fonctionne plus"),
    ("partage d'écran", "partager mon écran", "montrer mon écran", "projeter"),
    ("transcription", "sous-titres", "retranscription"),
)


def parse_members(members: str) -> list[str]:
    """One expression per line (commas and semicolons separate too), as typed, each once
    (accents and case aside)."""
    kept: dict[str, str] = {}
    for raw in MEMBER_SEPARATORS.split(members):
        member = " ".join(raw.split())
        if member:
            kept.setdefault(fold(member), member)
    return list(kept.values())


def _valid_members(members: str) -> list[str]:
    parsed = parse_members(members)
    problems = []
    if len(parsed) < 2:
        problems.append(N_("Indiquez au moins deux mots ou expressions, un par ligne."))
    if len(parsed) > MAX_MEMBERS:
        problems.append(N_("Vingt mots ou expressions au plus par concept."))
    long = [m for m in parsed if len(m) > MAX_MEMBER_LENGTH]
    if long:
        problems.append(
            Message(N_("« %(member)s » : 60 caractères au plus par ligne."), member=long[0])
        )
    empty = [m for m in parsed if not analyze(m)]
    if empty:
        problems.append(
            Message(
                N_("« %(member)s » ne contient que des mots trop courants pour être cherchés."),
                member=empty[0],
            )
        )
    if len("\n".join(parsed)) > MEMBERS_LENGTH:
        problems.append(N_("La liste est trop longue (600 caractères au plus)."))
    if problems:
        raise InvalidInput(N_("Concept invalide."), {"members": problems[0]})
    return parsed


def list_concepts(session: Session) -> Sequence[Concept]:
    return session.exec(select(Concept).order_by(col(Concept.name))).all()


def add_concept(session: Session, *, members: str, actor: User | None) -> Concept:
    if actor is not None:
        require_role(actor, *TEAM)
    parsed = _valid_members(members)
    name = fold(parsed[0])[:MAX_MEMBER_LENGTH]
    if session.exec(select(Concept).where(Concept.name == name)).first():
        raise Conflict(Message(N_("Un concept commence déjà par « %(name)s »."), name=parsed[0]))
    concept = Concept(name=name, members="\n".join(parsed))
    session.add(concept)
    session.flush()
    return concept


def update_concept(session: Session, *, concept_id: int, members: str, actor: User) -> Concept:
    require_role(actor, *TEAM)
    concept = session.get(Concept, concept_id)
    if concept is None:
        raise NotFound(N_("Concept introuvable."))
    parsed = _valid_members(members)
    name = fold(parsed[0])[:MAX_MEMBER_LENGTH]
    other = session.exec(select(Concept).where(Concept.name == name)).first()
    if other is not None and other.id != concept.id:
        raise Conflict(Message(N_("Un concept commence déjà par « %(name)s »."), name=parsed[0]))
    concept.name = name
    concept.members = "\n".join(parsed)
    session.add(concept)
    session.flush()
    return concept


def delete_concept(session: Session, *, concept_id: int, actor: User) -> None:
    require_role(actor, *TEAM)
    concept = session.get(Concept, concept_id)
    if concept is None:
        raise NotFound(N_("Concept introuvable."))
    session.delete(concept)
    session.flush()
