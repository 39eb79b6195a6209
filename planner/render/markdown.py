"""The report as GitHub-flavoured markdown: headings, pipe tables, diagrams in code blocks."""

from __future__ import annotations

from collections.abc import Sequence

from planner.model import Plan
from planner.render.blocks import (
    Block,
    Diagram,
    Heading,
    Paragraph,
    Section,
    Table,
    Title,
)
from planner.render.sections import document


def escape_text(text: str) -> str:
    """Text with `<` backslash-escaped, so no spec text becomes raw HTML in a markdown viewer."""
    return text.replace("\\", "\\\\").replace("<", "\\<")


def escape_cell(text: str) -> str:
    """A table cell's text escaped (`<`, pipes) with newlines turned into `<br>`."""
    return escape_text(text).replace("|", "\\|").replace("\n", "<br>")


def _table(block: Table) -> list[str]:
    lines = ["| " + " | ".join(escape_cell(h) for h in block.headers) + " |"]
    lines.append("|" + "|".join("---" for _ in block.headers) + "|")
    lines += ["| " + " | ".join(escape_cell(c) for c in row) + " |" for row in block.rows]
    return lines


def _block(block: Block) -> list[str]:
    if isinstance(block, Title):
        fields = (f"- **{k}:** {escape_text(v)}" for k, v in block.fields)
        return [f"# {block.title.title()}", "", *fields]
    if isinstance(block, Section):
        return [f"## {block.title.title().replace('&', 'and')}"]
    if isinstance(block, Heading):
        return [f"### {escape_text(block.text.rstrip(':'))}"]
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Diagram):
        return ["```text", *block.lines, "```"]
    if isinstance(block, Paragraph):
        return [escape_text(block.text)]
    return [f"- {escape_text(item)}" for item in block.items]


def render_blocks(blocks: Sequence[Block]) -> str:
    """Draw blocks as markdown, one blank line between blocks."""
    return "\n\n".join("\n".join(_block(b)) for b in blocks) + "\n"


def render_markdown(plan: Plan, sections: Sequence[str] | None = None) -> str:
    """The report (or some of its sections) as markdown."""
    return render_blocks(document(plan, sections))
