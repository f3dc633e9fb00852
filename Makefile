# The README's commands. Each target creates the venv and installs everything it needs.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup grade test lint refresh release clean lab worker hub hub-deps

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python >= 3.11); set PYTHON=..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	@command -v npm >/dev/null || { echo "need npm (Debian: apt-get install nodejs npm) for MathJax in the feedback"; exit 1; }
	npm install --prefix $(VENV)/node --no-audit --no-fund --silent mathjax@3.2.2
	touch $@

## make grade: regenerate the student release, autograde the bundled sample class, print the grades
grade: setup
	$(BIN)/python -m autograder.grade

## make lab: students open the labs in JupyterLab; your copies live in $(LAB_DIR)/
LAB_DIR   ?= work
LAB_FLAGS ?=
lab: setup
	$(BIN)/python -m labs.workspace $(LAB_DIR)
	cd $(LAB_DIR) && jupyter lab $(LAB_FLAGS)

## make worker SCHEDULER=tcp://host:8786: this machine grades for a Dask cluster (README: Grading on a cluster)
worker: setup
	$(if $(SCHEDULER),,$(error set SCHEDULER=tcp://host:port, the Dask scheduler's address))
	$(BIN)/python -m dask worker $(SCHEDULER) --nthreads 1 --preload autograder.job

## make hub (as root): the course on a local JupyterHub, http://127.0.0.1:$(HUB_PORT); see hub/launch.py
HUB_DIR    ?= /srv/rnn-labs
HUB_ROSTER ?= hub/roster.csv
HUB_PORT   ?= 8000
hub: setup hub-deps
	$(BIN)/python -m hub.launch --hub-dir $(HUB_DIR) --roster $(HUB_ROSTER) --port $(HUB_PORT)

## the hub's proxy (configurable-http-proxy, npm) in hub/node_modules
hub-deps: hub/node_modules/.installed
hub/node_modules/.installed: hub/package.json hub/package-lock.json
	npm ci --prefix hub --no-audit --no-fund --loglevel=error
	touch $@

## make test: the whole suite (lint, unit tests, notebooks under nbval, autograding)
test: setup
	$(BIN)/ruff check .
	LABS_QUIET=1 $(BIN)/python -m pytest

## maintainers: re-execute the source notebooks, store their outputs, regenerate release/
refresh: setup
	$(BIN)/python -m tests.notebook_tools refresh source/lab5/lab5.ipynb source/lab6/lab6.ipynb
	$(MAKE) release

release: setup
	$(BIN)/nbgrader generate_assignment lab5 --force
	$(BIN)/nbgrader generate_assignment lab6 --force

clean:
	rm -rf autograder/runs gradebook.db submitted autograded feedback .pytest_cache
