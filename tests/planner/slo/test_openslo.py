"""`reliability slo export --format openslo` and `reliability slo import`: a round trip keeps every
SLO field the spec models, Sloth specs import too, and what cannot be kept is said."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.cli import main
from planner.slo.definition import definitions_from_spec
from planner.slo.importer import MAX_BYTES, MAX_DEPTH
from planner.slo.openslo import export_openslo
from planner.spec import load_spec, parse_spec
from tests.paths import ROOT_DIR

ROOT = ROOT_DIR
EXAMPLES = sorted((ROOT / "examples").glob("*/system.yaml"))
SHOP = ROOT / "examples/web_shop/system.yaml"

#: SLIs of every shape the spec models, with and without descriptions and objectives.
VARIANT_SLOS = [
    {
        "name": "availability",
        "description": "Checkout requests answered without a 5xx",
        "objective": 99.95,
        "sli": {
            "errors": 'http_requests_total{job="shop",code=~"5.."}',
            "total": 'http_requests_total{job="shop"}',
        },
    },
    {
        "name": "good-requests",
        "sli": {
            "good": 'http_requests_total{job="shop",code=~"[23].."}',
            "total": 'http_requests_total{job="shop"}',
        },
    },
    {
        "name": "uptime",
        "objective": 99.5,
        "sli": {"probe": 'probe_success{job="blackbox",instance="https://shop.example"}'},
    },
]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _variant(tmp_path: Path, period: str) -> Path:
    data = yaml.safe_load(SHOP.read_text())
    data["slo_period"] = period
    data["slos"] = VARIANT_SLOS
    path = tmp_path / f"system-{period}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _merge(spec_path: Path, block: dict[str, Any]) -> list[Any]:
    """The SLO definitions of the spec with its SLO keys replaced by the imported block."""
    data = yaml.safe_load(spec_path.read_text())
    for key in ("slos", "slo_period"):
        data.pop(key, None)
    data.update(block)
    return list(definitions_from_spec(parse_spec(data, "merged")))


def _round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spec_path: Path
) -> tuple[dict[str, Any], str]:
    exported = tmp_path / "openslo.yaml"
    assert _run(capsys, "slo", "export", str(spec_path), "-o", str(exported))[0] == 0
    code, out, err = _run(capsys, "slo", "import", str(exported))
    assert code == 0, err
    block: dict[str, Any] = yaml.safe_load(out)
    return block, err


@pytest.mark.parametrize("period", ["30d", "28d", "calendar_month"])
def test_round_trip_keeps_every_slo_field_of_the_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], period: str
) -> None:
    spec_path = _variant(tmp_path, period)
    block, err = _round_trip(tmp_path, capsys, spec_path)
    spec = load_spec(spec_path)
    assert block["system"] == spec.system
    assert block["description"] == spec.description
    assert block["slo_period"] == period
    assert _merge(spec_path, block) == list(definitions_from_spec(spec))
    # an SLO without an objective of its own had the tier's: now explicit
    assert [s["objective"] for s in block["slos"]] == [99.95, spec.objective, 99.5]
    assert [s["name"] for s in block["slos"]] == ["availability", "good-requests", "uptime"]
    # what is dropped is said: the alert policies, which the planner derives again
    lines = err.splitlines()
    assert len(lines) == 3
    assert all(line.startswith("reliability: dropped: ") for line in lines)
    assert all("alertPolicies (4)" in line for line in lines)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_round_trip_of_every_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], example: Path
) -> None:
    block, _ = _round_trip(tmp_path, capsys, example)
    assert _merge(example, block) == list(definitions_from_spec(load_spec(example)))


def test_export_documents_are_openslo_v1() -> None:
    spec = load_spec(SHOP)
    docs = export_openslo(definitions_from_spec(spec), spec.description)
    assert [d["kind"] for d in docs] == ["Service", "SLI", *["AlertPolicy"] * 4, "SLO"]
    for doc in docs:
        assert doc["apiVersion"] == "openslo/v1"
        name = doc["metadata"]["name"]
        assert len(name) <= 63 and name == name.lower()
    slo = docs[-1]["spec"]
    assert slo["timeWindow"] == [{"duration": "30d", "isRolling": True}]
    assert slo["budgetingMethod"] == "Occurrences"
    assert slo["objectives"] == [{"displayName": "availability", "target": 0.9995}]
    assert slo["indicatorRef"] == docs[1]["metadata"]["name"]
    names = {d["metadata"]["name"] for d in docs if d["kind"] == "AlertPolicy"}
    assert {p["alertPolicyRef"] for p in slo["alertPolicies"]} == names
    conditions = [d["spec"]["conditions"][0]["spec"] for d in docs if d["kind"] == "AlertPolicy"]
    assert [(c["severity"], c["condition"]["threshold"]) for c in conditions] == [
        ("page", 14.4),
        ("page", 6.0),
        ("ticket", 3.0),
        ("ticket", 1.0),
    ]
    assert conditions[0]["condition"]["lookbackWindow"] == "1h"
    assert conditions[0]["condition"]["alertAfter"] == "5m"


def test_long_names_keep_the_alert_policies_apart() -> None:
    slo = definitions_from_spec(load_spec(SHOP))[0]
    long = dataclasses.replace(slo, name="x" * 70)
    docs = export_openslo([long])
    names = [d["metadata"]["name"] for d in docs if d["kind"] == "AlertPolicy"]
    assert len(set(names)) == 4 and all(len(n) <= 63 for n in names)
    assert [n.rsplit("-", 2)[1:] for n in names] == [
        ["page", "1h"],
        ["page", "6h"],
        ["ticket", "1d"],
        ["ticket", "3d"],
    ]


@pytest.mark.parametrize("period", ["30d", "calendar_month"])
def test_sloth_spec_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], period: str
) -> None:
    spec_path = _variant(tmp_path, period)
    sloth = tmp_path / "sloth.yml"
    assert _run(capsys, "rules", str(spec_path), "--format", "sloth", "-o", str(sloth))[0] == 0
    code, out, err = _run(capsys, "slo", "import", str(sloth))
    assert code == 0, err
    block = yaml.safe_load(out)
    assert block["slo_period"] == "30d"  # Sloth's specs have no period: its default
    merged = _merge(spec_path, block | {"slo_period": period})
    assert merged == list(definitions_from_spec(load_spec(spec_path)))
    assert err.count("alerting (the planner derives its alerts)") == 3


THIRD_PARTY = """\
apiVersion: openslo/v1
kind: Service
metadata: {name: checkout, displayName: Checkout}
spec: {description: The checkout service}
---
apiVersion: openslo/v1
kind: DataSource
metadata: {name: prom}
spec: {type: Prometheus, connectionDetails: {url: http://prometheus:9090}}
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-errors
  displayName: Checkout errors
  labels: {team: [payments]}
spec:
  service: checkout
  budgetingMethod: Timeslices
  timeWindow: [{duration: 7d, isRolling: true}]
  indicator:
    metadata: {name: checkout-errors}
    spec:
      ratioMetric:
        counter: true
        bad: {metricSource: {type: Prometheus, metricSourceRef: prom,
                             spec: {query: 'http_requests_total{service="checkout",code=~"5.."}'}}}
        total:
          metricSource: {type: prometheus, spec: {query: 'http_requests_total{service="checkout"}'}}
  objectives:
    - {targetPercent: 99.9, timeSliceTarget: 0.95, timeSliceWindow: 1m}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout-latency}
spec:
  service: checkout
  budgetingMethod: Occurrences
  timeWindow: [{duration: 28d, isRolling: true}]
  indicator:
    metadata: {name: latency}
    spec:
      thresholdMetric:
        metricSource: {type: Prometheus, spec: {query: 'histogram_quantile(0.99, x)'}}
  objectives: [{op: lte, value: 0.5, target: 0.99}]
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout-rate}
spec:
  service: checkout
  budgetingMethod: Occurrences
  timeWindow: [{duration: 28d, isRolling: true}]
  indicator:
    metadata: {name: rate}
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(ok_total[5m]))'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(all_total[5m]))'}}}
  objectives: [{target: 0.99}]
