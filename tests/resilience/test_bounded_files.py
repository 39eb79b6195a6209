"""Every reader is bounded: size, nesting depth and alias expansion; errors quote ~200 characters;
mapping keys are strings. One reader (`resilience.files`) for plans, specs, experiments, the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from chaos.experiment import ExperimentError, load_experiment
from planner import cli
from planner.errors import SpecError
from planner.spec import load_spec
from resilience import PlanError, load_plan
from resilience.files import (
    MAX_BYTES_ENV,
    BoundedLoaderMixin,
    DocumentError,
    Limits,
    parse_document,
    read_document,
    short_repr,
)

PLAN_HEAD = "version: 1\nsystem: shop\nmechanisms:\n  db:\n"

# 1 KB of YAML that expands to ~10^9 nodes: the classic "billion laughs".
ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{n}: &{n} [{','.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


def _loaders() -> list[Callable[[str], object]]:
    """The library's reader (libyaml's parser when built with it) and the pure-Python one."""

    class PurePython(BoundedLoaderMixin, yaml.SafeLoader):
        pass

    def pure(text: str) -> object:
        loader = PurePython(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()

    return [parse_document, pure]


def test_the_alias_bomb_is_1_kb() -> None:
    assert 300 < len(ALIAS_BOMB) < 1024


@pytest.mark.timeout(10)
@pytest.mark.parametrize("reader", _loaders(), ids=["default", "pure-python"])
def test_an_alias_bomb_is_refused_at_once(reader: Callable[[str], object]) -> None:
    with pytest.raises(
        DocumentError, match=r"YAML aliases expand the document by 490,329,036 nodes"
    ):
        reader(ALIAS_BOMB)


@pytest.mark.timeout(10)
def test_an_alias_bomb_under_a_validated_plan_field_is_a_plan_error(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(
        "bomb:\n"
        + "".join("  " + line + "\n" for line in ALIAS_BOMB.splitlines())
        + PLAN_HEAD
        + "    retry: {retry_on: *i}\n"
    )
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    assert str(caught.value) == (
        f"{path}: YAML aliases expand the document by 926,177,086 nodes, over the limit of "
        "100,000 (an alias bomb?)"
    )


def test_ordinary_anchors_and_merge_keys_still_load() -> None:
    text = "base: &base {timeout: 2s, bulkhead: {max_concurrent: 4}}\na: {<<: *base}\nb: *base\n"
    data = parse_document(text)
    assert data == {
        "base": {"timeout": "2s", "bulkhead": {"max_concurrent": 4}},
        "a": {"timeout": "2s", "bulkhead": {"max_concurrent": 4}},
        "b": {"timeout": "2s", "bulkhead": {"max_concurrent": 4}},
    }
    with pytest.raises(DocumentError, match="refers to a node that contains it"):
        parse_document("a: &a [1, *a]\n")


@pytest.mark.parametrize("reader", _loaders(), ids=["default", "pure-python"])
def test_nesting_is_bounded(reader: Callable[[str], object]) -> None:
    assert reader("a: " + "[" * 99 + "]" * 99) == {"a": eval("[" * 99 + "]" * 99)}
    with pytest.raises(DocumentError, match="nested deeper than 100 levels"):
        reader("a: " + "[" * 100 + "]" * 100)
    with pytest.raises(DocumentError, match="nested deeper than 100 levels"):
        reader("x: &x 1\na: " + "[" * 100 + "]" * 100)  # with an anchor: the graph walk
    with pytest.raises(DocumentError):
        reader("[" * 50_000 + "]" * 50_000)
    with pytest.raises(DocumentError, match="nested deeper than 100 levels"):
        parse_document("[" * 50_000 + "]" * 50_000, json_format=True)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_validate_on_50000_nested_brackets_is_exit_2_with_one_line(
    tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / f"deep{suffix}"
    path.write_text("[" * 50_000 + "]" * 50_000)
    assert cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"reliability: error: {path}: ")
    assert "nest" in err and "internal error" not in err


def test_every_reader_refuses_deep_nesting_with_its_own_error(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text('{"a": ' * 50_000 + "1" + "}" * 50_000)
    with pytest.raises(PlanError, match="nested deeper than 100 levels"):
        load_plan(deep)
    with pytest.raises(SpecError, match="nested deeper than 100 levels"):
        load_spec(deep)
    with pytest.raises(ExperimentError, match="nested deeper than 100 levels"):
        load_experiment(deep)
    assert cli.main(["chaos", "generate", str(deep), "-o", str(tmp_path / "x")]) == 2


def test_a_100_mb_plan_is_refused_by_its_size_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    with path.open("wb") as file:
        file.truncate(100 * 2**20)  # sparse: costs no disk, but reading it would cost 100 MB
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    assert str(caught.value) == (
        f"{path}: the file is 100 MiB, over the 64 MiB limit "
        f"(set {MAX_BYTES_ENV} to read larger files)"
    )
    with pytest.raises(SpecError, match="over the 64 MiB limit"):
        load_spec(path)
    with pytest.raises(ExperimentError, match="over the 64 MiB limit"):
        load_experiment(path)


async def test_areload_of_an_oversized_plan_is_refused_off_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN_HEAD + "    timeout: 1s\n")
    plan = load_plan(path)
    plan.policy("db")
    with path.open("r+b") as file:
        file.truncate(100 * 2**20)
    with pytest.raises(PlanError, match="over the 64 MiB limit"):
        await plan.areload()
    assert plan.config("db").timeout == 1.0


def test_the_size_limit_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN_HEAD + "    timeout: 1s\n" + "# padding\n" * 200)
    assert load_plan(path).names() == ["db"]
    monkeypatch.setenv(MAX_BYTES_ENV, "1KiB")
    with pytest.raises(PlanError, match=r"the file is 2\.\d+ KiB, over the 1 KiB limit"):
        load_plan(path)
    assert load_plan(path, limits=Limits(max_bytes=4096)).names() == ["db"]
    monkeypatch.setenv(MAX_BYTES_ENV, "lots")
    with pytest.raises(PlanError, match=f"{MAX_BYTES_ENV}: expected a positive size"):
        load_plan(path)
    monkeypatch.setenv(MAX_BYTES_ENV, "256MB")
    assert Limits.from_env().max_bytes == 256_000_000


def test_errors_quote_at_most_about_200_characters_of_a_value(tmp_path: Path) -> None:
    huge = "9" * 1_000_000
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN_HEAD + f"    timeout: '{huge}s0'\n    retry: {{max_attempts: '{huge}'}}\n")
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    message = str(caught.value)
    assert len(message) < 1000, message
    # the duration is refused by its length, unquoted; the integer is quoted, cut in the middle
    assert "mechanisms.db.timeout: expected a duration of at most 64 characters" in message
    assert "got '" + "9" * 90 in message and "...999" in message
    spec = tmp_path / "system.yaml"
    spec.write_text(f"system: shop\ntier: standard\ncomponents:\n  - name: '{huge}'\n")
    with pytest.raises(SpecError) as spec_error:
        load_spec(spec)
    assert len(str(spec_error.value)) < 1000, str(spec_error.value)


def test_short_repr_is_bounded_for_shared_structures() -> None:
    data = parse_document("a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a]\n")
    assert isinstance(data, dict)
    text = short_repr([data["b"]] * 1000)
    assert len(text) < 300


def test_mapping_keys_are_strings_values_keep_booleans(tmp_path: Path) -> None:
    data = parse_document("on: 1\noff: 2\nyes: on\nno: [off]\ntrue: false\n404: 5\n~: x\n")
    assert data == {
        "on": 1,
        "off": 2,
        "yes": True,
        "no": [False],
        "true": False,
        "404": 5,
        "~": "x",
    }
    # The README's own fallback section: `on` is a key, so it stays "on".
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN_HEAD + "    critical: yes\n    fallback: {on: [aiohttp.ClientError]}\n")
    plan = load_plan(path)
    fallback = plan.config("db").fallback
    assert fallback is not None and fallback.on == ["aiohttp.ClientError"]
    assert plan.config("db").critical is True
    # ... and in JSON nothing changes: keys are strings already.
    assert read_document(_json(tmp_path, {"on": True})) == {"on": True}


def _json(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(data))
    return path


def test_a_file_that_is_not_utf8_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_bytes(b"version: 1\nsystem: \xff\n")
    with pytest.raises(PlanError, match=r"plan\.yaml: expected UTF-8 text, byte 19 is not$"):
        load_plan(path)


def test_validate_refuses_an_oversized_file_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plan.yaml"
    with path.open("wb") as file:
        file.truncate(100 * 2**20)
    assert cli.main(["validate", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"reliability: error: {path}: the file is 100 MiB, over the 64 MiB limit "
        f"(set {MAX_BYTES_ENV} to read larger files)"
    ]
