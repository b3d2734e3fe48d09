# The README's contract: `make run` and `make test` work from a fresh clone.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export HUB_DATA_DIR ?= var

.PHONY: install lock run test test-fast lint bench i18n clean

# Dependencies come from uv.lock (exact versions and hashes): a fresh clone installs what CI
# tested, not whatever was released overnight. uv itself lives in its own small venv (.tools),
# pinned here; `make lock` upgrades the lock.
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet uv==$(UV_VERSION)

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --quiet --frozen --extra dev --python $(PYTHON)
	touch $(STAMP)

install: $(STAMP)

## Re-resolve every dependency to its newest allowed version (then run `make test`, commit uv.lock)
lock: | $(UV)
	$(UV) lock --upgrade

## Serve the hub with demo data on SQLite (var/hub.sqlite3) at http://127.0.0.1:8000
run: install
	HUB_DEMO=1 $(BIN)/hub db upgrade
	HUB_DEMO=1 $(BIN)/hub demo load
	HUB_DEMO=1 $(BIN)/hub kb import kb/content
	HUB_DEMO=1 $(BIN)/hub serve

## The whole suite, on SQLite and PostgreSQL, browser tests included
test: install
	$(BIN)/python -m pytest -n 2 --dist loadgroup

## The inner loop (about 75 s): SQLite only, no browser, no extra processes, parallel
test-fast: install
	HUB_TEST_BACKENDS=sqlite $(BIN)/python -m pytest -x -q -n 2 -m "not e2e and not slow"

lint: install
	$(UV) lock --check  # uv.lock matches pyproject.toml
	$(BIN)/ruff check .
	$(BIN)/ruff format --check hub kb webinars tests migrations bench
	$(BIN)/mypy
	$(BIN)/lint-imports  # the import contracts in pyproject.toml

bench: install
	$(BIN)/python -m bench

KEYWORDS := -k _ -k N_ -k InvalidInput -k NotFound -k PermissionDenied -k Conflict \
	-k TooManyAttempts -k NotSignedIn -k HubError -k Message -k flash:2
i18n: install
	$(BIN)/pybabel extract -F babel.cfg --no-location --omit-header --sort-output \
		$(KEYWORDS) -o hub/locales/messages.pot .
	$(BIN)/pybabel update -i hub/locales/messages.pot -d hub/locales -l en --no-fuzzy-matching

clean:
	rm -rf $(VENV) $(TOOLS) var .pytest_cache .mypy_cache .ruff_cache
