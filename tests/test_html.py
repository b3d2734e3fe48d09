"""tests/html.py reads pages the way a browser shows them (the helpers the page tests rely on)."""

from __future__ import annotations

import httpx
import pytest

from tests import html

PAGE = """<!doctype html>
<html lang="fr"><head><title>Titre de l'onglet</title><script>x = "Bonjour caché";</script></head>
<body>
  <!-- Bonjour en commentaire -->
  <p class="flash">Article <strong>enregistré</strong>.</p><p class="flash">Deuxième</p>
  <ul><li>un</li><li>deux</li></ul>
  <div hidden>Bonjour masqué</div><template><p>Bonjour en modèle</p></template>
  <a href="/kb/a" title="Bonjour en attribut">A</a> <a href="/kb/b">B</a> <a>sans adresse</a>
  <svg class="chart"><title>Visites</title><desc>230 vues</desc></svg>
  <form action="/f" method="post">
    <input type="hidden" name="csrf_token" value="t"><input name="title" value="l&#39;été">
    <input type="checkbox" name="off" value="1"><input type="checkbox" name="on" value="1" checked>
    <select name="kind"><option value="a">A</option><option value="b" selected>B</option></select>
    <textarea name="body">Texte</textarea><input type="submit" name="go" value="Envoyer">
    <input name="gone" value="x" disabled>
  </form>
</body></html>"""


def test_text_is_what_a_reader_sees() -> None:
    seen = html.text(PAGE)
    assert "Article enregistré. Deuxième un deux" in seen  # blocks apart, inline words joined
    for unseen in ("Titre de l'onglet", "caché", "commentaire", "masqué", "modèle", "attribut"):
        assert unseen not in seen
    assert "Visites 230 vues" in seen  # a chart's accessible name and summary
    assert html.text(PAGE, ".flash") == "Article enregistré. | Deuxième"
    assert html.texts(PAGE, ".flash") == ["Article enregistré.", "Deuxième"]
    assert html.texts(PAGE, ".nothing") == []
    with pytest.raises(AssertionError, match="no element matches"):
        html.text(PAGE, ".nothing")


def test_elements_links_and_forms() -> None:
    assert html.links(PAGE) == ["/kb/a", "/kb/b"]
    assert html.one(PAGE, "html")["lang"] == "fr"
    with pytest.raises(AssertionError, match="2 elements match"):
        html.one(PAGE, ".flash")
    assert html.form_values(PAGE, "form[action='/f']") == {
        "csrf_token": "t",
        "title": "l'été",
        "on": "1",
        "kind": "b",
        "body": "Texte",
    }
    assert html.top_level('<section id="feedback"><p>Merci</p></section>\n') == ["section#feedback"]


def test_a_response_must_be_html() -> None:
    page = httpx.Response(200, html="<main><p>Bonjour</p></main>")
    assert html.text(page, "main") == "Bonjour"
    with pytest.raises(AssertionError, match="not an HTML response"):
        html.text(httpx.Response(200, json={"detail": "Bonjour"}))
