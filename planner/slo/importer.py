"""`reliability slo import FILE...`: OpenSLO v1 and Sloth `prometheus/v1` documents into the
keys of `system.yaml` (`system`, `description`, `slo_period`, `slos`).

It keeps what the spec models: SLO names (an SLO's `displayName` when it is a valid spec name,
else `metadata.name`), descriptions, objectives, SLI selectors, the period, the system's name and
description. What it cannot keep it says, one line per thing dropped: alert policies (the
planner derives its alerts from the objective), labels, annotations, data sources, SLIs that are
not plain counter selectors, other budgeting methods and periods.

Files are data: `load_documents` reads at most `MAX_BYTES` per file and `MAX_DOCUMENTS`
documents, nests at most `MAX_DEPTH` deep and refuses YAML aliases (no expansion bombs).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from planner.errors import PlannerError
from planner.slo.openslo import API_VERSION, PERIOD_OF_DURATION
from planner.slo.selector import SelectorError, parse_selector

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_DOCUMENTS",
    "ImportResult",
    "import_documents",
    "load_documents",
]

#: Loader limits for imported files (an OpenSLO repository's files are a few KB each).
MAX_BYTES = 4 * 1024 * 1024
MAX_DOCUMENTS = 1000
MAX_DEPTH = 32

#: The spec's SLO name rule (`SloSpec.name`).
_SPEC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# ------------------------------------------------------------------------------------ loading


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and nesting deeper than MAX_DEPTH."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases are not accepted here", event.start_mark
            )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"nested deeper than {MAX_DEPTH}",
                self.peek_event().start_mark,  # type: ignore[no-untyped-call]
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_documents(path: str) -> list[Any]:
    """Every YAML document of `path` (`-` reads stdin), within the loader limits."""
    try:
        if path == "-":
            raw = sys.stdin.buffer.read(MAX_BYTES + 1)
        else:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise PlannerError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    if len(raw) > MAX_BYTES:
        raise PlannerError(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PlannerError(f"{path}: not UTF-8 text") from None
    docs: list[Any] = []
    try:
        for doc in yaml.load_all(text, Loader=_BoundedLoader):
            if doc is None:
                continue
            docs.append(doc)
            if len(docs) > MAX_DOCUMENTS:
                raise PlannerError(f"{path}: more than {MAX_DOCUMENTS} documents")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        why = f": {problem}" if problem else ""
        raise PlannerError(f"{path}: not valid YAML{where}{why}") from None
    return docs


# ------------------------------------------------------------------------------------ import


@dataclass
class ImportResult:
    """What `import_documents` made: the spec fields, and what it could not keep."""

    system: str | None = None
    description: str | None = None
    slo_period: str | None = None
    slos: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def block(self) -> dict[str, Any]:
        """The fields to merge into system.yaml."""
        out: dict[str, Any] = {}
        if self.system is not None:
            out["system"] = self.system
        if self.description:
            out["description"] = self.description
        out["slo_period"] = self.slo_period or "30d"
        out["slos"] = self.slos
        return out


class _Skip(Exception):
    """This SLO cannot be kept; the message says why."""


def _map(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PlannerError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise PlannerError(f"{where}: expected a non-empty string")
    return value


def _plain(query: Any, where: str) -> str:
    if not isinstance(query, str):
        raise _Skip(f"{where}: expected a PromQL query string")
    try:
        return parse_selector(query.strip()).render()
    except SelectorError as exc:
        raise _Skip(f"{where}: {exc}") from None


class _Importer:
    def __init__(self) -> None:
        self.result = ImportResult()
        self.names: set[str] = set()

    def drop(self, text: str) -> None:
        self.result.dropped.append(text)

    def service(self, name: str, where: str) -> None:
        if self.result.system is None:
            self.result.system = name
        elif self.result.system != name:
            self.drop(
                f"{where}: service {name!r}: the spec holds one system, kept {self.result.system!r}"
            )

    def period(self, period: str, where: str) -> None:
        if self.result.slo_period is None:
            self.result.slo_period = period
        elif self.result.slo_period != period:
            self.drop(
                f"{where}: period {period}: the spec has one slo_period, kept"
                f" {self.result.slo_period}"
            )

    def add(self, entry: dict[str, Any], where: str) -> None:
        name = entry["name"]
        if name in self.names:
            self.drop(f"{where}: SLO {name!r} appears twice: kept the first")
            return
        self.names.add(name)
        self.result.slos.append(entry)

    # -- OpenSLO v1 -------------------------------------------------------------------------

    def openslo(self, docs: list[tuple[str, dict[str, Any]]]) -> None:
        slis: dict[str, dict[str, Any]] = {}
        services: dict[str, tuple[str, str]] = {}  # metadata.name → (display name, description)
        for where, doc in docs:
            kind = doc.get("kind")
            meta = _map(doc.get("metadata", {}), f"{where}.metadata")
            name = _str(meta.get("name"), f"{where}.metadata.name")
            if kind == "SLI":
                slis[name] = doc
            elif kind == "Service":
                spec = doc.get("spec")
                about: dict[str, Any] = spec if isinstance(spec, dict) else {}
                services[name] = (
                    str(meta.get("displayName") or name),
                    str(about.get("description") or ""),
                )
        for where, doc in docs:
            kind = doc.get("kind")
            if kind == "SLO":
                self.openslo_slo(where, doc, slis, services)
            elif kind in ("AlertPolicy", "AlertCondition", "AlertNotificationTarget"):
                pass  # said once per SLO that refers to them
            elif kind == "DataSource":
                self.drop(f"{where}: DataSource: the planner reads the SLIs from one Prometheus")
            elif kind not in ("SLI", "Service"):
                raise PlannerError(
                    f"{where}: kind {kind!r} is not an OpenSLO v1 kind (expected SLO, SLI,"
                    " Service, AlertPolicy, AlertCondition, AlertNotificationTarget, DataSource)"
                )

    def openslo_slo(
        self,
        where: str,
        doc: dict[str, Any],
        slis: dict[str, dict[str, Any]],
        services: dict[str, tuple[str, str]],
    ) -> None:
        meta = _map(doc.get("metadata", {}), f"{where}.metadata")
        spec = _map(doc.get("spec"), f"{where}.spec")
        display = meta.get("displayName")
        base = display if isinstance(display, str) and _SPEC_NAME.match(display) else meta["name"]
        where = f"{where} (SLO {meta['name']})"
        for key in ("labels", "annotations"):
            if meta.get(key):
                self.drop(f"{where}: metadata.{key}")
        service = spec.get("service")
        if isinstance(service, str) and service:
            display, about = services.get(service, (service, ""))
            self.service(display, where)
            if about and self.result.description is None:
                self.result.description = about
        try:
            sli = self.indicator(where, spec, slis)
        except _Skip as exc:
            self.drop(f"{where}: not imported: {exc}")
            return
        self.period(self.time_window(where, spec), where)
        method = spec.get("budgetingMethod", "Occurrences")
        if method != "Occurrences":
            self.drop(
                f"{where}: budgetingMethod {method}: the planner budgets by occurrences (events,"
                " or probe samples)"
            )
        if spec.get("alertPolicies"):
            self.drop(
                f"{where}: alertPolicies ({len(spec['alertPolicies'])}): the planner derives its"
                " burn-rate alerts from the objective and the period"
            )
        objectives = spec.get("objectives")
        if not isinstance(objectives, list) or not objectives:
            raise PlannerError(f"{where}: spec.objectives: expected a non-empty list")
        description = spec.get("description") or sli.get("_description")
        for i, objective in enumerate(objectives):
            objective = _map(objective, f"{where}.spec.objectives[{i}]")
            percent = self.objective_percent(objective, f"{where}.spec.objectives[{i}]")
            for key in ("op", "value", "timeSliceTarget", "timeSliceWindow", "compositeWeight"):
                if key in objective:
                    self.drop(f"{where}: objectives[{i}].{key}")
            name = base if len(objectives) == 1 else f"{base}-{i + 1}"
            entry: dict[str, Any] = {"name": name}
            if description:
                entry["description"] = description
            entry["objective"] = percent
            entry["sli"] = {k: v for k, v in sli.items() if not k.startswith("_")}
            self.add(entry, where)

    def objective_percent(self, objective: dict[str, Any], where: str) -> float:
        if "target" in objective:
            value, scale = objective["target"], 100.0
        elif "targetPercent" in objective:
            value, scale = objective["targetPercent"], 1.0
        else:
            raise PlannerError(f"{where}: expected target or targetPercent")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PlannerError(f"{where}: the target must be a number, got {value!r}")
        percent = round(float(value) * scale, 10)
        if not 0 < percent < 100:
            raise PlannerError(f"{where}: the target must be above 0 and below 100%, got {value!r}")
        return percent

    def time_window(self, where: str, spec: dict[str, Any]) -> str:
        windows = spec.get("timeWindow")
        if not isinstance(windows, list) or len(windows) != 1:
            raise PlannerError(f"{where}: spec.timeWindow: expected exactly one time window")
        window = _map(windows[0], f"{where}.spec.timeWindow[0]")
        duration = str(window.get("duration", ""))
        period = PERIOD_OF_DURATION.get(duration)
        rolling = window.get("isRolling", True) is not False
        if period is None or (period == "calendar_month") == rolling:
            self.drop(
                f"{where}: timeWindow {duration} ({'rolling' if rolling else 'calendar'}): the"
                " spec models 30d or 28d rolling or a calendar month (1M): read as 30d"
            )
            return "30d"
        return period

    def indicator(
        self, where: str, spec: dict[str, Any], slis: dict[str, dict[str, Any]]
    ) -> dict[str, Any]:
        if "indicator" in spec:
            doc = _map(spec["indicator"], f"{where}.spec.indicator")
        elif "indicatorRef" in spec:
            ref = spec["indicatorRef"]
            if ref not in slis:
                raise PlannerError(f"{where}: spec.indicatorRef: no SLI named {ref!r} in the files")
            doc = slis[ref]
        else:
            raise PlannerError(f"{where}: spec: expected indicator or indicatorRef")
        sli_spec = _map(doc.get("spec"), f"{where}: the SLI's spec")
        out: dict[str, Any] = {}
        if sli_spec.get("description"):
            out["_description"] = sli_spec["description"]
        if "thresholdMetric" in sli_spec:
            raise _Skip("a thresholdMetric SLI (the spec models ratios of counters and probes)")
        ratio = _map(sli_spec.get("ratioMetric"), f"{where}: the SLI's ratioMetric")

        def query(part: str) -> str:
            node = _map(ratio[part], f"{where}: ratioMetric.{part}")
            source = _map(node.get("metricSource"), f"{where}: ratioMetric.{part}.metricSource")
            kind = str(source.get("type", ""))
            if kind.lower() != "prometheus":
                raise _Skip(f"ratioMetric.{part}: metric source {kind!r} is not Prometheus")
            if "metricSourceRef" in source:
                self.drop(
                    f"{where}: ratioMetric.{part}.metricSourceRef {source['metricSourceRef']!r}"
                )
            inner = _map(source.get("spec"), f"{where}: ratioMetric.{part}.metricSource.spec")
            return _plain(inner.get("query"), f"ratioMetric.{part}")

        if "raw" in ratio:
            if ratio.get("rawType", "success") != "success":
                raise _Skip("a raw failure-ratio SLI (the spec reads raw ratios as 0/1 probes)")
            out["probe"] = query("raw")
            return out
        if "total" not in ratio or ("good" in ratio) == ("bad" in ratio):
            raise PlannerError(f"{where}: ratioMetric: expected total and one of good or bad")
        if ratio.get("counter", True) is False:
            raise _Skip("a ratioMetric of gauges (counter: false); the spec's are counters")
        if "bad" in ratio:
            out["errors"] = query("bad")
        else:
            out["good"] = query("good")
        out["total"] = query("total")
        return out

    # -- Sloth prometheus/v1 ----------------------------------------------------------------

    def sloth(self, where: str, doc: dict[str, Any]) -> None:
        service = _str(doc.get("service"), f"{where}.service")
        self.service(service, where)
        # the identity labels `reliability rules --format sloth` writes are not a loss
        labels = _map(doc.get("labels") or {}, f"{where}.labels")
        if {k: v for k, v in labels.items() if (k, v) != ("service", service)}:
            self.drop(f"{where}: labels (the spec labels series service and slo)")
        if doc.get("slo_plugins"):
            self.drop(f"{where}: slo_plugins")
        self.period("30d", where)  # Sloth's default; its specs have no period field
        slos = doc.get("slos")
        if not isinstance(slos, list) or not slos:
            raise PlannerError(f"{where}.slos: expected a non-empty list")
        for i, item in enumerate(slos):
            item = _map(item, f"{where}.slos[{i}]")
            name = _str(item.get("name"), f"{where}.slos[{i}].name")
            here = f"{where} (SLO {name})"
            objective = item.get("objective")
            if (
                isinstance(objective, bool)
                or not isinstance(objective, (int, float))
                or not 0 < objective < 100
            ):
                raise PlannerError(f"{here}: objective: expected a percentage above 0, below 100")
            own = _map(item.get("labels") or {}, f"{here}.labels")
            if {k: v for k, v in own.items() if (k, v) != ("slo", name)}:
                self.drop(f"{here}: labels")
            for key in ("plugins", "alerting"):
                if item.get(key):
                    self.drop(
                        f"{here}: {key}"
                        + (" (the planner derives its alerts)" if key == "alerting" else "")
                    )
            try:
                sli = _sloth_sli(_map(item.get("sli"), f"{here}.sli"))
            except _Skip as exc:
                self.drop(f"{here}: not imported: {exc}")
                continue
            entry: dict[str, Any] = {"name": name}
            if item.get("description"):
                entry["description"] = str(item["description"])
            entry["objective"] = float(objective)
            entry["sli"] = sli
            self.add(entry, here)


_WINDOW = r"\[\s*\{\{\s*\.window\s*\}\}\s*\]"
# a vector selector: a metric name and/or braces whose quoted values may hold any character
_BRACES = r'\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\}'
_SEL = rf"[A-Za-z_:][A-Za-z0-9_:]*\s*(?:{_BRACES})?|{_BRACES}"


def _sum_of(function: str, group: str) -> str:
    return rf"sum\s*\(\s*{function}\s*\(\s*(?P<{group}>{_SEL})\s*{_WINDOW}\s*\)\s*\)"


_SUM_RATE = re.compile(rf"^\s*{_sum_of('rate', 'sel')}\s*$")
_GOOD = re.compile(rf"^\s*{_sum_of('rate', 'total')}\s*-\s*{_sum_of('rate', 'good')}\s*$")
_PROBE = re.compile(
    rf"^\s*1\s*-\s*{_sum_of('sum_over_time', 'a')}\s*/\s*{_sum_of('count_over_time', 'b')}\s*$"
)


def _sloth_sli(sli: dict[str, Any]) -> dict[str, str]:
    """A Sloth SLI in the shapes `reliability rules --format sloth` writes, as spec selectors."""
    if "events" in sli:
        events = sli["events"] if isinstance(sli["events"], dict) else {}
        error, total = events.get("error_query"), events.get("total_query")
        if not isinstance(error, str) or not isinstance(total, str):
            raise _Skip("sli.events: expected error_query and total_query")
        t = _SUM_RATE.match(total)
        if t is None:
            raise _Skip("sli.events.total_query: expected sum(rate(<selector>[{{.window}}]))")
        total_sel = _plain(t["sel"], "sli.events.total_query")
        e = _SUM_RATE.match(error)
        if e is not None:
            return {"errors": _plain(e["sel"], "sli.events.error_query"), "total": total_sel}
        g = _GOOD.match(error)
        if g is not None and _plain(g["total"], "sli.events.error_query") == total_sel:
            return {"good": _plain(g["good"], "sli.events.error_query"), "total": total_sel}
        raise _Skip(
            "sli.events.error_query: expected sum(rate(<selector>[{{.window}}])), or total minus"
            " sum(rate(<good selector>[{{.window}}]))"
        )
    if "raw" in sli:
        raw = sli["raw"] if isinstance(sli["raw"], dict) else {}
        query = raw.get("error_ratio_query")
        p = _PROBE.match(query) if isinstance(query, str) else None
        if p is None or p["a"].strip() != p["b"].strip():
            raise _Skip(
                "sli.raw: only the probe shape 1 - sum(sum_over_time(<p>[{{.window}}])) /"
                " sum(count_over_time(<p>[{{.window}}])) maps onto the spec"
            )
        return {"probe": _plain(p["a"], "sli.raw.error_ratio_query")}
    raise _Skip("sli: expected events or raw (a plugin SLI has no selector to import)")


def import_documents(files: Iterable[tuple[str, list[Any]]]) -> ImportResult:
    """The spec fields of OpenSLO v1 and Sloth prometheus/v1 documents, and what was dropped.

    `files` is (file name, its documents). Raises PlannerError on a document that is neither.
    """
    importer = _Importer()
    openslo: list[tuple[str, dict[str, Any]]] = []
    for path, docs in files:
        for index, doc in enumerate(docs):
            where = f"{path}: document {index + 1}" if len(docs) > 1 else path
            if not isinstance(doc, dict):
                raise PlannerError(f"{where}: expected a mapping (an OpenSLO or Sloth document)")
            api = doc.get("apiVersion")
            if api == API_VERSION:
                openslo.append((where, doc))
            elif doc.get("version") == "prometheus/v1":
                importer.sloth(where, doc)
            elif isinstance(api, str) and api.startswith("openslo/"):
                raise PlannerError(
                    f"{where}: apiVersion {api}: only openslo/v1 is read (convert with oslo)"
                )
            else:
                raise PlannerError(
                    f"{where}: neither OpenSLO (apiVersion: openslo/v1) nor a Sloth spec"
                    " (version: prometheus/v1)"
                )
    importer.openslo(openslo)
    if not importer.result.slos:
        detail = "; ".join(importer.result.dropped) or "no SLO document"
        raise PlannerError(f"nothing to import: {detail}")
    return importer.result
