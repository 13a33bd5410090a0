# Two entry points for a fresh machine (see README):
#   make repro   set up the venv, then run the main job (`dvc repro` on the synthetic default)
#   make test    set up the venv, then run the test suite and the linter
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
export DVC_NO_ANALYTICS := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# torch threads per stage: fixed (not "all cores"), so that the same stage gives the same
# floating-point results on machines of this kind. DVC runs stages one at a time.
export POSEBOARD_THREADS ?= 2

.PHONY: setup repro pull method test lint bench clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: any other version pulls gigabytes of CUDA packages.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

setup: $(VENV)/.installed

# dvc runs each stage in a shell: put the venv first on PATH so stages use its python.
# scripts/timed_repro.py runs `dvc repro $(REPRO_ARGS)` and ends with a table of the stages' times
# (also kept, merged over runs, in .dvc/tmp/stage_times.json). Interrupted, run it again: finished
# stages are skipped and an interrupted training resumes from its last saved state.
REPRO_ARGS ?=
repro: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python scripts/timed_repro.py --out .dvc/tmp/stage_times.json -- $(REPRO_ARGS)

# The board's checkpoints that dvc.lock names, from the DVC remote `board` (or those shipped in weights/,
# weights/shipped.json says which), each verified by hash: the training stages are then up to date on any
# CPU kind (docs/pipeline.md); what it could not get, it names.
pull: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/poseboard board pull

# One method ranked against the committed board (issue 39): renders the datasets it reads, checks
# they are the board's task, runs its own DVC stages only, rebuilds the leaderboard with it into
# report/method/ and prints its paired verdicts. `make method NAME=my-method`.
NAME ?=
method: setup
	@test -n "$(NAME)" || { echo "usage: make method NAME=<a method block of params.yaml>"; exit 2; }
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/poseboard method $(NAME)

test: setup
	$(BIN)/ruff check .
	$(BIN)/pytest -q -n 2

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/pytest benchmarks --benchmark-only --benchmark-group-by=group

clean-venv:
	rm -rf $(VENV)
