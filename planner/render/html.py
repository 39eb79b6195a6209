"""The report as one self-contained HTML page: inline CSS, no script, every text escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

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

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #1b1f24;
       line-height: 1.45; padding: 0 1rem; }
h1 { border-bottom: 3px double #1b1f24; padding-bottom: .3rem; }
h2 { border-bottom: 1px solid #8c959f; padding-bottom: .2rem; margin-top: 2.2rem; }
h3 { margin-bottom: .4rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .92rem; }
th, td { border: 1px solid #d0d7de; padding: .25rem .55rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
pre { font-family: ui-monospace, monospace; line-height: 1.2; background: #f6f8fa;
      padding: .8rem; display: inline-block; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; }
dt { font-weight: 600; }
""".strip()


def _block(block: Block) -> str:
    if isinstance(block, Title):
        fields = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in block.fields)
        return f"<h1>{escape(block.title)}</h1>\n<dl>{fields}</dl>"
    if isinstance(block, Section):
        return f"<h2>{escape(block.title)}</h2>"
    if isinstance(block, Heading):
        return f"<h3>{escape(block.text.rstrip(':'))}</h3>"
    if isinstance(block, Table):
        head = "".join(f"<th>{escape(h)}</th>" for h in block.headers)
        rows = "".join(
            "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>\n" for row in block.rows
        )
        return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody>\n</table>"
    if isinstance(block, Diagram):
        return f'<pre class="{escape(block.name)}">' + escape("\n".join(block.lines)) + "</pre>"
    if isinstance(block, Paragraph):
        return f"<p>{escape(block.text)}</p>"
    return "<ul>\n" + "".join(f"<li>{escape(item)}</li>\n" for item in block.items) + "</ul>"


def render_blocks(blocks: Sequence[Block], title: str) -> str:
    """A complete HTML document holding the blocks."""
    body = "\n".join(_block(b) for b in blocks)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>\n{_STYLE}\n</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def render_html(plan: Plan, sections: Sequence[str] | None = None) -> str:
    """The report (or some of its sections) as a self-contained HTML page."""
    title = f"Reliability engineering plan — {plan.header.system}"
    return render_blocks(document(plan, sections), title)
