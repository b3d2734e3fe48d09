"""The hub's own pages, which belong to no single area: home, sign-in, account,
departments, administration, messages, kind words, health, API tokens. Each area keeps its
pages in its own `web` module (`hub/exams/web.py`, `kb/web.py`...); hub/app.py assembles
them all."""
