# One command to run the demo, one to run the tests; both create .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: demo test lint bench report mutation clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,otel,redis]'
	@touch $(STAMP)

# The demo needs the package and its runtime dependencies only, not the dev tools.
$(DEMO_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	@touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python -m examples.ai_gateway.demo

# -rs: the summary says why each skipped test was skipped (a missing server binary, ...)
test: $(STAMP)
	$(BIN)/python -m pytest -q -rs -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check resilience exporters planner chaos tests benchmarks examples
	$(BIN)/ruff format --check resilience exporters planner chaos tests benchmarks examples
	$(BIN)/mypy

# The example systems' HTML reports (with their runbooks) and full-page screenshots, taken by
# headless Chromium: build/reports/<example>/index.html and build/reports/<example>.png.
report: $(STAMP)
	$(BIN)/python -m examples.reports build/reports

bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py

# Mutation testing of the mechanisms (mutmut, configured in pyproject.toml); not part of .ci/run:
# it takes far longer than the suite (see the README for the last score and time).
mutation: $(STAMP)
	$(BIN)/mutmut run
	$(BIN)/mutmut results

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache mutants
