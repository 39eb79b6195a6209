# One command to run the demo, one to run the tests; both create .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench mutation clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,otel,redis]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m examples.ai_gateway.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check resilience exporters planner chaos tests benchmarks examples
	$(BIN)/ruff format --check resilience exporters planner chaos tests benchmarks examples
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py

# Mutation testing of the mechanisms (mutmut, configured in pyproject.toml); not part of .ci/run:
# it takes far longer than the suite (see the README for the last score and time).
mutation: $(STAMP)
	$(BIN)/mutmut run
	$(BIN)/mutmut results

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache mutants
