"""Where the tests find the repository and their own data, from any folder of tests/."""

from __future__ import annotations

from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent
"""tests/: golden files, promtool cases, schemas."""
ROOT_DIR = TESTS_DIR.parent
"""The repository: examples/, README.md, pyproject.toml."""
