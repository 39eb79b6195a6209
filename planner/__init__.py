"""reliability-os: planner."""
