# The README's two commands, `make run EXP=mnist` and `make test`, work on a fresh machine: both create
# .venv and install nnlab with its dependencies first (once; re-done when setup.cfg changes).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
EXP ?= mnist
ARGS ?=
PYTEST_ARGS ?=

WORKERS ?= 0
RUNS ?=
PORT ?= 6006

.PHONY: install run tune report bench profile test lint format list clean tensorboard

install: $(INSTALLED)

$(INSTALLED): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $@

run: $(INSTALLED)
	$(BIN)/nnlab run $(EXP) $(ARGS)

tune: $(INSTALLED)
	$(BIN)/nnlab tune $(EXP) $(ARGS) --workers $(WORKERS)

report: $(INSTALLED)
	$(BIN)/nnlab report $(if $(filter command line,$(origin EXP)),--experiment $(EXP)) $(if $(RUNS),--runs $(RUNS))

bench: $(INSTALLED)
	$(BIN)/python benchmarks/bench.py $(ARGS)

profile: $(INSTALLED)
	$(BIN)/python benchmarks/profile_steps.py $(ARGS)

# TensorBoard over one experiment's runs and sweeps (a sweep's HParams dashboard included), on this machine only.
tensorboard: $(INSTALLED)
	$(BIN)/tensorboard --logdir results/$(EXP) --host localhost --port $(PORT)

list: $(INSTALLED)
	$(BIN)/nnlab list

test: $(INSTALLED)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check nnlab experiments tests benchmarks
	$(BIN)/ruff format --check nnlab experiments tests benchmarks

format: $(INSTALLED)
	$(BIN)/ruff format nnlab experiments tests benchmarks
	$(BIN)/ruff check --fix nnlab experiments tests benchmarks

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