"""


def test_third_party_openslo_imports_what_it_can_and_says_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "checkout.yaml"
    path.write_text(THIRD_PARTY)
    code, out, err = _run(capsys, "slo", "import", str(path))
    assert code == 0, err
    block = yaml.safe_load(out)
    assert block == {
        "system": "Checkout",
        "description": "The checkout service",
        "slo_period": "30d",
        "slos": [
            {
                "name": "checkout-errors",  # displayName has a space: metadata.name is kept
                "objective": 99.9,
                "sli": {
                    "errors": 'http_requests_total{service="checkout",code=~"5.."}',
                    "total": 'http_requests_total{service="checkout"}',
                },
            }
        ],
    }
    dropped = [line.removeprefix("reliability: dropped: ") for line in err.splitlines()]
    where = f"{path}: document"
    assert dropped == [
        f"{where} 2: DataSource: the planner reads the SLIs from one Prometheus",
        f"{where} 3 (SLO checkout-errors): metadata.labels",
        f"{where} 3 (SLO checkout-errors): ratioMetric.bad.metricSourceRef 'prom'",
        f"{where} 3 (SLO checkout-errors): timeWindow 7d (rolling): the spec models 30d or 28d"
        " rolling or a calendar month (1M): read as 30d",
        f"{where} 3 (SLO checkout-errors): budgetingMethod Timeslices: the planner budgets by"
        " occurrences (events, or probe samples)",
        f"{where} 3 (SLO checkout-errors): objectives[0].timeSliceTarget",
        f"{where} 3 (SLO checkout-errors): objectives[0].timeSliceWindow",
        f"{where} 4 (SLO checkout-latency): not imported: a thresholdMetric SLI (the spec models"
        " ratios of counters and probes)",
        f"{where} 5 (SLO checkout-rate): not imported: ratioMetric.good: expected a plain vector"
        ' selector such as metric{label="value"} (no functions, ranges or operators: the rules'
        " add increase()), got 'sum(rate(ok_total[5m]))'",
    ]


def test_import_reads_stdin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    exported = tmp_path / "openslo.yaml"
    assert _run(capsys, "slo", "export", str(SHOP), "-o", str(exported))[0] == 0

    class _Stdin:
        buffer = io.BytesIO(exported.read_bytes())

    monkeypatch.setattr("sys.stdin", _Stdin)
    code, out, _ = _run(capsys, "slo", "import", "-")
    assert code == 0
    assert yaml.safe_load(out)["slos"][0]["name"] == "availability"
    assert "from stdin" in out.splitlines()[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &x [1]\nb: *x\n", "YAML aliases are not accepted here"),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), f"nested deeper than {MAX_DEPTH}"),
        ("- 1\n- 2\n", "expected a mapping (an OpenSLO or Sloth document)"),
        ("kind: SLO\n", "neither OpenSLO (apiVersion: openslo/v1) nor a Sloth spec"),
        ("apiVersion: openslo/v1alpha\nkind: SLO\n", "only openslo/v1 is read"),
        ("apiVersion: openslo/v1\nkind: Gadget\nmetadata: {name: g}\n", "kind 'Gadget'"),
        (
            "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: s}\nspec:\n  indicatorRef: nope\n",
            "spec.indicatorRef: no SLI named 'nope'",
        ),
        ("version: prometheus/v1\nservice: s\nslos: []\n", "slos: expected a non-empty list"),
        (
            "version: prometheus/v1\nservice: s\nslos: [{name: a, objective: 100, sli: {}}]\n",
            "objective: expected a percentage above 0, below 100",
        ),
        ("key: [unclosed\n", "not valid YAML at line 2"),
    ],
)
def test_bad_import_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = tmp_path / "in.yaml"
    path.write_text(text)
    out = tmp_path / "out.yaml"
    code, _, err = _run(capsys, "slo", "import", str(path), "-o", str(out))
    assert code == 2
    assert err.count("\n") == 1 and message in err, err
    assert str(path) in err
    assert not out.exists()


def test_import_refuses_a_file_over_the_size_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (MAX_BYTES + 1))
    code, _, err = _run(capsys, "slo", "import", str(path))
    assert code == 2
    assert err == f"reliability: error: {path}: larger than 4 MiB\n"


def test_nothing_importable_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "latency.yaml"
    path.write_text(THIRD_PARTY.split("---\n")[3])
    code, _, err = _run(capsys, "slo", "import", str(path))
    assert code == 2
    assert "nothing to import" in err and "thresholdMetric" in err
