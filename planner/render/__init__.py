"""Renderers of the plan: text (the seed's report format), markdown, html, json and yaml.

`render_plan(plan, format, sections)` is the one entry point the CLI uses; the text, markdown and
HTML renderers draw the same blocks (`planner.render.sections`), and json/yaml serialise the
`planner.document.plan_to_dict`, which `resilience.load_plan` reads unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from planner.model import Plan

__all__ = ["FORMATS", "dump_document", "render_chunks", "render_plan"]

#: Output formats, as `--format` spells them.
FORMATS = ("text", "markdown", "html", "json", "yaml")


def dump_document(document: Any, format: str) -> str:
    """A plain-data document as JSON (2-space indent) or YAML (block style, keys in order)."""
    if format == "json":
        return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    if format == "yaml":
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    raise ValueError(f"dump_document: expected json or yaml, got {format!r}")


def render_chunks(
    plan: Plan,
    format: str = "text",
    sections: Sequence[str] | None = None,
    derivations: str = "full",
) -> Iterator[str]:
    """`render_plan` as chunks of text: JSON and YAML streamed piece by piece (see
    `planner.render.stream`), with figures' derivations as `derivations` says
    (`planner.document.DERIVATIONS`); text and markdown a chunk per block; HTML in one chunk."""
    from planner.perf import no_cyclic_gc

    if format in ("text", "markdown"):
        from planner.render.markdown import markdown_report_chunks
        from planner.render.text import text_report_chunks

        # The report's blocks and lines are many small objects and no cycles (see no_cyclic_gc).
        with no_cyclic_gc():
            yield from (text_report_chunks if format == "text" else markdown_report_chunks)(
                plan, sections
            )
        return
    if format not in ("json", "yaml"):
        yield render_plan(plan, format, sections)
        return
    from planner.document import document
    from planner.render.stream import json_chunks, yaml_chunks

    keys = None
    if sections is not None:
        # A partial report (`reliability failures --format json`) keeps the identifying header
        # and the requested parts of `report`; without `mechanisms` it is a report, not a plan.
        from planner.render.sections import report_keys

        keys = report_keys(sections)
    with no_cyclic_gc():
        doc = document(plan, derivations, keys)
        yield from (json_chunks if format == "json" else yaml_chunks)(doc)


def render_plan(
    plan: Plan,
    format: str = "text",
    sections: Sequence[str] | None = None,
    derivations: str = "full",
) -> str:
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
        return "".join(render_chunks(plan, format, sections, derivations))
    raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
