"""Renderers of the plan: text (the seed's report format), markdown, html, json and yaml.

`render_plan(plan, format, sections)` is the one entry point the CLI uses; the text, markdown and
HTML renderers draw the same blocks (`planner.render.sections`), and json/yaml serialise the
`planner.document.plan_to_dict`, which `resilience.load_plan` reads unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from planner.model import Plan

__all__ = ["FORMATS", "dump_document", "render_plan"]

#: Output formats, as `--format` spells them.
FORMATS = ("text", "markdown", "html", "json", "yaml")


def dump_document(document: Any, format: str) -> str:
    """A plain-data document as JSON (2-space indent) or YAML (block style, keys in order)."""
    if format == "json":
        return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    if format == "yaml":
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    raise ValueError(f"dump_document: expected json or yaml, got {format!r}")


def _plan_document(plan: Plan, sections: Sequence[str] | None) -> dict[str, Any]:
    from planner.document import plan_to_dict

    data = plan_to_dict(plan)
    if sections is None:
        return data
    # A partial report (`reliability failures --format json`) keeps the identifying header and
    # the requested parts of `report`; without `mechanisms` it is a report, not a plan file.
    from planner.render.sections import report_keys

    report = data.get("report") or {}
    keys = report_keys(sections)
    return {
        **{k: v for k, v in data.items() if k not in ("mechanisms", "report")},
        "report": {k: v for k, v in report.items() if k in keys},
    }


def render_plan(plan: Plan, format: str = "text", sections: Sequence[str] | None = None) -> str:
    """The plan (or some of its sections, see `document.SECTIONS`) in one of FORMATS."""
    if format == "text":
        from planner.render.text import render_text

        return render_text(plan, sections)
    if format == "markdown":
        from planner.render.markdown import render_markdown

        return render_markdown(plan, sections)
    if format == "html":
        from planner.render.html import render_html

        return render_html(plan, sections)
    if format in ("json", "yaml"):
        return dump_document(_plan_document(plan, sections), format)
    raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
