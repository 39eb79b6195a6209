"""What the bounded reader (`resilience.files`) costs next to plain PyYAML, and what it refuses.

Side by side on the same text: `yaml.load(Loader=CSafeLoader)` (what the spec loader used
before), `resilience.files.parse_document` (libyaml's parser, plus the depth / alias walk and
string keys), and `yaml.safe_load` (pure Python, what the plan loader used before), for the YAML
of the example plan and of generated specs (benchmarks/planner_scale.py): 1,000 components, and
10,000 with --large. Then the hostile inputs of issue 12: a 1 KB alias bomb under a plan field
and 50,000 nested brackets, each with the time to the error.

Run:  .venv/bin/python benchmarks/bounded_reader.py [--repeat 3] [--large]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from resilience.files import DocumentError, parse_document

sys.path.insert(0, str(Path(__file__).parent))  # the sibling script, run from anywhere
from planner_scale import generate

ROOT = Path(__file__).parent.parent
ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{n}: &{n} [{','.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def timed_error(fn: Callable[[], object]) -> tuple[float, str]:
    start = time.perf_counter()
    try:
        fn()
    except (DocumentError, RecursionError, MemoryError) as exc:
        return time.perf_counter() - start, f"{type(exc).__name__}: {str(exc)[:60]}"
    return time.perf_counter() - start, "accepted"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--large", action="store_true", help="also a 10,000-component spec")
    args = parser.parse_args()
    c_loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    texts = {
        "example plan.yaml": (ROOT / "examples/ai_gateway/plan.yaml").read_text(),
        "1,000-component spec": yaml.safe_dump(generate(1_000), sort_keys=False),
    }
    if args.large:
        texts["10,000-component spec"] = yaml.safe_dump(generate(10_000), sort_keys=False)
    print(
        f"{'document':<24}{'MiB':>7}{'CSafeLoader':>13}{'bounded':>10}{'ratio':>7}{'safe_load':>11}"
    )
    for name, text in texts.items():
        plain = best(lambda t=text: yaml.load(t, Loader=c_loader), args.repeat)  # type: ignore[misc]
        bounded = best(lambda t=text: parse_document(t), args.repeat)  # type: ignore[misc]
        pure = best(lambda t=text: yaml.safe_load(t), 1)  # type: ignore[misc]
        print(
            f"{name:<24}{len(text) / 2**20:>7.2f}{plain:>12.3f}s{bounded:>9.3f}s"
            f"{bounded / plain:>6.2f}×{pure:>10.3f}s"
        )
    print()
    bomb_plan = (
        "bomb:\n"
        + "".join(f"  {line}\n" for line in ALIAS_BOMB.splitlines())
        + "version: 1\nsystem: s\nmechanisms:\n  db:\n    retry: {retry_on: *i}\n"
    )
    deep = "[" * 50_000 + "]" * 50_000
    print(f"{'hostile input':<40}{'bytes':>8}{'time':>12}  result")
    for label, fn, size in (
        ("alias bomb, bounded", lambda: parse_document(bomb_plan), len(bomb_plan)),
        ("50,000 nested [, bounded (YAML)", lambda: parse_document(deep), len(deep)),
        (
            "50,000 nested [, bounded (JSON)",
            lambda: parse_document(deep, json_format=True),
            len(deep),
        ),
        ("50,000 nested [, yaml.safe_load", lambda: yaml.safe_load(deep), len(deep)),
    ):
        elapsed, result = timed_error(fn)
        print(f"{label:<40}{size:>8,}{elapsed * 1000:>10.2f}ms  {result}")


if __name__ == "__main__":
    main()
