"""The example systems' HTML reports and their screenshots: `make report`.

`python -m examples.reports [OUT]` writes, for each `examples/*/system.yaml`, the page and its
runbooks into `OUT/<example>/` (`reliability plan SPEC --format html -o OUT/<example>/`) and a
full-page screenshot `OUT/<example>.png` taken by headless Chromium through selenium and the
system's chromedriver (no browser download, no network: the page is a local file).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.parent.name for p in (ROOT / "examples").glob("*/system.yaml"))

#: Where Debian puts the browser and its driver (`apt-get install chromium chromium-driver`).
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")

#: The viewport the screenshots are taken at.
WIDTH, HEIGHT = 1400, 900


def browser_missing() -> str | None:
    """Why the browser cannot run here (a sentence), or None when it can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(path) is None:
            return f"{path} is missing (apt-get install chromium chromium-driver)"
    return None


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium driven by the system chromedriver, its console log kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--window-size={WIDTH},{HEIGHT}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def full_page_png(driver: Any) -> bytes:
    """A screenshot of the whole page (beyond the viewport), as PNG bytes."""
    size = driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1},
        },
    )
    return base64.b64decode(shot["data"])


def write_report(example: str, out: Path) -> Path:
    """`reliability plan examples/<example>/system.yaml --format html -o out/<example>/`."""
    from planner import cli

    directory = out / example
    spec = ROOT / "examples" / example / "system.yaml"
    code = cli.main(["plan", str(spec), "--format", "html", "-o", f"{directory}{os.sep}"])
    if code != 0:
        raise SystemExit(f"reliability plan {spec} exited {code}")
    return directory / "index.html"


def main(argv: list[str] | None = None) -> int:
    """Write every example's report and screenshot into OUT (default build/reports)."""
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else ROOT / "build" / "reports")
    out.mkdir(parents=True, exist_ok=True)
    pages = {example: write_report(example, out) for example in EXAMPLES}
    missing = browser_missing()
    if missing is not None:
        print(f"no screenshots: {missing}", file=sys.stderr)
        return 1
    with chromium() as driver:
        for example, page in pages.items():
            driver.get(page.resolve().as_uri())
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            if errors:
                print(f"{page}: console errors: {json.dumps(errors)}", file=sys.stderr)
                return 1
            png = out / f"{example}.png"
            png.write_bytes(full_page_png(driver))
            print(png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
