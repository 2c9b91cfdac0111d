# One entry point for people and CI. On a fresh machine (Debian, root):
#   make demo   runs the sample repository's pipeline in real containers
#   make test   sets everything up, then runs ruff, mypy and the whole test suite
# Each target sets up only what it needs and is fast when it is already there.

VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp

.PHONY: setup venv docker images lint typecheck pytest test demo bench clean

setup: venv images

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

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest

test: setup lint typecheck pytest

demo: setup
	$(BIN)/ci-bot validate conducto.cfg.example
	$(BIN)/ci-bot plan conducto.cfg.example --event push --branch main

bench: setup
	$(BIN)/python bench/bench_workspace.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
