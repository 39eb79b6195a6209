"""The planner's tests check every mechanism table they derive against the runtime's models."""

from __future__ import annotations

from planner.analysis.mechanisms import check_tables

# on for the whole session: every plan a test builds is one `resilience.load_plan` accepts
check_tables(True)
