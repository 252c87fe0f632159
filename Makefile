# Two entry points for a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-all lint repro bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: setup
	$(BIN)/jumpup demo

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n auto --dist loadfile

test-all: setup
	$(BIN)/python -m pytest -q -n auto --dist loadfile --run-slow

lint: setup
	$(BIN)/ruff check .

repro: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

bench: setup
	$(BIN)/python benchmarks/bench_synth.py
	$(BIN)/python benchmarks/bench_features.py
	$(BIN)/python benchmarks/bench_growth.py
	$(BIN)/python benchmarks/bench_round.py
	$(BIN)/python benchmarks/bench_round.py --applicants 1070 --reports
	$(BIN)/python benchmarks/bench_ts2000.py

clean:
	rm -rf data/demo data/synthetic data/interim mlruns .pytest_cache
