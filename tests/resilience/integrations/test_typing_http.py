"""mypy --strict on user code of the HTTP integrations: fallbacks are typed (`HTTPFallback`), the
transports and the adapter take policies or routes, and wrong uses are errors."""

from __future__ import annotations

from pathlib import Path

import mypy.api
import pytest

from tests.paths import ROOT_DIR

ROOT = ROOT_DIR

SNIPPET = """
from typing import Any

import httpx
import requests

from resilience import Policy, load_plan
from resilience.integrations.httpx import (
    HTTPFallback,
    PolicyRoutes,
    ResilientSyncTransport,
    ResilientTransport,
)
from resilience.integrations.requests import ResilientAdapter

plan = load_plan({"version": 1, "system": "s", "mechanisms": {"search": {}}})


def cached(failure: BaseException | object, request: httpx.Request) -> dict[str, Any]:
    return {"results": []}


async def canned(failure: BaseException | object, request: httpx.Request) -> httpx.Response:
    return httpx.Response(200)


def wrong(failure: BaseException | object, request: httpx.Request) -> int:
    return 42


ok: HTTPFallback = cached
ok_async: HTTPFallback = canned
bad: HTTPFallback = wrong  # type: ignore[assignment]

routes = PolicyRoutes(plan, {"search.internal": "search"})
client = httpx.AsyncClient(transport=ResilientTransport(routes))
sync = httpx.Client(transport=ResilientSyncTransport(Policy("p")))
session = requests.Session()
session.mount("https://", ResilientAdapter(routes, pool_maxsize=4))
ResilientTransport("search")  # type: ignore[arg-type]
"""


def test_http_integrations_are_typed_for_user_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "user_code.py"
    source.write_text(SNIPPET)
    monkeypatch.setenv("MYPYPATH", str(ROOT))
    stdout, stderr, status = mypy.api.run(
        ["--strict", "--cache-dir", str(tmp_path / "cache"), "--no-error-summary", str(source)]
    )
    assert (status, stdout, stderr) == (0, "", "")


def test_importing_the_runtime_exporters_and_chaos_imports_no_http_framework() -> None:
    """DESIGN.md: httpx, requests and starlette are optional; only the integrations import them."""
    import subprocess
    import sys

    code = (
        "import sys, resilience, exporters, exporters.asgi, chaos, chaos.admin\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'httpx', 'requests', 'starlette', 'fastapi', 'uvicorn'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
