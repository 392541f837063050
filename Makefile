# The two commands of the README: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test bench lint typecheck install system clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages (scripts/system-packages.txt); a no-op when they are installed.
system:
	bash scripts/install-system-packages.sh

demo: system $(STAMP)
	$(BIN)/harvestguard demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

test: system $(STAMP) lint typecheck
	$(BIN)/pytest

# The benchmarks of docs/: with and without the guard, sinks, simulator (several minutes).
bench: system $(STAMP)
	$(BIN)/python benchmarks/bench_sink.py
	$(BIN)/python benchmarks/bench_simulate.py
	$(BIN)/python benchmarks/bench_guard.py --rounds 5

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
