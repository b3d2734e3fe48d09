"""The French analyzer: the same terms for what is indexed and what is typed."""

from __future__ import annotations

import pytest

from kb.analyzer import analyze, fold, words


@pytest.mark.parametrize(
    ("typed", "indexed"),
    [
        ("acces", "accès"),
        ("ACCÈS", "accès"),
        ("video", "vidéos"),
        ("examens", "examen"),
        ("enregistrement", "enregistrer"),
        ("reunions", "réunion"),
        ("coeur", "cœur"),
    ],
)
def test_typed_and_indexed_forms_meet(typed: str, indexed: str) -> None:
    assert analyze(typed) == analyze(indexed)


def test_accents_are_folded_before_stemming() -> None:
    # Stemming "accès" before folding would give "acce" on one side and "acces" on the other.
    assert analyze("accès") == analyze("acces") == ["acce"]


def test_elisions_are_split_with_straight_and_curly_apostrophes() -> None:
    assert analyze("l'examen") == analyze("l’examen") == analyze("examen")
    assert analyze("qu'est-ce que c'est") == []  # only stopwords left
    assert analyze("jusqu'à l'accès") == analyze("accès")


def test_stopwords_are_dropped_but_kept_for_prefixes() -> None:
    assert analyze("comment enregistrer une capsule") == analyze("enregistrer capsule")
    assert words("comment enregistrer") == ["comment", "enregistrer"]


def test_output_has_only_plain_lowercase_terms() -> None:
    terms = analyze('Ceci "OR" *NEAR(x) ; DROP TABLE article; -- ÉTÉ 2026 <b>gras</b>')
    assert terms
    assert all(term.isalnum() and term.isascii() and term == term.lower() for term in terms)


def test_fold_strips_accents_and_ligatures() -> None:
    assert fold("Élève Œuvre Æsop ça") == "eleve oeuvre aesop ca"
