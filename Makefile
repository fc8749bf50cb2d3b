# The two commands: `make demo` (the example site on http://127.0.0.1:8000)
# and `make test` (the suite without external services). Both work on a fresh
# clone: they create .venv with the default python3 and install the package
# with its dev dependency group (PEP 735; pip 25.1 or newer) and the example site's
# requirements, again only when pyproject.toml or example_project/requirements.txt changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install: reinstall when pyproject.toml is newer.
INSTALLED := $(VENV)/.installed-dev
MANAGE := $(BIN)/python example_project/manage.py
DEV_KEY := example_project/dev-signing-key.pem
# Tests that need PostgreSQL, Redis, Celery, Chromium or a running example site, and
# the package test (build, install into a fresh virtualenv), run in CI (.ci/run).
NO_SERVICES := not postgres and not redis and not celery and not browser and not walkthrough and not package

# The modules that meet the user model, run once more on an email-only one
# (USERNAME_FIELD is the email, no username field: the most common passwordless
# set-up): the flows, the admin, the commands and the security suite, plus the
# modules that look users up, create them or hand them to a request. About 1,600
# tests, half the CPU time of make test; the rest (tokens, keys, limits, checks,
# emails...) never touches a user. `tox -e email-user` runs the whole suite on it.
EMAIL_USER_TESTS := tests/test_flows.py tests/test_flows_code.py tests/test_admin.py \
	tests/test_command_jwt_email_cleanup.py tests/test_command_jwt_email_keys.py \
	tests/test_command_jwt_email_revoke.py tests/security \
	tests/test_accounts.py tests/test_services.py tests/test_receivers.py \
	tests/test_authentication.py tests/test_testing.py tests/test_adapter.py

.PHONY: help install demo test test-email-user lint docs coverage messages

help:
	@echo "make demo   run the example site on http://127.0.0.1:8000 (sign in via /signin/, emails in /outbox/)"
	@echo "make test   run the test suite without external services"
	@echo "make lint   ruff, ruff format --check, mypy, import-linter layers, makemigrations --check (both user models), translation catalogs"
	@echo "make docs   build the documentation site into docs/_build/html (warnings fail)"
	@echo "make messages  update the translation catalogs (makemessages, compilemessages; needs gettext)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml example_project/requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --upgrade "pip>=25.1"
	$(BIN)/python -m pip install -e . --group dev -r example_project/requirements.txt
	touch $@

install: $(INSTALLED)

# A development signing key, made once and git-ignored; never used in production.
$(DEV_KEY): | $(INSTALLED)
	$(MANAGE) jwt_email_keys generate --algorithm ES256 --kid dev --output $@
	@echo "(example_project/site_config/settings.py already points JWT_EMAIL_KEY_FILE at it)"

demo: $(INSTALLED) $(DEV_KEY)
	$(MANAGE) migrate --noinput
	@echo
	@echo "  Open http://127.0.0.1:8000/signin/, ask for a link, and find it in http://127.0.0.1:8000/outbox/"
	@echo
	$(MANAGE) runserver 127.0.0.1:8000

# Branch coverage of the package, reported at the end (coverage.py settings in
# pyproject.toml). CI combines this run's data with the service tests' own, and
# holds the branches to a floor there (scripts/coverage_floor.py), not here.
test: $(INSTALLED)
	$(BIN)/python -m coverage erase
	$(BIN)/python -m coverage run -m pytest -m "$(NO_SERVICES)"
	$(BIN)/python -m coverage combine -q
	$(BIN)/python -m coverage report
	$(BIN)/python scripts/coverage_floor.py 0

# CI's second run (after make test: it adds to its coverage data).
test-email-user: $(INSTALLED)
	$(BIN)/python -m coverage run -m pytest --ds=tests.settings_email_user -m "$(NO_SERVICES)" $(EMAIL_USER_TESTS)

# The documentation site, offline and strict: a warning (a broken reference, a
# missing page) fails the build. Open docs/_build/html/index.html.
docs: $(INSTALLED)
	$(BIN)/python -m sphinx -E -W --keep-going -n -q -b html docs docs/_build/html

# Every check runs, even after a failure, so one run shows all the problems.
lint: $(INSTALLED)
	@status=0; \
	for check in "$(BIN)/ruff check ." \
	             "$(BIN)/ruff format --check ." \
	             "$(BIN)/mypy django_jwt_email" \
	             "$(BIN)/lint-imports" \
	             "$(BIN)/python -m django makemigrations --check --dry-run --settings=tests.settings" \
	             "$(BIN)/python -m django makemigrations --check --dry-run --settings=tests.settings_email_user" \
	             "$(BIN)/python scripts/messages.py check"; do \
		echo "$$check"; $$check || { status=1; echo "^^^ FAILED: $$check"; }; \
	done; \
	exit $$status

# The catalogs of django_jwt_email/locale and example_project/locale: new marked
# strings appear untranslated (then `make lint` fails until they are translated),
# strings no longer marked are dropped, and every catalog is compiled again.
messages: $(INSTALLED)
	$(BIN)/python scripts/messages.py update

# --- benchmarks (benchmarks/README.md) --------------------------------------------
# `make bench`: the full suite on PostgreSQL and SQLite (~9 minutes on 2 cores, ~12
# on a fresh clone), writes benchmarks/results.md; `make bench-quick`: small sizes,
# short runs (~1.5 minutes). PostgreSQL on 127.0.0.1:5432 (user postgres): the runs
# create and drop their own databases (djwe_bench_*); each run starts its own
# redis-server. Their own virtualenv holds the peers (simplejwt, django-sesame),
# gunicorn, psycopg and Celery beside this app; wrk comes from Debian (or a
# bounded Python generator).
BENCH_VENV := .bench-venv
BENCH_INSTALLED := $(BENCH_VENV)/.installed
BENCH_ARGS ?=

.PHONY: bench bench-quick

$(BENCH_INSTALLED): pyproject.toml benchmarks/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	echo '*' > $(BENCH_VENV)/.gitignore
	$(BENCH_VENV)/bin/python -m pip install --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install -e . -r benchmarks/requirements.txt
	touch $@

bench: $(BENCH_INSTALLED)
	sh benchmarks/ensure-wrk.sh
	$(BENCH_VENV)/bin/python -m benchmarks.run --snapshot --label "make bench" $(BENCH_ARGS)

bench-quick: $(BENCH_INSTALLED)
	sh benchmarks/ensure-wrk.sh
	$(BENCH_VENV)/bin/python -m benchmarks.run --quick --label "make bench-quick" $(BENCH_ARGS)
