# `make book` and `make test` are the whole set-up on a fresh machine: each
# creates .venv, installs requirements.txt into it (once, again when the file
# changes) and then builds or checks.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book test lint unit benchmarks clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt
	touch $@

## Build the rendered book into _build/html, strictly: any warning fails.
book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going

## Every check: lint, unit tests and doctests.
test: lint unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: $(STAMP)
	$(BIN)/python -m pytest tests se_tutorial

## Measurements (not tests): results go to benchmarks/results/.
benchmarks: $(STAMP)
	$(BIN)/python benchmarks/se_block_speed.py

clean:
	rm -rf _build .pytest_cache .hypothesis
