# The README's two commands, `make run EXP=mnist` and `make test`, work on a fresh machine: both create
# .venv and install nnlab with its dependencies first (once; re-done when setup.cfg changes).
# On a machine with an NVIDIA GPU (nvidia-smi found) they also install TensorFlow's CUDA libraries (the `gpu`
# extra): plain `tensorflow` finds no GPU on Linux unless CUDA is installed system-wide. GPU=1 or GPU=0 decides.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
GPU ?= $(if $(shell command -v nvidia-smi 2>/dev/null),1,0)
COMMA := ,
EXTRAS := test$(if $(filter 1,$(GPU)),$(COMMA)gpu)
# One marker per set of extras, so that switching GPU=1 on later installs the CUDA libraries.
INSTALLED := $(VENV)/.installed-$(subst $(COMMA),-,$(EXTRAS))
EXP ?= mnist
ARGS ?=
PYTEST_ARGS ?=

# Empty: `make tune` passes no --workers, so one given in ARGS is the one that counts.
WORKERS ?=
RUNS ?=
PORT ?= 6006

.PHONY: install run tune report bench profile gpu-check test lint format list clean tensorboard

install: $(INSTALLED)

$(INSTALLED): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[$(EXTRAS)]"
	touch $@

run: $(INSTALLED)
	$(BIN)/nnlab run $(EXP) $(ARGS)

tune: $(INSTALLED)
	$(if $(and $(WORKERS),$(findstring --workers,$(ARGS))),$(error give --workers in ARGS or WORKERS=, not both))
	$(BIN)/nnlab tune $(EXP) $(ARGS) $(if $(WORKERS),--workers $(WORKERS))

report: $(INSTALLED)
	$(BIN)/nnlab report $(if $(filter command line,$(origin EXP)),--experiment $(EXP)) $(if $(RUNS),--runs $(RUNS))

bench: $(INSTALLED)
	$(BIN)/python benchmarks/bench.py $(ARGS)

profile: $(INSTALLED)
	$(BIN)/python benchmarks/profile_steps.py $(ARGS)

gpu-check: $(INSTALLED)
	$(BIN)/python benchmarks/gpu_check.py $(ARGS)

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
