"""Names in a plan resolve only against what the service registers (plus a fixed safe set):
a plan never imports a module nor reaches an arbitrary function."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

import resilience
from planner import cli
from resilience import CircuitBreaker, ConfigError, PlanError, Retry, load_plan
from resilience.names import Names, registered, unregister
from tests.paths import ROOT_DIR


class InventoryDown(Exception):
    pass


def is_stale(result: object) -> bool:
    return result == "stale"


def _plan(**policy: Any) -> dict[str, Any]:
    return {"version": 1, "system": "shop", "mechanisms": {"inventory": policy}}


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def side_effect_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A module on sys.path that, if ever imported, leaves a marker file behind."""
    marker = tmp_path / "imported.marker"
    (tmp_path / "planted_by_plan.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\n"
        "class Boom(Exception):\n    pass\n"
        "def check(result):\n    return True\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield marker
    sys.modules.pop("planted_by_plan", None)


def test_a_module_named_in_a_plan_is_never_imported(
    tmp_path: Path, side_effect_module: Path
) -> None:
    path = _write(
        tmp_path / "plan.yaml",
        _plan(
            retry={"retry_on": ["planted_by_plan.Boom"]},
            circuit_breaker={"failure_if_result": "planted_by_plan.check"},
            fallback={"handler": "planted_by_plan.check"},
        ),
    )
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    fields = [field for field, _ in caught.value.problems]
    assert fields == [
        "mechanisms.inventory.retry.retry_on[0]",
        "mechanisms.inventory.circuit_breaker.failure_if_result",
        "mechanisms.inventory.fallback.handler",
    ]
    assert "no exception class is registered under 'planted_by_plan.Boom'" in str(caught.value)
    assert not side_effect_module.exists()
    assert "planted_by_plan" not in sys.modules


def test_validate_checks_a_plan_without_importing_its_names(
    tmp_path: Path, side_effect_module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(
        tmp_path / "plan.yaml",
        _plan(retry={"retry_on": ["planted_by_plan.Boom", "aiohttp.ClientError"]}),
    )
    assert cli.main(["validate", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{path}: valid plan: shop, 1 policy: inventory"
    assert out[1] == (
        f"{path}: names the service must register (load_plan(..., names=...)): planted_by_plan.Boom"
    )
    assert not side_effect_module.exists()
    assert "planted_by_plan" not in sys.modules
    # A misspelt name under a library of the safe set is still an error, with the fix.
    _write(path, _plan(retry={"retry_on": ["aiohttp.ClientErorr"]}))
    assert cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "retry_on[0]: no exception class is registered under 'aiohttp.ClientErorr'" in err
    assert "did you mean 'aiohttp.ClientError'?" in err


@pytest.mark.parametrize("predicate", ["eval", "exit", "os.system", "breakpoint", "builtins.eval"])
@pytest.mark.parametrize("field", ["failure_if_result", "retry_if_result", "if_result", "handler"])
def test_builtins_and_library_functions_are_never_predicates(predicate: str, field: str) -> None:
    section = {
        "failure_if_result": "circuit_breaker",
        "retry_if_result": "retry",
        "if_result": "fallback",
        "handler": "fallback",
    }[field]
    with pytest.raises(PlanError) as caught:
        load_plan(_plan(**{section: {field: predicate}}))
    ((where, problem),) = caught.value.problems
    assert where == f"mechanisms.inventory.{section}.{field}"
    assert problem.startswith(f"no function is registered under {predicate!r}")
    # ... also with stand-ins for unregistered names (reliability validate): never a builtin.
    if "." not in predicate:
        with pytest.raises(PlanError):
            load_plan(_plan(**{section: {field: predicate}}), names=Names(stand_ins=True))


def test_registered_names_reach_the_built_mechanisms() -> None:
    plan = load_plan(
        _plan(
            retry={"retry_on": ["InventoryDown", "aiohttp.ServerDisconnectedError"]},
            circuit_breaker={
                "record_on": ["InventoryDown", "TimeoutError"],
                "failure_if_result": "is_stale",
            },
        ),
        names={"InventoryDown": InventoryDown, "is_stale": is_stale},
    )
    policy = plan.policy("inventory")
    assert isinstance(policy.retry, Retry)
    assert policy.retry.retry_on == (InventoryDown, aiohttp.ServerDisconnectedError)
    assert isinstance(policy.circuit_breaker, CircuitBreaker)
    assert policy.circuit_breaker.record_on == (InventoryDown, TimeoutError)
    assert policy.circuit_breaker.failure_if_result is is_stale


def test_a_list_registers_each_object_under_its_name_and_its_dotted_path() -> None:
    # The README's old spelling (a dotted path) keeps loading once the class is registered.
    dotted = f"{__name__}.InventoryDown"
    plan = load_plan(
        _plan(retry={"retry_on": [dotted, "InventoryDown"], "retry_if_result": "is_stale"}),
        names=[InventoryDown, is_stale],
    )
    retry = plan.policy("inventory").retry
    assert isinstance(retry, Retry)
    assert retry.retry_on == (InventoryDown, InventoryDown)
    assert retry.retry_if_result is is_stale


def test_an_unknown_name_lists_the_registered_ones_and_says_how_to_register() -> None:
    with pytest.raises(PlanError) as caught:
        load_plan(
            _plan(circuit_breaker={"ignore_on": ["myservice.errors.BadPrompt"]}),
            names={"InventoryDown": InventoryDown, "is_stale": is_stale},
        )
    ((where, problem),) = caught.value.problems
    assert where == "mechanisms.inventory.circuit_breaker.ignore_on[0]"
    assert problem.startswith(
        "no exception class is registered under 'myservice.errors.BadPrompt'; plans never import "
        "code: register it, load_plan(..., names={'myservice.errors.BadPrompt': BadPrompt}) or "
        "@resilience.register on BadPrompt; registered: InventoryDown, is_stale; without "
        "registering, a plan may name built-in exceptions"
    )


def test_a_registered_name_of_the_wrong_kind_is_refused() -> None:
    names = {"InventoryDown": InventoryDown, "is_stale": is_stale, "limit": 3}
    with pytest.raises(PlanError, match=r"retry_on\[0\]: expected an exception class, 'is_stale'"):
        load_plan(_plan(retry={"retry_on": ["is_stale"]}), names=names)
    with pytest.raises(PlanError, match="retry_if_result: expected a function, 'limit'"):
        load_plan(_plan(retry={"retry_if_result": "limit"}), names=names)


def test_register_is_process_wide_and_a_decorator() -> None:
    @resilience.register
    class OutOfStock(Exception):
        pass

    try:
        # Defined in a function: no importable dotted path, so only its name is registered.
        assert [n for n, obj in registered().items() if obj is OutOfStock] == ["OutOfStock"]
        retry = load_plan(_plan(retry={"retry_on": ["OutOfStock"]})).policy("inventory").retry
        assert isinstance(retry, Retry) and retry.retry_on == (OutOfStock,)
        with pytest.raises(ConfigError, match="'OutOfStock' is already registered"):
            resilience.register(InventoryDown, name="OutOfStock")
    finally:
        unregister("OutOfStock")
    with pytest.raises(PlanError, match="no exception class is registered under 'OutOfStock'"):
        load_plan(_plan(retry={"retry_on": ["OutOfStock"]}))


def test_two_objects_with_one_name_need_a_mapping() -> None:
    def is_stale_too(result: object) -> bool:
        return False

    is_stale_too.__name__ = "is_stale"
    with pytest.raises(ConfigError, match="two objects are both named 'is_stale'"):
        load_plan(_plan(), names=[is_stale, is_stale_too])


def test_reload_resolves_the_new_file_with_the_same_names(tmp_path: Path) -> None:
    path = _write(tmp_path / "plan.yaml", _plan(retry={"retry_on": ["InventoryDown"]}))
    plan = load_plan(path, names={"InventoryDown": InventoryDown, "is_stale": is_stale})
    policy = plan.policy("inventory")
    _write(path, _plan(retry={"retry_on": ["TimeoutError"], "retry_if_result": "is_stale"}))
    plan.reload()
    assert isinstance(policy.retry, Retry)
    assert policy.retry.retry_on == (TimeoutError,) and policy.retry.retry_if_result is is_stale
    _write(path, _plan(retry={"retry_on": ["planted.Elsewhere"]}))
    with pytest.raises(PlanError, match="registered: InventoryDown, is_stale"):
        plan.reload()
    assert policy.retry.retry_if_result is is_stale  # the old configuration stays


def test_the_example_plan_and_the_planner_output_load_without_names() -> None:
    root = ROOT_DIR
    plan = load_plan(root / "examples" / "ai_gateway" / "plan.yaml")
    assert "llm-primary" in plan


def test_the_readme_plan_loads_once_its_own_exception_is_registered(tmp_path: Path) -> None:
    readme = (ROOT_DIR / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Loading the plan at startup", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    block = block.replace("report: {...}", "report: {}")
    block = block.replace("mechanisms:\n", "mechanisms:\n  llm-common: {}\n", 1)  # its base
    # YAML 1.1 reads the key `on` as True: what plans were read with before.
    assert True in yaml.safe_load(block)["mechanisms"]["llm-primary"]["fallback"]
    path = tmp_path / "plan.yaml"
    path.write_text(block)
    BadPrompt = type("BadPrompt", (Exception,), {})
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    ((where, problem),) = caught.value.problems
    assert where == "mechanisms.llm-primary.circuit_breaker.ignore_on[0]"
    assert "load_plan(..., names={'myservice.errors.BadPrompt': BadPrompt})" in problem
    plan = load_plan(path, names={"myservice.errors.BadPrompt": BadPrompt})
    fallback = plan.config("llm-primary").fallback
    assert fallback is not None and fallback.on == ["aiohttp.ClientError"]
