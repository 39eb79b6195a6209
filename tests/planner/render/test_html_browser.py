"""The HTML report in a real browser: headless Chromium (Debian's `chromium` and
`chromium-driver`, installed by .ci/run) driven by selenium, pages opened from local files.

Each example's report loads with no console error; every picture has a size and is not blank in
a screenshot; selecting a risk-matrix cell lists exactly that cell's modes; the graph's switch
changes its nodes' colours to the with-mechanisms blast radius.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from examples.reports import CHROMEDRIVER, CHROMIUM, EXAMPLES, chromium
from planner import cli
from planner.analysis import build_plan
from planner.render.svg_graph import blast_class
from planner.spec import load_spec
from tests.paths import ROOT_DIR
from tests.png import pixels
from tests.servers import require_binary

pytestmark = pytest.mark.timeout(180)

ROOT = ROOT_DIR


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module (starting one takes seconds)."""
    pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[dev]')")
    require_binary(CHROMIUM)
    require_binary(CHROMEDRIVER)
    with chromium() as driver:
        yield driver


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each example's report, written as `reliability plan SPEC --format html -o DIR/` does."""
    out = tmp_path_factory.mktemp("reports")
    pages = {}
    for example in EXAMPLES:
        directory = out / example
        spec = ROOT / "examples" / example / "system.yaml"
        assert cli.main(["plan", str(spec), "-f", "html", "-o", f"{directory}/"]) == 0
        pages[example] = directory / "index.html"
    return pages


def _open(browser: Any, page: Path) -> list[dict[str, Any]]:
    browser.get(page.resolve().as_uri())
    return [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]


@pytest.mark.parametrize("example", EXAMPLES)
def test_report_loads_with_no_console_error(
    browser: Any, reports: dict[str, Path], example: str
) -> None:
    assert _open(browser, reports[example]) == []
    # the script ran: the hint is there until a cell is selected, every fold is closed
    assert browser.execute_script("return document.querySelectorAll('svg.picture').length") >= 4


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_picture_has_a_size_and_is_not_blank(
    browser: Any, reports: dict[str, Path], example: str
) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, reports[example])
    pictures = browser.find_elements(By.CSS_SELECTOR, "svg.picture")
    names = [p.get_attribute("class").split()[1] for p in pictures]
    assert {"risk-matrix", "dependency-graph", "availability", "failover"} <= set(names)
    for name, picture in zip(names, pictures, strict=True):
        size = picture.size
        assert size["width"] > 100 and size["height"] > 80, (name, size)
        browser.execute_script("arguments[0].scrollIntoView()", picture)
        width, height, counts = pixels(picture.screenshot_as_png)
        assert width > 0 and height > 0
        _background, most = counts.most_common(1)[0]
        drawn = 1 - most / sum(counts.values())
        # a drawn picture: several colours, and more than a sliver of the area off-background
        assert len(counts) > 20 and drawn > 0.03, (name, len(counts), drawn)
        # every picture has its text alternative
        assert picture.find_element(By.TAG_NAME, "desc").get_attribute("textContent").strip()


def test_selecting_a_matrix_cell_lists_its_modes(browser: Any, reports: dict[str, Path]) -> None:
    from selenium.webdriver.common.by import By

    plan = build_plan(load_spec(ROOT / "examples" / "web_shop" / "system.yaml"))
    _open(browser, reports["web_shop"])
    lists = browser.find_elements(By.CSS_SELECTOR, ".cell-modes [data-cell]")
    assert lists and not any(item.is_displayed() for item in lists)  # nothing listed yet
    for cell in (c for c in plan.risk_matrix if c.count):
        key = f"{cell.impact}-{cell.probability}"
        browser.find_element(By.CSS_SELECTOR, f'.risk-matrix .cell[data-cell="{key}"]').click()
        shown = [item for item in lists if item.is_displayed()]
        assert [item.get_attribute("data-cell") for item in shown] == [key]
        text = shown[0].text
        assert all(mode_id in text for mode_id in cell.ids), (key, cell.ids, text)
        others = {m.id for m in plan.failure_modes} - set(cell.ids)
        assert not any(f"{other} " in text for other in others)
        assert f"{cell.count} mode" in text
    assert not browser.find_element(By.CSS_SELECTOR, ".cell-hint").is_displayed()


def test_the_switch_changes_the_graph_colours(browser: Any, reports: dict[str, Path]) -> None:
    from selenium.webdriver.common.by import By

    plan = build_plan(load_spec(ROOT / "examples" / "ai_gateway" / "system.yaml"))
    blast = {row.source: row for row in plan.blast_radius if row.scope == "component"}
    changed = {
        name
        for name, row in blast.items()
        if blast_class(row.users_impacted.value) != blast_class(row.users_impacted_with.value)
    }
    assert changed, "the example's mechanisms change no component's blast radius"
    _open(browser, reports["ai_gateway"])

    def fills() -> dict[str, str]:
        return dict(
            browser.execute_script(
                "return [...document.querySelectorAll('.dependency-graph .node')].map("
                "n => [n.dataset.component, getComputedStyle(n.querySelector('rect')).fill])"
            )
        )

    before = fills()
    browser.find_element(By.CSS_SELECTOR, '.blast-switch button[data-mode="with"]').click()
    after = fills()
    assert {name for name in before if before[name] != after[name]} == changed
    for name in changed:  # the colour of the with-mechanisms bucket, as the legend draws it
        expected = browser.execute_script(
            "return getComputedStyle(document.querySelector("
            "'.dependency-graph .legend-swatch.' + arguments[0])).fill",
            blast_class(blast[name].users_impacted_with.value),
        )
        assert after[name] == expected
    browser.find_element(By.CSS_SELECTOR, '.blast-switch button[data-mode="without"]').click()
    assert fills() == before


def test_the_page_fetches_nothing_and_prints_without_its_controls(
    browser: Any, reports: dict[str, Path]
) -> None:
    _open(browser, reports["web_shop"])
    # one self-contained file: the page loaded no resource besides itself
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        shown = browser.execute_script(
            "return ['nav.toc', '.blast-switch', '.fold-tools'].map("
            "s => getComputedStyle(document.querySelector(s)).display)"
        )
        assert shown == ["none", "none", "none"]
        # the matrix's mode lists are all on paper, no cell needs selecting
        hidden = browser.execute_script(
            "return [...document.querySelectorAll('.cell-modes [data-cell]')]"
            ".filter(d => getComputedStyle(d).display === 'none').length"
        )
        assert hidden == 0
        # printing opens every policy's fold
        browser.execute_script("window.dispatchEvent(new Event('beforeprint'))")
        closed = browser.execute_script(
            "return [...document.querySelectorAll('details.fold')].filter(d => !d.open).length"
        )
        assert closed == 0
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
