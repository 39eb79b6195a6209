"""Type checkers see through our decorators: a decorated function keeps its parameters and its
return type (`@policy`, `@plan.policy(...)`, `@CircuitBreaker(...)`), checked by mypy --strict.

`assert_type` fails when a type is lost (becomes Any); a `# type: ignore[arg-type]` on a wrong call
fails as "unused" (strict mode warns on unused ignores) when the parameters are lost.
"""

from __future__ import annotations

from pathlib import Path

import mypy.api
import pytest

from tests.paths import ROOT_DIR

ROOT = ROOT_DIR

SNIPPET = """
from collections.abc import Coroutine
from typing import Any, assert_type

from resilience import CircuitBreaker, Policy, Retry, load_plan

policy = Policy("p", retry=Retry(max_attempts=2))


@policy
async def fetch(url: str, *, attempts: int = 1) -> bytes:
    return url.encode() * attempts


@policy
def parse(text: str) -> int:
    return int(text)


plan = load_plan({"version": 1, "system": "s", "mechanisms": {"llm": {"timeout": 1}}})


@plan.policy("llm")
async def complete(prompt: str) -> list[str]:
    return [prompt]


@CircuitBreaker("db")
async def query(sql: str) -> dict[str, int]:
    return {sql: 1}


class Client:
    @policy
    async def get(self, key: str) -> float:
        return 1.0


async def use(client: Client) -> None:
    assert_type(fetch("u", attempts=2), Coroutine[Any, Any, bytes]).close()
    assert_type(await fetch("u"), bytes)
    assert_type(parse("1"), int)
    assert_type(await complete("hi"), list[str])
    assert_type(await query("select"), dict[str, int])
    assert_type(await client.get("k"), float)
    await fetch(1)  # type: ignore[arg-type]
    await fetch("u", tries=2)  # type: ignore[call-arg]
    parse(b"1")  # type: ignore[arg-type]
    await complete(prompt=3)  # type: ignore[arg-type]
    await client.get(2)  # type: ignore[arg-type]
"""


def test_decorated_functions_keep_their_signature_for_mypy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "user_code.py"
    source.write_text(SNIPPET)
    monkeypatch.setenv("MYPYPATH", str(ROOT))  # find the checkout's packages, installed or not
    stdout, stderr, status = mypy.api.run(
        ["--strict", "--cache-dir", str(tmp_path / "cache"), "--no-error-summary", str(source)]
    )
    assert (status, stdout, stderr) == (0, "", "")
