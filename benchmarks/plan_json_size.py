"""Where the JSON plan's bytes go: bytes per component of each part of the document.

The mesh system of `planner_scale.py` is planned and written as JSON through the CLI's streaming
writer; each part's share is the size of its value written compactly (the file's indentation is
the rest), and `keys` is what the field names themselves take. With `--what-if`, it also prints
what changes of the document's *shape* would leave (projections on the parsed document, not
what the planner writes): report sections' lists of records as tables (`{fields, rows}`),
figures as `[value, unit, formula, inputs]`, each figure's derivation (`formula`, `inputs`)
written once in a table of the distinct ones, the figure keeping its value, unit and index, a
failure mode's mechanisms as indices of `report.mechanisms` rows instead of `policy: mechanism`
texts, and all four at once (what is left after all four is the plan's content). The
compact document (the CLI's default) is that shape built, each distinct figure written once:
its projections are not printed.

Run:  .venv/bin/python benchmarks/plan_json_size.py [--size 1000] [--derivations compact,refs,full]
      [--depth 3] [--top 25] [--what-if]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks.planner_scale import mesh  # noqa: E402
from planner.analysis import build_plan  # noqa: E402
from planner.render import render_chunks  # noqa: E402
from planner.spec import parse_spec  # noqa: E402


def _compact(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def parts(document: Any, depth: int) -> tuple[Counter[str], int]:
    """Bytes of each part `depth` levels down (list items summed under `[]`), and of the keys."""
    sizes: Counter[str] = Counter()
    keys = 0

    def walk(value: Any, where: str, level: int) -> None:
        if level > depth:
            return
        sizes[where] += _compact(value)
        if isinstance(value, dict):
            for name, item in value.items():
                walk(item, f"{where}.{name}", level + 1)
        elif isinstance(value, list):
            for item in value:
                walk(item, f"{where}[]", level)

    def count_keys(value: Any) -> None:
        nonlocal keys
        if isinstance(value, dict):
            keys += sum(len(json.dumps(k, ensure_ascii=False).encode()) + 1 for k in value)
            for item in value.values():
                count_keys(item)
        elif isinstance(value, list):
            for item in value:
                count_keys(item)

    walk(document, "", 0)
    count_keys(document)
    return sizes, keys


def _is_figure(value: Any) -> bool:
    """A figure as written, or as `derivations_shared` writes it (its derivation's index)."""
    if not isinstance(value, dict) or "value" not in value or "unit" not in value:
        return False
    return "formula" in value or "derivation" in value


def figures_as_lists(value: Any) -> Any:
    """`value` with each figure written `[value, unit, formula, inputs]` (`[value, unit,
    derivation]` once its derivation is shared)."""
    if _is_figure(value):
        if "derivation" in value:
            return [value["value"], value["unit"], value["derivation"]]
        return [value["value"], value["unit"], value["formula"], value.get("inputs", {})]
    if isinstance(value, dict):
        return {k: figures_as_lists(v) for k, v in value.items()}
    if isinstance(value, list):
        return [figures_as_lists(v) for v in value]
    return value


def records_as_tables(value: Any) -> Any:
    """`value` with each list of records (not figures) written `{fields, rows}`."""
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, dict) and not _is_figure(v) for v in value)
    ):
        fields = list(dict.fromkeys(k for v in value for k in v))
        rows = [[records_as_tables(v.get(k)) for k in fields] for v in value]
        return {"fields": fields, "rows": rows}
    if isinstance(value, dict) and not _is_figure(value):
        return {k: records_as_tables(v) for k, v in value.items()}
    return value


def derivations_shared(report: dict[str, Any]) -> dict[str, Any]:
    """`report` with each figure's `formula` and `inputs` (its derivation) moved to a table of
    the distinct ones, `derivations`, the figure keeping `value`, `unit` and the index."""
    table: dict[str, int] = {}

    def shared(value: Any) -> Any:
        if _is_figure(value):
            key = json.dumps([value["formula"], value.get("inputs", {})], separators=(",", ":"))
            index = table.setdefault(key, len(table))
            return {"value": value["value"], "unit": value["unit"], "derivation": index}
        if isinstance(value, dict):
            return {k: shared(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shared(v) for v in value]
        return value

    out: dict[str, Any] = shared(report)
    out["derivations"] = [json.loads(key) for key in table]
    return out


def mechanisms_as_indices(report: dict[str, Any]) -> dict[str, Any]:
    """`report` with each failure mode's `mechanisms` (`"policy: mechanism"` texts) written as
    the indices of those rows in `report.mechanisms`; a text no row matches is kept as it is."""
    rows = {f"{row['policy']}: {row['mechanism']}": i for i, row in enumerate(report["mechanisms"])}
    modes = [
        {**mode, "mechanisms": [rows.get(m, m) for m in mode.get("mechanisms", ())]}
        for mode in report["failure_modes"]
    ]
    return {**report, "failure_modes": modes}


def every_reshaping(report: dict[str, Any]) -> dict[str, Any]:
    """`report` with all four projections applied."""
    return figures_as_lists(records_as_tables(derivations_shared(mechanisms_as_indices(report))))


def what_if(document: dict[str, Any], n: int) -> None:
    """Bytes per component (compact) of `document` as is and reshaped."""
    tables = {**document, "report": records_as_tables(document["report"])}
    indices = {**document, "report": mechanisms_as_indices(document["report"])}
    shapes = (
        ("as written", document),
        ("records as tables", tables),
        ("figures as lists", figures_as_lists(document)),
        ("both", figures_as_lists(tables)),
        ("derivations shared", {**document, "report": derivations_shared(document["report"])}),
        ("modes' mechanisms as row indices", indices),
        ("all four", {**document, "report": every_reshaping(document["report"])}),
    )
    for label, shaped in shapes:
        print(f"{_compact(shaped) / n / 1000:>7.2f} KB/c  {label} (compact)")
    left = {"mechanisms": _compact(document["mechanisms"])}
    left.update((f"report.{k}", _compact(v)) for k, v in shapes[-1][1]["report"].items())
    largest = sorted(left.items(), key=lambda item: -item[1])[:6]
    print("  all four, largest parts left:")
    print("  " + ", ".join(f"{name} {size / n / 1000:.2f}" for name, size in largest))
    print()


def main() -> None:
    """Print, for each derivations mode, the file's bytes per component and the largest parts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--derivations", default="compact,refs,full")
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--what-if", action="store_true", help="project changes of the document's shape"
    )
    args = parser.parse_args()
    n = args.size
    plan = build_plan(parse_spec(mesh(n), f"<generated mesh {n}>"))
    for mode in args.derivations.split(","):
        text = "".join(render_chunks(plan, "json", None, derivations=mode))
        document = json.loads(text)
        sizes, keys = parts(document, args.depth)
        total = sizes[""]
        print(f"mesh {n}, --derivations {mode}: file {len(text.encode()) / n / 1000:.2f} KB/c")
        print(f"{'KB/c':>7} {'share':>6}  part")
        print(f"{keys / n / 1000:>7.2f} {100 * keys / total:>5.1f}%  (field names, everywhere)")
        for where, size in sorted(sizes.items(), key=lambda item: -item[1])[1 : args.top + 1]:
            print(f"{size / n / 1000:>7.2f} {100 * size / total:>5.1f}%  {where.lstrip('.')}")
        print()
        if args.what_if and mode != "compact":  # projections of a document of records
            what_if(document, n)


if __name__ == "__main__":
    main()
