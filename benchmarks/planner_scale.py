"""How long planning takes, and how much memory, as a system grows and changes shape.

Shapes (`--shape`, one or several, comma-separated):

- mesh: five layers (entry services, two layers of internal services, data stores, external APIs
  at the bottom), every component above the bottom calling 3 components of the next layer (two
  hard, one soft with a fallback). Wide and shallow like real systems.
- chain: one entry service calling the next, n deep, a database at the bottom: every component's
  outage takes down the whole chain above it (the blast rows list their first names and count
  the rest, or the output itself would be quadratic).
- star: a hub database called by n − 2 entry services, and one more entry service calling all
  of them: one component with very many callers, one with very many dependencies.
- tree: a binary tree of services, the root the entry point, hard edges down to the leaves.
- islands: n / 1,000 copies of the 1,000-component mesh, one after another in the spec, no edge
  between them (they share only the zones a, b, c).
- shuffled: the islands' components in a random order.

  The islands do the mesh's work per component, but each component's dependencies are near it
  in memory (islands) or anywhere (shuffled, and the mesh itself, whose edges join random
  components of a layer): the difference is what the memory's locality costs, not the planner's
  algorithms.

Each (shape, size) runs in a fresh subprocess so that its peak resident memory (`ru_maxrss`) is
its own: the spec is parsed, the plan built, then written as JSON (and, with `--outputs`, YAML
and text) through the CLI's streaming writer into a temporary directory.

With `--validate`, each row also times `reliability validate FILE` on the spec written as JSON,
the whole command as a user runs it (Python's start and imports included): wall seconds, the
median of 3 runs after one that is not timed. Those runs cache their bytecode in a temporary
directory (PYTHONPYCACHEPREFIX), as an installed package has it, even where
PYTHONDONTWRITEBYTECODE is set.

With `--load`, each row also times `resilience.load_plan` on the JSON plan written (CPU
seconds, in the same process: what a service pays at startup).

With `--repeat N`, each step (the plan, each output, the load) runs N times in the row's
process and each time column is the least of them: a column and the plan's are taken in the same
minutes, so their ratio holds on a machine whose speed drifts; after the first run the process is
warm (caches filled, memory touched), as the first run is not.

`cpu s` is the planning's CPU time, `sys s` the kernel's share of it (on the build machine, a
virtual machine, mostly handing out fresh memory: see the README's "Where the growth goes").

Run:  .venv/bin/python benchmarks/planner_scale.py [--shape mesh,chain] [--sizes 1000,10000]
      [--outputs json,yaml,text] [--derivations compact|refs|full|none] [--validate] [--load]
      [--repeat 3]
Targets: mesh CPU µs per component (`cpu µs/c`: CPU time, which holds on a shared machine) within
1.3× from 1,000 to 100,000; 100,000 planned in ≤ 20 s and planned + written as JSON in ≤ 6 GB;
each output written in at most the planning time; a 5,000-deep chain planned in ≤ 5 s and
validated in ≤ 1 s.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

# The writers' modules are imported before anything is timed, as the planner's are: an output's
# figure is its writing, not Python loading its renderer (0.03–0.05 s, a tenth of the text
# report's time at 1,000 components).
import planner.document  # noqa: E402
import planner.render.markdown  # noqa: E402
import planner.render.stream  # noqa: E402
import planner.render.text  # noqa: E402, F401
from planner.analysis import build_plan  # noqa: E402
from planner.cli.output import write_chunks  # noqa: E402
from planner.figure import DERIVATIONS  # noqa: E402
from planner.render import render_chunks  # noqa: E402
from planner.spec import parse_spec  # noqa: E402
from resilience import load_plan  # noqa: E402

LAYERS: tuple[tuple[float, tuple[str, ...]], ...] = (
    (0.05, ("service",)),
    (0.25, ("service",)),
    (0.30, ("service", "worker")),
    (0.25, ("database", "cache", "queue", "search", "vector_db")),
    (0.15, ("external_api", "llm_api", "object_storage")),
)
STATEFUL = {"database", "queue", "search", "vector_db"}
SHAPES = ("mesh", "chain", "star", "tree", "islands", "shuffled")
#: Components in each island of the `islands` and `shuffled` shapes (one mesh each).
ISLAND = 1000


def _component(rng: random.Random, kind: str, index: int) -> dict[str, Any]:
    comp: dict[str, Any] = {
        "name": f"{kind.replace('_', '-')}-{index:06d}",
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
    return comp


def _uniform(comps: list[dict[str, Any]]) -> None:
    """One latency for every component: in a deep shape a random one would make many callers
    faster than their hard dependency, which the spec check warns about once per component."""
    for comp in comps:
        comp["latency"] = {"p50": "2ms", "p99": "20ms"}


def _entries(entries: list[dict[str, Any]]) -> None:
    for comp in entries:
        comp["entry_point"] = True
        comp["traffic_share"] = 1.0 / len(entries)
        comp["rps"] = 50
        comp["latency_budget"] = "30s"


def _doc(shape: str, n: int, components: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": 1, "system": f"{shape}-{n}", "tier": "high", "components": components}


def mesh(n: int, seed: int = 7) -> dict[str, Any]:
    """A spec document with `n` components, 3 dependencies each (except the bottom layer)."""
    rng = random.Random(seed)
    sizes = [max(1, round(share * n)) for share, _ in LAYERS]
    sizes[-1] = max(1, n - sum(sizes[:-1]))
    layers: list[list[dict[str, Any]]] = []
    index = 0
    for (_, kinds), size in zip(LAYERS, sizes, strict=True):
        layer = []
        for _ in range(size):
            layer.append(_component(rng, kinds[index % len(kinds)], index))
            index += 1
        layers.append(layer)
    _entries(layers[0])
    for comp in layers[0]:
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
    return _doc("mesh", n, [c for layer in layers for c in layer])


def chain(n: int, seed: int = 7) -> dict[str, Any]:
    """An entry service → n − 2 services → a database, each calling the next (hard)."""
    rng = random.Random(seed)
    comps = [_component(rng, "service", i) for i in range(n - 1)]
    comps.append(_component(rng, "database", n - 1))
    for upper, lower in itertools.pairwise(comps):
        upper["dependencies"] = [{"target": lower["name"], "type": "hard"}]
    _uniform(comps)
    _entries(comps[:1])
    return _doc("chain", n, comps)


def star(n: int, seed: int = 7) -> dict[str, Any]:
    """A hub database with n − 2 entry services calling it, and one entry calling all of them."""
    rng = random.Random(seed)
    hub = _component(rng, "database", 0)
    spokes = [_component(rng, "service", i) for i in range(1, n - 1)]
    fan = _component(rng, "service", n - 1)
    for spoke in spokes:
        spoke["dependencies"] = [{"target": hub["name"], "type": "hard"}]
    fan["dependencies"] = [{"target": s["name"], "type": "soft"} for s in spokes]
    _uniform([hub, *spokes, fan])
    _entries([*spokes, fan])
    return _doc("star", n, [hub, *spokes, fan])


def tree(n: int, seed: int = 7) -> dict[str, Any]:
    """A binary tree of n services (heap order), the root the entry, hard edges to children."""
    rng = random.Random(seed)
    comps = [_component(rng, "service", i) for i in range(n)]
    for i, comp in enumerate(comps):
        children = [c for c in (2 * i + 1, 2 * i + 2) if c < n]
        if children:
            comp["dependencies"] = [{"target": comps[c]["name"], "type": "hard"} for c in children]
    _uniform(comps)
    _entries(comps[:1])
    return _doc("tree", n, comps)


def islands(n: int, seed: int = 7) -> dict[str, Any]:
    """n / ISLAND copies of `mesh(ISLAND)` with no edge between them, each after the other, names
    prefixed `iN-`, each island's entries carrying 1 / (n / ISLAND) of its traffic (n ≤ ISLAND:
    one mesh of n)."""
    if n <= ISLAND:
        return dict(mesh(n, seed), system=f"islands-{n}")
    if n % ISLAND:
        raise SystemExit(f"islands: {n} components is not a multiple of {ISLAND}")
    base = mesh(ISLAND, seed)["components"]
    count = n // ISLAND
    comps = []
    for i in range(count):
        for comp in base:
            copy = dict(comp, name=f"i{i}-{comp['name']}")
            if "traffic_share" in comp:
                copy["traffic_share"] = comp["traffic_share"] / count
            if "dependencies" in comp:
                copy["dependencies"] = [
                    dict(dep, target=f"i{i}-{dep['target']}") for dep in comp["dependencies"]
                ]
            comps.append(copy)
    return _doc("islands", n, comps)


def shuffled(n: int, seed: int = 7) -> dict[str, Any]:
    """`islands(n)` with its components in a random order."""
    doc = islands(n, seed)
    random.Random(seed).shuffle(doc["components"])
    return dict(doc, system=f"shuffled-{n}")


GENERATORS = {
    "mesh": mesh,
    "chain": chain,
    "star": star,
    "tree": tree,
    "islands": islands,
    "shuffled": shuffled,
}


def measure(
    shape: str,
    n: int,
    outputs: list[str],
    derivations: str,
    load: bool = False,
    repeat: int = 1,
) -> dict[str, Any]:
    """One subprocess's run: seconds per step (each the least of `repeat` runs of it, in this
    process), bytes written, peak resident memory; with `load`, the CPU seconds of
    `resilience.load_plan` on the JSON plan written."""
    doc = GENERATORS[shape](n)
    row: dict[str, Any] = {"shape": shape, "components": n}
    row["deps"] = sum(len(c.get("dependencies", ())) for c in doc["components"])
    t0 = time.perf_counter()
    spec = parse_spec(doc, f"<generated {shape} {n}>")
    del doc
    row["parse_s"] = time.perf_counter() - t0
    plan = None
    for _ in range(repeat):
        plan = None  # the previous plan is freed before the next is built: one plan's peak
        t1 = time.perf_counter()
        c1, sys1 = time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_stime
        plan = build_plan(spec)
        _least(row, "plan_cpu_s", time.process_time() - c1)
        # the kernel's share (mostly handing out fresh memory; see the README's growth paragraph)
        _least(row, "plan_sys_s", resource.getrusage(resource.RUSAGE_SELF).ru_stime - sys1)
        _least(row, "plan_s", time.perf_counter() - t1)
    assert plan is not None
    row["modes"] = len(plan.failure_modes)
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in outputs:
            path = Path(tmp) / f"plan.{fmt}"
            for _ in range(repeat):
                start, cpu = time.perf_counter(), time.process_time()
                write_chunks(render_chunks(plan, fmt, None, derivations=derivations), path)
                _least(row, f"{fmt}_s", time.perf_counter() - start)
                _least(row, f"{fmt}_cpu_s", time.process_time() - cpu)
            row[f"{fmt}_bytes"] = path.stat().st_size
            if load and fmt == "json":
                for _ in range(repeat):
                    cpu = time.process_time()
                    load_plan(path)
                    _least(row, "load_cpu_s", time.process_time() - cpu)
            path.unlink()
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


def _least(row: dict[str, Any], key: str, seconds: float) -> None:
    """Keep the least time seen for `key`: noise on a shared machine only ever adds time."""
    row[key] = min(row.get(key, seconds), seconds)


def _subprocess(
    shape: str, n: int, outputs: list[str], derivations: str, load: bool, repeat: int
) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--one", f"{shape}:{n}", "--outputs", ",".join(outputs)]
    argv += ["--derivations", derivations, "--repeat", str(repeat)] + (["--load"] if load else [])
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{shape} {n}: {done.stderr.strip().splitlines()[-1:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _validate_command() -> list[str]:
    """`reliability` as installed next to this Python, else `python -m planner`."""
    script = Path(sys.executable).with_name("reliability")
    return [str(script)] if script.exists() else [sys.executable, "-m", "planner"]


def time_validate(shape: str, n: int, runs: int = 3) -> float:
    """Wall seconds of `reliability validate FILE` on the generated spec: the median of `runs`
    after one untimed run, which also writes the bytecode the timed runs read."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{shape}-{n}.json"
        path.write_text(json.dumps(GENERATORS[shape](n)), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        argv = [*_validate_command(), "validate", str(path)]
        times = []
        for _ in range(runs + 1):
            start = time.perf_counter()
            done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
            times.append(time.perf_counter() - start)
            if done.returncode != 0:
                raise SystemExit(f"validate {shape} {n}: {done.stderr.strip().splitlines()[-1:]}")
    return statistics.median(times[1:])


def _table(rows: list[dict[str, Any]], outputs: list[str]) -> None:
    head = (
        f"{'shape':>8} {'components':>10} {'deps':>7} {'modes':>7} {'parse s':>8} {'plan s':>8}"
        f" {'cpu s':>7} {'sys s':>6} {'cpu µs/c':>9}"
    )
    for fmt in outputs:
        head += f" {fmt + ' s':>8} {fmt + ' cpu':>8} {fmt + ' KB/c':>9}"
    validated = any("validate_s" in r for r in rows)
    loaded = any("load_cpu_s" in r for r in rows)
    print(
        head
        + f" {'peak MB':>8}"
        + (f" {'load cpu':>8}" if loaded else "")
        + (f" {'validate s':>10}" if validated else "")
    )
    for r in rows:
        line = (
            f"{r['shape']:>8} {r['components']:>10} {r['deps']:>7} {r['modes']:>7}"
            f" {r['parse_s']:>8.2f} {r['plan_s']:>8.2f} {r['plan_cpu_s']:>7.2f}"
            f" {r['plan_sys_s']:>6.2f}"
            f" {r['plan_cpu_s'] / r['components'] * 1e6:>9.0f}"
        )
        for fmt in outputs:
            per = r[f"{fmt}_bytes"] / r["components"] / 1000
            line += f" {r[f'{fmt}_s']:>8.2f} {r[f'{fmt}_cpu_s']:>8.2f} {per:>9.2f}"
        line += f" {r['peak_rss_mb']:>8.0f}"
        if loaded:
            line += f" {r['load_cpu_s']:>8.2f}"
        if validated:
            line += f" {r['validate_s']:>10.2f}"
        print(line, flush=True)


def main() -> None:
    """Print one row per (shape, size), each measured in its own subprocess."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="mesh", help=f"one or more of {', '.join(SHAPES)}")
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--outputs", default="json", help="formats written: json, yaml, text")
    parser.add_argument("--derivations", default=DERIVATIONS[0], choices=DERIVATIONS)
    parser.add_argument(
        "--validate", action="store_true", help="also time `reliability validate FILE` (wall s)"
    )
    parser.add_argument(
        "--load",
        action="store_true",
        help="also time resilience.load_plan of the JSON plan written (CPU s; needs json)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of each step per row, in the row's process (so a column and the plan's are"
        " taken in the same minutes); each time is the least of them (noise only adds time)",
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)  # SHAPE:N, in this process, as JSON
    args = parser.parse_args()
    outputs = [o for o in args.outputs.split(",") if o]
    if args.one:
        shape, n = args.one.split(":")
        row = measure(shape, int(n), outputs, args.derivations, args.load, max(1, args.repeat))
        print(json.dumps(row))
        return
    shapes = args.shape.split(",")
    unknown = sorted(set(shapes) - set(SHAPES))
    if unknown:
        parser.error(f"unknown shape {', '.join(unknown)}; expected {', '.join(SHAPES)}")
    rows = []
    for shape in shapes:
        for n in (int(s) for s in args.sizes.split(",")):
            row = _subprocess(shape, n, outputs, args.derivations, args.load, max(1, args.repeat))
            if args.validate:
                row["validate_s"] = time_validate(shape, n)
            rows.append(row)
    _table(rows, outputs)


if __name__ == "__main__":
    main()
