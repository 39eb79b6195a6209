"""The report as GitHub-flavoured markdown: headings, pipe tables, diagrams in code blocks."""

from __future__ import annotations

from collections.abc import Sequence

from planner.model import Plan
from planner.render.document import (
    Block,
    Diagram,
    Heading,
    Paragraph,
    Section,
    Table,
    Title,
    document,
)


def escape_cell(text: str) -> str:
    """A table cell's text with pipes escaped and newlines turned into `<br>`."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>")


def _table(block: Table) -> list[str]:
    lines = ["| " + " | ".join(escape_cell(h) for h in block.headers) + " |"]
    lines.append("|" + "|".join("---" for _ in block.headers) + "|")
    lines += ["| " + " | ".join(escape_cell(c) for c in row) + " |" for row in block.rows]
    return lines


def _block(block: Block) -> list[str]:
    if isinstance(block, Title):
        return [f"# {block.title.title()}", "", *(f"- **{k}:** {v}" for k, v in block.fields)]
    if isinstance(block, Section):
        return [f"## {block.title.title().replace('&', 'and')}"]
    if isinstance(block, Heading):
        return [f"### {block.text.rstrip(':')}"]
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Diagram):
        return ["```text", *block.lines, "```"]
    if isinstance(block, Paragraph):
        return [block.text]
    return [f"- {item}" for item in block.items]


def render_blocks(blocks: Sequence[Block]) -> str:
    """Draw blocks as markdown, one blank line between blocks."""
    return "\n\n".join("\n".join(_block(b)) for b in blocks) + "\n"


def render_markdown(plan: Plan, sections: Sequence[str] | None = None) -> str:
    """The report (or some of its sections) as markdown."""
    return render_blocks(document(plan, sections))
