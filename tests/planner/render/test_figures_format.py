"""How the report writes percentages."""

from __future__ import annotations

import pytest

from planner.render.figures import percent


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (99.95, "99.95%"),
        (99.99996, "99.99996%"),  # never rounded up to 100
        (12.5, "12.5%"),
        (475409.8361, "475,410%"),  # a budget spent thousands of times over: no decimals
        (1000.0, "1,000%"),
    ],
)
def test_percent(value: float, text: str) -> None:
    assert percent(value) == text
