# One entry point for people and CI. On a fresh machine (Debian, root):
#   make demo   runs the sample repository's pipeline in real containers, then a monorepo's
#   make test   sets everything up, then runs ruff, mypy and the whole test suite
# Each target sets up only what it needs and is fast when it is already there.

VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp

.PHONY: setup venv docker images chromium postgres registry redis compose lint typecheck pytest test demo bench clean

# The store's and engine's tests run on SQLite and on this real PostgreSQL.
TEST_POSTGRES_URL ?= postgresql+psycopg://ci_bot:ci_bot@127.0.0.1:5432/ci_bot_test
export TEST_POSTGRES_URL

setup: venv images chromium

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# A Docker engine: Debian's docker.io, started when `docker info` fails.
docker:
	bash scripts/ensure-docker.sh

# The images tests and the demo run in, made without a registry.
images: docker
	bash scripts/build-images.sh

# Debian's Chromium, which the web UI's browser tests drive through Playwright
# (Playwright's own browser download is never used).
chromium:
	bash scripts/ensure-chromium.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

# Debian's PostgreSQL, started, with the tests' role and database.
postgres:
	bash scripts/ensure-postgres.sh

# Debian's docker-registry and htpasswd: the pull tests start registries on loopback.
registry:
	bash scripts/ensure-registry.sh

# Debian's redis-server: the scaled-out tests start one as Celery's broker.
redis:
	bash scripts/ensure-redis.sh

# Docker Compose (the plugin, or Debian's docker-compose): a test validates deploy/compose.yaml.
compose:
	bash scripts/ensure-compose.sh

pytest: setup postgres registry redis compose
	$(BIN)/pytest

test: setup lint typecheck pytest

# The main job on the embedded defaults: the sample repository's pipeline
# (lint, build, test, sign, deploy) in real containers, drawn live.
DEMO_DATA ?= .ci-bot-data/demo

# The signing key is the sample repository's secret (`ci-bot run DIR` names the
# repository after DIR), made once; an older demo's secrets.env still works.
# Then the monorepo (examples/monorepo), as a push that touched only services/api:
# the plan shows the web service and the shared library's matrix skipped, each
# saying why, and the run builds the rest.
DEMO_CHANGED ?= services/api/app.py
demo: setup
	$(BIN)/ci-bot validate examples/sample-app
	@export CI_BOT_DATA_DIR=$(DEMO_DATA); \
	  $(BIN)/ci-bot secrets list sample-app | grep -q DEMO_SIGNING_KEY || \
	  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' | $(BIN)/ci-bot secrets set sample-app DEMO_SIGNING_KEY
	CI_BOT_DATA_DIR=$(DEMO_DATA) $(BIN)/ci-bot run examples/sample-app --event push --branch main
	$(BIN)/ci-bot plan examples/monorepo --event push --branch main --changed $(DEMO_CHANGED)
	CI_BOT_DATA_DIR=$(DEMO_DATA) $(BIN)/ci-bot run examples/monorepo --event push --branch main \
	  --changed $(DEMO_CHANGED)

# Every benchmark in bench/, each against its baseline in the same process; a table of
# ratios at the end.  BENCH_ARGS=--quick for a smoke run, --only engine logs for some.
BENCH_ARGS ?=
bench: setup postgres
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
