"""A reload never installs a torn file: sealed plans are checked against their trailer, a file still
changing is refused, and a mechanism in use is never dropped unless the file says so."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from resilience import PlanError, load_plan
from resilience import _planfile as planfile  # noqa: TID251 (white-box: the read it fakes)
from resilience.config import PlanFile
from resilience.files import seal


def _policy(minimum_calls: int, max_concurrent: int, attempts: int) -> dict[str, Any]:
    return {
        "timeout": "500ms",
        "retry": {"max_attempts": attempts, "wait": {"kind": "fixed", "wait": "1ms"}},
        "circuit_breaker": {"minimum_calls": minimum_calls, "failure_rate_threshold": 0.5},
        "bulkhead": {"max_concurrent": max_concurrent, "max_wait": "5s"},
        "rate_limiter": {"rate_per_second": 100_000, "burst": 10_000},
    }


PLANS: list[dict[str, Any]] = [
    {
        "version": 1,
        "system": "shop",
        "mechanisms": {"api": _policy(222, 150, 3), "db": _policy(100, 40, 2)},
    },
    {
        "version": 1,
        "system": "shop",
        "mechanisms": {"api": _policy(111, 120, 4), "db": _policy(200, 30, 3)},
    },
]
TEXTS = [seal(yaml.safe_dump(plan, sort_keys=False)) for plan in PLANS]
EXPECTED = [PlanFile.model_validate(plan) for plan in PLANS]


async def test_200_reloads_of_a_plan_written_in_place_install_no_torn_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(TEXTS[0])
    plan = load_plan(path)
    api, db = plan.policy("api"), plan.policy("db")
    rng = random.Random(12)
    done = asyncio.Event()
    completed = 0
    failures: list[BaseException] = []

    @api
    async def call_api() -> int:
        await asyncio.sleep(rng.uniform(0.001, 0.01))
        return 1

    @db
    async def call_db() -> int:
        await asyncio.sleep(rng.uniform(0.001, 0.01))
        return 1

    async def caller(call: Any) -> None:
        nonlocal completed
        while not done.is_set():
            try:
                result = await call()
                completed += result
            except Exception as exc:  # collected, asserted empty below
                failures.append(exc)

    callers = [asyncio.ensure_future(caller(call_api if i % 2 else call_db)) for i in range(50)]
    refused = installed = torn_installs = 0
    for round_ in range(200):
        text = TEXTS[(round_ + 1) % 2]
        cut = rng.randrange(1, len(text) - 1)
        with path.open("w", encoding="utf-8") as file:  # in place, not renamed: can be torn
            file.write(text[:cut])
            file.flush()
            before = plan.plan
            try:
                await plan.areload()  # reads the half-written file, off the event loop
            except PlanError:
                refused += 1
            if plan.plan is not before:
                torn_installs += 1
            file.write(text[cut:])
        await plan.areload()
        installed += 1
        if plan.plan != EXPECTED[(round_ + 1) % 2]:
            torn_installs += 1
        await asyncio.sleep(0.005)  # let the callers run between rounds
    done.set()
    await asyncio.gather(*callers)
    assert (refused, installed, torn_installs) == (200, 200, 0)
    assert failures == []
    assert completed > 1_000
    breaker = plan.config("api").circuit_breaker
    assert breaker is not None and breaker.minimum_calls == 222  # round 200 wrote PLANS[0]


def test_a_torn_sealed_file_says_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(TEXTS[0][: len(TEXTS[0]) // 2])
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    assert str(caught.value) == (
        f"{path}: the file is sealed but has no checksum trailer as its last line: it is "
        "incomplete (still being written?)"
    )
    path.write_text(TEXTS[0].replace("222", "22"))  # edited by hand, trailer kept
    with pytest.raises(PlanError, match="does not match its checksum trailer"):
        load_plan(path)


def _hand_written(path: Path, **api: Any) -> Path:
    path.write_text(yaml.safe_dump({"version": 1, "system": "shop", "mechanisms": {"api": api}}))
    return path


def test_a_reload_never_drops_a_mechanism_in_use_unless_the_file_says_so(tmp_path: Path) -> None:
    policy = _policy(222, 150, 3)
    path = _hand_written(tmp_path / "plan.yaml", **policy)
    plan = load_plan(path)
    api = plan.policy("api")
    # A hand-written file cut short after its retry section: breaker, bulkhead... are gone.
    _hand_written(path, timeout="500ms", retry=policy["retry"])
    with pytest.raises(PlanError) as caught:
        plan.reload()
    assert [field for field, _ in caught.value.problems] == [
        "mechanisms.api.circuit_breaker",
        "mechanisms.api.bulkhead",
        "mechanisms.api.rate_limiter",
    ]
    assert caught.value.problems[0][1] == (
        "missing, but the policy in use has a circuit_breaker (is the file complete?); to remove "
        "it on reload, write 'circuit_breaker: null'"
    )
    assert api.circuit_breaker is not None and api.bulkhead is not None  # nothing changed
    # Said explicitly, it goes: here, and through defaults.
    path.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "system": "shop",
                "mechanisms": {
                    "defaults": {"rate_limiter": None},
                    "api": {
                        "timeout": "500ms",
                        "retry": policy["retry"],
                        "circuit_breaker": None,
                        "bulkhead": None,
                    },
                },
            }
        )
    )
    plan.reload()
    assert api.circuit_breaker is None and api.bulkhead is None and api.rate_limiter is None


def test_a_policy_not_in_use_may_lose_mechanisms(tmp_path: Path) -> None:
    path = _hand_written(tmp_path / "plan.yaml", **_policy(222, 150, 3))
    plan = load_plan(path)
    _hand_written(path, timeout="1s")
    plan.reload()  # nobody asked for "api" yet: nothing in use can lose anything
    assert plan.policy("api").circuit_breaker is None


def test_a_file_that_keeps_changing_while_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _hand_written(tmp_path / "plan.yaml", timeout="1s")
    reads = 0
    real_read = planfile.read_bytes  # type: ignore[attr-defined]

    def growing(*args: Any) -> bytes:
        # A writer appending between every two reads (as a slow copy over the file would).
        nonlocal reads
        reads += 1
        with path.open("a") as file:
            file.write(f"# {reads}\n")
        return real_read(*args)

    monkeypatch.setattr(planfile, "read_bytes", growing)
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    assert str(caught.value) == (
        f"{path}: the file changed during 5 reads in a row: it is still being written (write "
        "plans to a temporary file, then rename it over the plan)"
    )
    assert reads == 5


async def test_areload_reads_and_validates_in_a_worker_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from resilience import plan as plan_module

    path = tmp_path / "plan.yaml"
    path.write_text(TEXTS[0])
    plan = load_plan(path)
    threads: list[threading.Thread] = []
    real_read_plan = plan_module.read_plan  # type: ignore[attr-defined]

    def spy(*args: Any) -> Any:
        threads.append(threading.current_thread())
        return real_read_plan(*args)

    monkeypatch.setattr(plan_module, "read_plan", spy)
    path.write_text(TEXTS[1])
    await plan.areload()
    assert len(threads) == 1 and threads[0] is not threading.main_thread()
    assert plan.plan == EXPECTED[1]


async def test_an_older_read_never_replaces_a_newer_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from resilience import plan as plan_module

    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(TEXTS[0])
    second.write_text(TEXTS[1])
    plan = load_plan(first)
    release = threading.Event()
    real_read_plan = plan_module.read_plan  # type: ignore[attr-defined]

    def slow_for_first(source: Any, *args: Any) -> Any:
        if source == first:
            release.wait(5)  # the first reload's read finishes after the second's install
        return real_read_plan(source, *args)

    monkeypatch.setattr(plan_module, "read_plan", slow_for_first)
    older = asyncio.ensure_future(plan.areload(first))
    await asyncio.sleep(0)
    await plan.areload(second)
    assert plan.plan == EXPECTED[1]
    release.set()
    await older
    assert plan.plan == EXPECTED[1]  # the newer file stays in force


def test_reliability_plan_writes_a_sealed_plan_that_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from planner import cli
    from resilience.files import is_sealed

    target = tmp_path / "plan.yaml"
    assert cli.main(["plan", "examples/ai_gateway/system.yaml", "-o", str(target)]) == 0
    text = target.read_text(encoding="utf-8")
    assert is_sealed(text) and text.splitlines()[-1].startswith("# reliability-os sha256:")
    assert load_plan(target).system == "ai-gateway"
    target.write_text(text[: len(text) // 3], encoding="utf-8")  # as a reader mid-write sees it
    assert cli.main(["validate", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"reliability: error: {target}: the file is sealed but has no checksum trailer as its "
        "last line: it is incomplete (still being written?)"
    ]
