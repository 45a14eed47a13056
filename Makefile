# `make book` and `make test` are the whole set-up on a fresh machine: each
# creates .venv, installs requirements.txt into it (once, again when the file
# changes) and then builds or checks.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book test system lint unit slow nbval browser notebooks sync-url benchmarks clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt
	touch $@

## Build the rendered book into _build/html, strictly: any warning fails. Sphinx
## copies book/_static only when a page is rebuilt, so a changed style sheet
## rebuilds them all.
book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going \
		$(if $(shell find book/_static -newer _build/html/_static/phone.css 2>/dev/null),--all)

## Every check: lint, fast and slow tests and doctests, the notebooks under nbval, the built book in a browser.
test: system lint unit slow nbval browser

## The Debian packages the checks need (dataset-fashion-mnist, chromium), installed when
## missing and run as root; otherwise one line names the command to run.
system:
	book/scripts/system_packages.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python book/scripts/sync_repository_url.py --check

## The fast tests and doctests (a minute on two cores): everything but subprocesses, fits and benchmarks.
unit: $(STAMP)
	$(BIN)/python -m pytest tests se_tutorial --ignore=tests/browser -m "not slow"

## The slow ones: command lines in subprocesses, training fits, benchmark smoke modes.
slow: $(STAMP)
	$(BIN)/python -m pytest tests --ignore=tests/browser -m slow

## Run every notebook in a fresh kernel on the smoke budget; outputs marked
## NBVAL_CHECK_OUTPUT must match the stored ones.
nbval: $(STAMP)
	SE_TUTORIAL_BUDGET=smoke $(BIN)/python -m pytest --nbval-lax --nbval-current-env \
		--nbval-sanitize-with notebooks/nbval_sanitize.cfg notebooks/

## The built book in one headless Chromium (Debian's; nothing is downloaded), every
## page in _toc.yml: loads offline without errors, sidebar toggles at 390/1024/1280 px,
## citations match the bibliography's labels, at 1280 px no code box scrolls sideways
## (77 characters fit), at 1280 and 390 px no figure's text is shown below 9 px, at
## 390 px nothing runs off the screen, and every figure has a caption and alt text.
browser: book
	$(BIN)/python -m pytest tests/browser

## Re-execute the notebooks and store their outputs (budget: $$SE_TUTORIAL_BUDGET,
## else brief).
notebooks: $(STAMP)
	$(BIN)/python book/scripts/execute_notebooks.py

## Copy repository.url from _config.yml into the notebooks' Colab set-up cells.
sync-url: $(STAMP)
	$(BIN)/python book/scripts/sync_repository_url.py

## Measurements (not tests): results go to benchmarks/results/.
benchmarks: $(STAMP)
	$(BIN)/python benchmarks/se_block_speed.py
	$(BIN)/python benchmarks/loader_speed.py
	$(BIN)/python benchmarks/budget_times.py
	$(BIN)/python benchmarks/cpu_recipe.py
	$(BIN)/python benchmarks/cpu_levers.py
	$(BIN)/python benchmarks/cpu_se_overhead.py
	$(BIN)/python benchmarks/se_resnet50_cpu.py
	$(BIN)/python benchmarks/ablation_cost.py
	$(BIN)/python benchmarks/ablation_cost.py --sweeps attention

clean:
	rm -rf _build .pytest_cache .hypothesis
