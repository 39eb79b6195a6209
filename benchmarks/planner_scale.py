"""How long planning takes as a system grows: 100, 1,000 and 10,000 components, 3 dependencies each.

The generated systems are shaped like service meshes: five layers (entry services, two layers of
internal services, data stores, external APIs at the bottom), every component above the bottom
calling 3 components of the next layer (two hard, one soft with a fallback). Wide and shallow like
real systems, so the blast radius and closure sizes stay bounded and the plan's output grows
linearly; a deep chain would make the output itself quadratic (every component lists the whole
chain), whatever the algorithm.

Run:  .venv/bin/python benchmarks/planner_scale.py [--sizes 100,1000,10000] [--repeat 3]
Target: 10,000 components planned in ≤ 5 s, growing near-linearly (µs per component flat).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import time
from typing import Any

from planner.analysis import build_plan
from planner.document import plan_to_dict
from planner.spec import SystemSpec, parse_spec

LAYERS: tuple[tuple[float, tuple[str, ...]], ...] = (
    (0.05, ("service",)),
    (0.25, ("service",)),
    (0.30, ("service", "worker")),
    (0.25, ("database", "cache", "queue", "search", "vector_db")),
    (0.15, ("external_api", "llm_api", "object_storage")),
)
STATEFUL = {"database", "queue", "search", "vector_db"}


def generate(n: int, seed: int = 7) -> dict[str, Any]:
    """A spec document with `n` components, 3 dependencies each (except the bottom layer)."""
    rng = random.Random(seed)
    sizes = [max(1, round(share * n)) for share, _ in LAYERS]
    sizes[-1] = max(1, n - sum(sizes[:-1]))
    layers: list[list[dict[str, Any]]] = []
    index = 0
    for (_, kinds), size in zip(LAYERS, sizes, strict=True):
        layer = []
        for _ in range(size):
            kind = kinds[index % len(kinds)]
            comp: dict[str, Any] = {
                "name": f"{kind.replace('_', '-')}-{index:05d}",
                "kind": kind,
                "replicas": rng.choice((1, 2, 3)),
                "availability": rng.choice((99.5, 99.9, 99.95, 99.99)),
                "latency": {
                    "p50": f"{rng.choice((2, 5, 10, 20))}ms",
                    "p99": f"{rng.choice((20, 80, 300, 900))}ms",
                },
                "zones": ["a", "b", "c"][: rng.choice((1, 2, 3))],
            }
            if kind in STATEFUL:
                comp["data"] = {
                    "stateful": True,
                    "backup_interval": "6h",
                    "replication": "async",
                    "replication_lag": "2s",
                }
            if kind in ("external_api", "llm_api"):
                comp["quota"] = {"rps": 500}
            layer.append(comp)
            index += 1
        layers.append(layer)
    entries = layers[0]
    for comp in entries:
        comp["entry_point"] = True
        comp["traffic_share"] = 1.0 / len(entries)
        comp["rps"] = 50
        comp["latency_budget"] = "3s"
    for upper, lower in itertools.pairwise(layers):
        for comp in upper:
            targets = rng.sample(lower, k=min(3, len(lower)))
            deps = []
            for j, target in enumerate(targets):
                dep: dict[str, Any] = {
                    "target": target["name"],
                    "type": "hard" if j < 2 else "soft",
                }
                if j == 2:
                    dep["fallback"] = "degraded answer"
                deps.append(dep)
            comp["dependencies"] = deps
    components = [c for layer in layers for c in layer]
    return {"version": 1, "system": f"generated-{n}", "tier": "high", "components": components}


def measure(n: int, repeat: int) -> tuple[float, float, float, float, int]:
    """(parse s, build_plan s, build_plan CPU s, plan_to_dict + json s, modes), best of `repeat`.

    CPU time is shown beside wall time: on a shared machine the wall time includes waiting.
    """
    doc = generate(n)
    best = [float("inf")] * 4
    modes = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        spec: SystemSpec = parse_spec(doc, f"<generated {n}>")
        t1 = time.perf_counter()
        c1 = time.process_time()
        plan = build_plan(spec)
        c2 = time.process_time()
        t2 = time.perf_counter()
        json.dumps(plan_to_dict(plan))
        t3 = time.perf_counter()
        took = (t1 - t0, t2 - t1, c2 - c1, t3 - t2)
        best = [min(b, t) for b, t in zip(best, took, strict=True)]
        modes = len(plan.failure_modes)
    return best[0], best[1], best[2], best[3], modes


def main() -> None:
    """Print one row per size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{'components':>10} {'deps':>6} {'modes':>6} {'parse s':>8} {'plan s':>8}"
        f" {'cpu s':>7} {'µs/comp':>8} {'to-json s':>9}"
    )
    for n in (int(s) for s in args.sizes.split(",")):
        parse_s, plan_s, cpu_s, dump_s, modes = measure(n, args.repeat)
        deps = sum(len(c.get("dependencies", ())) for c in generate(n)["components"])
        print(
            f"{n:>10} {deps:>6} {modes:>6} {parse_s:>8.3f} {plan_s:>8.3f} {cpu_s:>7.3f}"
            f" {plan_s / n * 1e6:>8.0f} {dump_s:>9.3f}"
        )


if __name__ == "__main__":
    main()
