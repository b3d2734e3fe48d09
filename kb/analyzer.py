"""The one French analyzer, used for indexing *and* querying, so both always agree.

Order matters (see the design brief): Unicode NFKD and accent stripping come *before*
stemming, otherwise `accès` and `acces` would stem differently. Then lower-case, split
elisions (l', d', qu'...), drop stopwords, strip a plural `s`, Snowball French stemmer.
The output is only [a-z0-9] tokens, so nothing a user types can reach FTS syntax.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer

_stemmer = Stemmer.Stemmer("french")

TOKEN = re.compile(r"[a-z0-9]+")
# Elided articles and pronouns glued to the next word by an apostrophe (straight or curly).
ELISION = re.compile(r"\b(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|quoiqu)['’]", re.IGNORECASE)

# French stopwords, accents already stripped (the analyzer strips them first).
STOPWORDS = frozenset(
    """
    a au aux avec ce ces cet cette ceci cela ca dans de des du elle elles en et eux il ils je
    j la le les leur leurs lui ma mais me meme mes moi mon ne nos notre nous on ou par pas pour
    qu que qui sa se ses son sur ta te tes toi ton tu un une vos votre vous y l d s t m n c
    est sont etre ai as avons avez ont avoir fait faire comme plus moins tres aussi donc or ni
    car si sans sous chez vers entre apres avant pendant quand comment quoi quel quelle quels
    quelles dont tout tous toute toutes autre autres sa son ici la-bas
    """.split()
)


def fold(text: str) -> str:
    """Lower-case and strip accents (é -> e, œ -> oe), keeping the letters' positions usable."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.lower().replace("œ", "oe").replace("æ", "ae")


def words(text: str) -> list[str]:
    """Folded words with elisions split off, stopwords kept (used for prefixes and snippets)."""
    return TOKEN.findall(ELISION.sub(" ", fold(text)))


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    """Stem one folded word. A final plural `s` goes first: the stemmer keeps it after
    accent folding (`videos` stays `videos`, `vidéos` would not)."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return _stemmer.stemWord(word)


def analyze(text: str) -> list[str]:
    """The terms of a text, in order: what is stored for indexing and what queries match."""
    return [stem(word) for word in words(text) if word not in STOPWORDS]


def analyzed(text: str) -> str:
    """Analyzed text as stored in the search columns (space-separated terms)."""
    return " ".join(analyze(text))
