"""The HTML page's stylesheet and its one small script, inline so the page is one file."""

from __future__ import annotations

__all__ = ["SCRIPT", "STYLE"]

STYLE = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa; --accent: #0969da;
        --bad: #cf222e; --bad-bg: #ffebe9; --warn: #9a6700; --warn-bg: #fff8c5;
        --good: #1a7f37; --good-bg: #dafbe1; --mute-bg: #eff2f5; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
       margin: 0; background: #fff; }
.hero { background: linear-gradient(135deg, #0b1f3a, #17406d); color: #fff;
        padding: 1.6rem 2rem 1.4rem; }
.hero h1 { margin: 0; font-size: 1.65rem; font-weight: 650; letter-spacing: .01em; }
.hero .subtitle { margin: .2rem 0 1rem; color: #c8d6e8; }
.cards { display: flex; flex-wrap: wrap; gap: .7rem; }
.card { background: rgba(255,255,255,.09); border: 1px solid rgba(255,255,255,.18);
        border-radius: 10px; padding: .55rem .9rem; min-width: 9.5rem; }
.card .k { font-size: .74rem; text-transform: uppercase; letter-spacing: .06em; color: #b8c7da; }
.card .v { font-size: 1.25rem; font-weight: 650; }
.card .n { font-size: .78rem; color: #c8d6e8; }
.card.tone-bad { border-color: #ff8182; background: rgba(207,34,46,.28); }
.card.tone-good { border-color: #6fdd8b; background: rgba(26,127,55,.25); }
.card.tone-warn { border-color: #d4a72c; background: rgba(154,103,0,.28); }
.layout { display: grid; grid-template-columns: 15rem minmax(0, 1fr); gap: 2rem;
          max-width: 88rem; margin: 0 auto; padding: 0 1.5rem; }
nav.toc { position: sticky; top: 0; align-self: start; max-height: 100vh; overflow: auto;
          padding: 1.4rem 0; font-size: .88rem; }
nav.toc .toc-title { font-size: .78rem; text-transform: uppercase; letter-spacing: .08em;
             color: var(--muted); margin: 0 0 .5rem; border: 0; }
nav.toc ol { list-style: none; margin: 0; padding: 0; }
nav.toc ol ol { padding-left: .9rem; margin: .15rem 0 .5rem; }
nav.toc a { color: var(--fg); text-decoration: none; display: block; padding: .12rem .4rem;
            border-radius: 5px; }
nav.toc > ol > li > a { font-weight: 600; }
nav.toc ol ol a { color: var(--muted); }
nav.toc a:hover { background: var(--soft); color: var(--accent); }
main { padding: 1rem 0 4rem; min-width: 0; }
section.report { margin-bottom: 2.4rem; }
h2 { font-size: 1.3rem; border-bottom: 2px solid var(--fg); padding-bottom: .25rem;
     margin: 1.6rem 0 1rem; letter-spacing: .02em; }
h3 { font-size: 1.02rem; margin: 1.5rem 0 .5rem; }
h2, h3 { scroll-margin-top: 1rem; }
p { margin: .5rem 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .88rem; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: .38rem .6rem; text-align: left;
         vertical-align: top; }
thead th { background: var(--soft); font-weight: 600; border-bottom: 2px solid var(--line);
           white-space: nowrap; }
tbody tr:hover { background: #fafbfc; }
.pill { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-weight: 600;
        font-size: .8rem; white-space: nowrap; }
.tone-bad > .pill, .pill.tone-bad { background: var(--bad-bg); color: var(--bad); }
.tone-warn > .pill, .pill.tone-warn { background: var(--warn-bg); color: var(--warn); }
.tone-good > .pill, .pill.tone-good { background: var(--good-bg); color: var(--good); }
.tone-muted > .pill, .pill.tone-muted { background: var(--mute-bg); color: var(--muted); }
ul { padding-left: 1.3rem; }
li { margin: .15rem 0; }
figure { margin: .8rem 0 1.4rem; padding: 1rem; border: 1px solid var(--line);
         border-radius: 10px; background: #fff; overflow-x: auto; }
figcaption { font-size: .84rem; color: var(--muted); margin-top: .5rem; }
.figure-failover svg, .figure-availability svg, .figure-burn svg,
.figure-budget-series svg { margin: 0 auto; }
svg.picture { display: block; max-width: 100%; height: auto; font-family: inherit; }
svg text { fill: var(--fg); font-size: 12px; }
svg .axis { fill: var(--muted); font-size: 12px; }
svg .sub, svg .cap { fill: var(--muted); font-size: 11px; }
svg .heading { font-weight: 600; font-size: 13px; }
.risk-wrap { display: flex; gap: 1.5rem; flex-wrap: wrap; align-items: flex-start; }
.risk-matrix .cell rect { stroke: #fff; stroke-width: 2; }
.risk-matrix .cell[role=button] { cursor: pointer; }
.risk-matrix .cell[role=button]:hover rect, .risk-matrix .cell:focus rect { stroke: var(--fg); }
.risk-matrix .cell:focus { outline: none; }
.risk-matrix .cell.selected rect { stroke: var(--accent); stroke-width: 4; }
.risk-matrix .count { font-size: 26px; font-weight: 700; }
.risk-matrix .mark { font-size: 13px; }
.risk-matrix .tone-bad rect { fill: #f9c5c4; } .risk-matrix .tone-bad text { fill: #82071e; }
.risk-matrix .tone-bad-empty rect { fill: #fde7e6; }
.risk-matrix .tone-bad-empty text { fill: #c9a3a3; }
.risk-matrix .tone-warn rect { fill: #ffe8a3; } .risk-matrix .tone-warn text { fill: #6b4400; }
.risk-matrix .tone-muted rect { fill: #d7ecdc; } .risk-matrix .tone-muted text { fill: #1a5e2e; }
.risk-matrix .tone-empty rect { fill: #f3f5f7; } .risk-matrix .tone-empty text { fill: #b4bcc5; }
.cell-modes { flex: 1; min-width: 18rem; font-size: .9rem; }
.cell-modes h4 { margin: .2rem 0 .4rem; font-size: .95rem; }
.cell-modes ul { list-style: none; padding: 0; margin: 0; }
.cell-modes li { padding: .25rem 0; border-bottom: 1px solid var(--line); }
.cell-hint { color: var(--muted); }
.blast-none { fill: #dafbe1; stroke: #1a7f37; } .blast-low { fill: #fff8c5; stroke: #9a6700; }
.blast-mid { fill: #ffddb0; stroke: #bc4c00; } .blast-high { fill: #ffd8d3; stroke: #cf222e; }
.dependency-graph .node rect { stroke-width: 1.5; }
.dependency-graph .node.entry rect { stroke-width: 3; }
.dependency-graph .name { font-weight: 650; font-size: 13px; }
.dependency-graph .kind { fill: var(--muted); font-size: 11px; }
.dependency-graph .legend { fill: var(--muted); font-size: 11px; }
.edge { fill: none; stroke-width: 1.6; }
.edge-hard { stroke: #424a53; } .head-hard { fill: #424a53; }
.edge-soft { stroke: #8c959f; stroke-dasharray: 6 4; } .head-soft { fill: #8c959f; }
.edge-fallback { stroke: #1a7f37; stroke-dasharray: 2 3; stroke-width: 2; }
.head-fallback { fill: #1a7f37; }
.fallback-label { fill: #1a7f37; font-size: 11px; paint-order: stroke; stroke: #fff;
                  stroke-width: 3px; }
.blast-switch { display: inline-flex; border: 1px solid var(--line); border-radius: 8px;
                overflow: hidden; margin-bottom: .6rem; }
.blast-switch button { font: inherit; font-size: .85rem; border: 0; background: #fff;
                       padding: .3rem .8rem; cursor: pointer; color: var(--fg); }
.blast-switch button[aria-pressed=true] { background: var(--fg); color: #fff; }
.availability .bar.tone-good { fill: #4ac26b; } .availability .bar.tone-bad { fill: #ff8182; }
.availability .bar.with { opacity: .75; }
.availability .label, .burn .label { font-weight: 600; }
.target { stroke: var(--fg); stroke-width: 1.5; stroke-dasharray: 4 3; }
.target-label { font-size: 11px; font-weight: 600; }
.axis-line, .tick { stroke: #8c959f; }
.threshold { stroke: #8c959f; stroke-dasharray: 3 3; }
.burn .bar.tone-good { fill: #4ac26b; } .burn .bar.tone-bad { fill: #ff8182; }
.burn .bar.tone-warn { fill: #eac54f; } .burn .bar.tone-muted { fill: #afb8c1; }
.budget-series .grid { stroke: #eaeef2; }
.budget-series .zero { stroke: #8c959f; stroke-width: 1.2; }
.budget-series .ideal { stroke: #59636e; stroke-width: 1.5; stroke-dasharray: 6 4; }
.budget-line { fill: none; stroke-width: 2.4; stroke-linejoin: round; }
.budget-line.tone-good { stroke: #1a7f37; } .budget-line.tone-warn { stroke: #9a6700; }
.budget-line.tone-bad { stroke: #cf222e; } .budget-line.tone-muted { stroke: #59636e; }
.now.tone-good { fill: #1a7f37; } .now.tone-warn { fill: #9a6700; }
.now.tone-bad { fill: #cf222e; } .now.tone-muted { fill: #59636e; }
.budget-series .now { stroke: #fff; stroke-width: 2; }
.budget-series .now-label { font-weight: 600; }
details.chart-data > summary { cursor: pointer; font-size: .84rem; color: var(--muted); }
.failover .step rect { fill: #f6f8fa; stroke: #8c959f; }
.failover .step-0 rect { fill: #ffebe9; stroke: #cf222e; }
.failover .step-name { font-weight: 700; font-size: 13px; }
.failover .step-action { font-weight: 600; font-size: 13px; }
.failover .step-detail { fill: var(--muted); font-size: 12px; }
.flow-arrow { stroke: #424a53; stroke-width: 1.6; } .head-flow { fill: #424a53; }
.layers { display: grid; grid-template-columns: repeat(auto-fit, minmax(14rem, 1fr)); gap: .8rem;
          margin: .6rem 0 1.2rem; align-items: start; }
.layer li { margin: .35rem 0; } .layer ul { list-style: none; padding: 0; }
.chip { display: inline-block; font: .76rem ui-monospace, SFMono-Regular, Menlo, monospace;
        background: var(--soft); border: 1px solid var(--line); border-radius: 4px;
        padding: 0 .3rem; margin: .1rem .1rem 0 0; }
.layer { border: 1px solid var(--line); border-top: 4px solid var(--accent); border-radius: 8px;
         padding: .6rem .8rem; font-size: .88rem; }
.layer h4 { margin: 0 0 .3rem; font-size: .9rem; }
.layer ul { margin: 0; padding-left: 1rem; }
.layer-1 { border-top-color: #8250df; } .layer-2 { border-top-color: #0969da; }
.layer-3 { border-top-color: #bc4c00; } .layer-4 { border-top-color: #1a7f37; }
details.fold { border: 1px solid var(--line); border-radius: 8px; margin: .5rem 0;
               padding: 0 .9rem; }
details.fold > summary { cursor: pointer; padding: .55rem 0; font-weight: 600; }
details.fold[open] > summary { border-bottom: 1px solid var(--line); margin-bottom: .4rem; }
.fold-tools button { font: inherit; font-size: .82rem; border: 1px solid var(--line);
                     background: #fff; border-radius: 6px; padding: .15rem .6rem; cursor: pointer; }
pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; background: var(--soft);
      padding: .8rem; overflow-x: auto; }
dl.fields { display: grid; grid-template-columns: max-content auto; gap: .1rem 1rem;
            font-size: .88rem; color: #c8d6e8; margin: 1rem 0 0; }
dl.fields dt { font-weight: 600; color: #fff; }
dl.fields dd { margin: 0; }
a { color: var(--accent); }
@media (max-width: 60rem) { .layout { grid-template-columns: 1fr; } nav.toc { position: static; } }
@media print {
  @page { margin: 14mm; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { font-size: 10.5pt; }
  .hero { background: #fff; color: var(--fg); padding: 0 0 .6rem; border-bottom: 3px double #000; }
  .hero .subtitle, dl.fields, dl.fields dt, .card .k, .card .n { color: var(--fg); }
  .card { background: #fff; border-color: #999; }
  .layout { display: block; padding: 0; max-width: none; }
  nav.toc, .blast-switch, .cell-hint, .fold-tools { display: none; }
  .cell-modes [hidden] { display: block; }
  h2 { break-before: auto; break-after: avoid; } h3 { break-after: avoid; }
  figure, tr, .layer { break-inside: avoid; }
  details.fold { border: 0; padding: 0; }
  details.fold > summary { list-style: none; }
  a[href]::after { content: " (" attr(href) ")"; font-size: .8em; color: var(--muted); }
}
""".strip()

#: Selecting a risk-matrix cell lists its modes; the graph's switch flips every node between
#: its colour without and with the mechanisms; printing opens every fold and chart table.
SCRIPT = """
(function () {
  var cells = document.querySelectorAll('.risk-matrix .cell[role=button]');
  function select(cell) {
    cells.forEach(function (c) { c.classList.toggle('selected', c === cell); });
    document.querySelectorAll('.cell-modes [data-cell]').forEach(function (list) {
      list.hidden = list.getAttribute('data-cell') !== cell.getAttribute('data-cell');
    });
    var hint = document.querySelector('.cell-hint');
    if (hint) { hint.hidden = true; }
  }
  cells.forEach(function (cell) {
    cell.addEventListener('click', function () { select(cell); });
    cell.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); select(cell); }
    });
  });
  document.querySelectorAll('.blast-switch button').forEach(function (button) {
    button.addEventListener('click', function () {
      var mode = button.getAttribute('data-mode');
      var figure = button.closest('figure');
      figure.querySelectorAll('.blast-switch button').forEach(function (b) {
        b.setAttribute('aria-pressed', String(b === button));
      });
      figure.querySelectorAll('.node').forEach(function (node) {
        node.querySelector('rect').setAttribute('class', node.getAttribute('data-' + mode));
        var share = node.querySelector('.share');
        share.textContent = share.getAttribute('data-' + mode);
      });
    });
  });
  function folds(open) {
    document.querySelectorAll('details.fold').forEach(function (d) { d.open = open; });
  }
  document.querySelectorAll('.fold-tools button').forEach(function (b) {
    b.addEventListener('click', function () { folds(b.getAttribute('data-open') === 'true'); });
  });
  window.addEventListener('beforeprint', function () {
    folds(true);
    document.querySelectorAll('details.chart-data').forEach(function (d) { d.open = true; });
  });
})();
""".strip()
