"""A deterministic corpus of generated French articles for the search benchmark.

Real material first: the starter pack's titles, headings, paragraphs, list items, sentences
and tags are recombined, so the head of the term distribution is that of real help articles.
Then a long tail, as a real knowledge base grows one: course names from a list of French
disciplines, people, rooms, course codes, and proper nouns (local tools, buildings, projects)
drawn from a Zipf law over a pool of pronounceable made-up words, so the vocabulary keeps
growing with the number of articles (Heaps' law) instead of saturating at the pack's ~4,000
terms. Everything comes from one seeded `random.Random`: the same seed gives the same corpus.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kb.articles import ArticleInput
from kb.importer import parse_file

DISCIPLINES = """
algèbre linéaire|analyse numérique|anatomie|anthropologie|archéologie|architecture|
astrophysique|biochimie|biologie cellulaire|biologie moléculaire|botanique|chimie analytique|
chimie organique|cinéma|communication|comptabilité|criminologie|cristallographie|démographie|
design graphique|didactique|droit administratif|droit civil|droit constitutionnel|
droit du travail|droit européen|droit pénal|écologie|économétrie|économie politique|électronique|
électrotechnique|épidémiologie|ergonomie|éthique|ethnologie|finance d'entreprise|
fiscalité|génétique|géographie humaine|géologie|géométrie|gestion de projet|histoire ancienne|
histoire contemporaine|histoire de l'art|histoire médiévale|hydrologie|immunologie|
informatique|intelligence artificielle|journalisme|kinésithérapie|langues anciennes|
linguistique|littérature comparée|logistique|logopédie|macroéconomie|management|marketing|
mathématiques discrètes|mécanique des fluides|mécanique quantique|microbiologie|
microéconomie|musicologie|neurosciences|nutrition|océanographie|optique|pharmacologie|
philosophie|photographie|physiologie|physique statistique|physique des matériaux|
psychologie clinique|psychologie sociale|relations internationales|résistance des matériaux|
santé publique|sciences de l'éducation|sciences politiques|sémiologie|sociologie|
statistique|thermodynamique|toxicologie|traduction|urbanisme|virologie|zoologie
"""
LEVELS = ["bachelier 1", "bachelier 2", "bachelier 3", "master 1", "master 2", "doctorat"]
FIRST_NAMES = """Adèle Agathe Alice Amandine Anaïs Antoine Arnaud Aurélie Baptiste Bastien
Benoît Camille Céline Charlotte Chloé Clément Damien Delphine Élodie Émilie Étienne Fabien
Florence François Gaëlle Guillaume Hélène Hugo Inès Isabelle Jérôme Julie Julien Karim Laure
Léa Lucas Manon Marc Margaux Mathieu Maxime Nadia Nicolas Noémie Olivier Pascal Pauline
Quentin Raphaël Romain Sabrina Samuel Sophie Thibault Thomas Valérie Vincent Yasmine Zoé""".split()
LAST_NAMES = """Adam Bernard Bertrand Blanc Bonnet Boyer Brun Chevalier Clément Colin Dubois
Dumont Dupont Durand Fabre Fontaine Fournier Gaillard Garnier Gauthier Girard Guérin Henry
Lambert Laurent Lefèbvre Legrand Lemaire Leroy Lucas Marchand Martin Masson Mercier Meunier
Michel Moreau Morel Nicolas Perrin Petit Picard Renard Richard Robert Robin Roussel Roux
Simon Vincent Willems Peeters Janssens Maes Jacobs Mertens Claes Goossens Wouters""".split()
TOOLS = """Teams|Moodle|Zoom|OBS Studio|PowerPoint|OneDrive|Wooclap|Forms|Stream|Panopto|
Kahoot|Mentimeter|Padlet|Compilatio|Excel|Word|SharePoint|Outlook|Webex|Jitsi""".split("|")

# Sentences that tie the tail vocabulary to the recombined text.
TEMPLATES = [
    "Dans le cours de {discipline} ({level}), l'équipe utilise surtout {tool}.",
    "Pour l'unité {code} en {discipline}, prévenez {person} avant de publier.",
    "Le secrétariat du bâtiment {Proper}, local {room}, prête du matériel aux enseignants.",
    "Exemple vécu en {discipline} : les étudiants de {level} ont préféré {tool} à {tool2}.",
    "Le projet {Proper} du service {Proper2} propose un modèle adapté à la {discipline}.",
    "Question fréquente en {discipline} : comment {verb} sans {noun} ?",
    "Contact : {person}, cellule {Proper}, poste {number}.",
    "La plateforme {Proper} remplace {tool} pour les groupes de {level} depuis {year}.",
    "Voir aussi la fiche « {heading} » de l'équipe {Proper}.",
    "Les travaux pratiques de {discipline} se déroulent à {Proper} ({room}) ou à distance.",
]
VERBS = """enregistrer partager publier corriger évaluer planifier organiser animer vérifier
déposer rendre présenter noter archiver sauvegarder convertir compresser installer""".split()
NOUNS = """connexion micro caméra casque tablette licence compte mot de passe tableau
diaporama lien salle quiz devoir rubrique consigne grille rapport""".split()

ONSETS = "b c d f g j l m n p r s t v ch br cl cr dr fl gr pl pr tr vr".split()
VOWELS = "a e i o u ou ai au eu an on in é è".split()
CODAS = ["", "", "", "r", "l", "s", "n", "x", "t"]
SUFFIXES = ["", "", "ia", "ix", "ville", "mont", "ence", "ier", "ac", "heim", "is", "ane"]
KINDS = {"tutorial": 50, "guide": 30, "checklist": 15, "video": 5}
AUDIENCES = {"teacher": 50, "student": 25, "everyone": 12, "referent": 8, "elearning": 5}
STATUSES = {"published": 90, "draft": 7, "archived": 3}
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+(?:\[[ xX]\]\s+)?")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
DEPARTMENTS = ["SCI", "DROIT", "LETTRES", "MED", "ECO", "ARCHI", "PSY", "INGE"]


@dataclass
class Material:
    titles: list[str]
    headings: list[str]
    paragraphs: list[str]
    items: list[str]
    sentences: list[str]
    tags: list[str]
    summaries: list[str]


def load_material(directory: Path) -> Material:
    """Cut the starter pack into reusable pieces (links dropped: they point to real slugs)."""
    material = Material([], [], [], [], [], [], [])
    for path in sorted(directory.glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        article = parse_file(path)
        material.titles.append(article.title)
        material.tags.extend(article.tags)
        if article.summary:
            material.summaries.append(article.summary)
        body = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", article.body)
        for block in re.split(r"\n\s*\n", body):
            block = block.strip()
            if not block:
                continue
            if block.startswith("#"):
                material.headings.append(block.lstrip("#").strip().split("\n")[0])
                rest = block.split("\n", 1)[1:] if "\n" in block else []
                block = rest[0].strip() if rest else ""
                if not block:
                    continue
            if block.startswith("|"):  # tables stay in their article
                continue
            prose = []
            for line in block.split("\n"):
                if LIST_ITEM.match(line):
                    item = LIST_ITEM.sub("", line).strip()
                    if item:
                        material.items.append(item)
                elif line.strip():
                    prose.append(line.strip())
            if prose:
                text = " ".join(prose)
                material.paragraphs.append(text)
                material.sentences.extend(s for s in SENTENCE_END.split(text) if len(s) > 20)
    return material


def _pseudo_word(rng: random.Random) -> str:
    syllables = "".join(
        rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS)
        for _ in range(rng.choice([2, 2, 3, 3, 4]))
    )
    return (syllables + rng.choice(SUFFIXES)).capitalize()


class Generator:
    def __init__(self, material: Material, seed: int = 2024, tail_size: int = 40_000):
        self.m = material
        self.rng = random.Random(seed)
        words: dict[str, None] = {}
        while len(words) < tail_size:
            words[_pseudo_word(self.rng)] = None
        self.tail = list(words)
        # Zipf (s = 1.05): a few proper nouns are everywhere, most appear once or twice.
        self.tail_weights = list(
            itertools.accumulate(1 / (r**1.05) for r in range(1, tail_size + 1))
        )
        self.disciplines = [d.strip() for d in DISCIPLINES.split("|") if d.strip()]

    def _weighted(self, table: dict[str, int]) -> str:
        return self.rng.choices(list(table), weights=list(table.values()))[0]

    def proper(self) -> str:
        return self.rng.choices(self.tail, cum_weights=self.tail_weights)[0]

    def tail_sentence(self) -> str:
        rng = self.rng
        return rng.choice(TEMPLATES).format(
            discipline=rng.choice(self.disciplines),
            level=rng.choice(LEVELS),
            tool=rng.choice(TOOLS),
            tool2=rng.choice(TOOLS),
            code=f"{self.proper()[:4].upper()}-{rng.choice('BM')}{rng.randint(100, 999)}",
            person=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            Proper=self.proper(),
            Proper2=self.proper(),
            room=f"{rng.choice('ABCDEFGH')}.{rng.randint(0, 4)}.{rng.randint(1, 60):02d}",
            verb=rng.choice(VERBS),
            noun=rng.choice(NOUNS),
            number=rng.randint(2000, 9999),
            year=rng.randint(2015, 2026),
            heading=rng.choice(self.m.headings),
        )

    def paragraph(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.45:
            text = rng.choice(self.m.paragraphs)
        else:  # sentences from different articles, as someone rewriting a help page would
            text = " ".join(rng.sample(self.m.sentences, rng.randint(2, 5)))
        for _ in range(rng.choice([0, 1, 1, 1, 2])):
            text += " " + self.tail_sentence()
        return text

    def article(self, number: int) -> ArticleInput:
        rng = self.rng
        kind = self._weighted(KINDS)
        discipline = rng.choice(self.disciplines)
        base = rng.choice(self.m.titles)
        title = rng.choice(
            [
                f"{base} en {discipline}",
                f"{base} ({self.proper()})",
                f"{rng.choice(self.m.headings)} : {discipline}",
                f"{base} – {rng.choice(LEVELS)}",
                f"{rng.choice(VERBS).capitalize()} avec {rng.choice(TOOLS)} en {discipline}",
            ]
        )[:200]
        sections = []
        for _ in range(rng.randint(2, 5)):
            lines = [f"## {rng.choice(self.m.headings)}", ""]
            for _ in range(rng.randint(1, 3)):
                lines += [self.paragraph(), ""]
            if kind == "checklist" or rng.random() < 0.3:
                box = "[ ] " if kind == "checklist" else ""
                lines += [f"- {box}{item}" for item in rng.sample(self.m.items, rng.randint(3, 7))]
                lines.append("")
            sections.append("\n".join(lines))
        tags = list(dict.fromkeys(rng.sample(self.m.tags, rng.randint(2, 6))))
        tags += [discipline, self.proper()][: rng.randint(0, 2)]
        department = rng.choice(DEPARTMENTS) if rng.random() < 0.35 else None
        return ArticleInput(
            slug=f"gen-{number:05d}",
            title=title,
            kind=kind,
            audience=self._weighted(AUDIENCES),
            body="\n".join(sections),
            summary=rng.choice(self.m.summaries)[:400] if rng.random() < 0.8 else "",
            tags=[t[:40] for t in tags[:20]],
            department=department,
            status=self._weighted(STATUSES),
        )

    def articles(self, count: int) -> Iterator[ArticleInput]:
        for number in range(1, count + 1):
            yield self.article(number)
