"""The HTML page's pictures and structure, by value against the plan they are drawn from, the
Mermaid graph of the markdown report, the layered layout, and `plan -o DIR/` with its runbooks."""

from __future__ import annotations

import html
import itertools
import re
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner import cli
from planner.analysis import build_plan
from planner.model import Plan
from planner.render import render_plan
from planner.render.graph_layout import SWEEPS, Placed, layered
from planner.render.html import render_html
from planner.render.runbooks import runbook_files
from planner.render.svg_graph import blast_class
from planner.spec import load_spec
from tests.paths import ROOT_DIR
from tests.render_plans import sample_plan

ROOT = ROOT_DIR


@pytest.fixture(scope="module")
def web_shop() -> Plan:
    return build_plan(load_spec(ROOT / "examples" / "web_shop" / "system.yaml"))


def _svg(page: str, name: str) -> str:
    match = re.search(rf'<svg class="picture {name}".*?</svg>', page, re.S)
    assert match, f"no {name} picture"
    return match.group(0)


def test_heat_map_cells_carry_the_plan_counts_and_list_their_modes(web_shop: Plan) -> None:
    page = render_html(web_shop)
    svg = _svg(page, "risk-matrix")
    for cell in web_shop.risk_matrix:
        key = f"{cell.impact}-{cell.probability}"
        drawn = re.search(
            rf'<g class="cell tone-([a-z-]+)" data-cell="{key}" data-count="(\d+)"', svg
        )
        assert drawn, key
        assert int(drawn.group(2)) == cell.count
        # critical cells are red; the count is written in the cell
        assert drawn.group(1).startswith("bad") == cell.critical
        if cell.count:
            listing = re.search(rf'<div data-cell="{key}" hidden>(.*?)</div>', page, re.S)
            assert listing, key
            assert re.findall(r"<strong>(FM-\d+)</strong>", listing.group(1)) == list(cell.ids)


def test_graph_draws_every_component_and_edge_as_the_plan_has_them(web_shop: Plan) -> None:
    svg = _svg(render_html(web_shop), "dependency-graph")
    assert web_shop.graph is not None
    nodes = re.findall(
        r'data-component="([^"]+)" data-without="([a-z-]+)" data-with="([a-z-]+)"', svg
    )
    blast = {r.source: r for r in web_shop.blast_radius if r.scope == "component"}
    assert [n for n, _, _ in nodes] == [n.component for n in web_shop.graph.nodes]
    for name, without, with_ in nodes:
        assert without == blast_class(blast[name].users_impacted.value)
        assert with_ == blast_class(blast[name].users_impacted_with.value)
    hard = sum(e.hard for e in web_shop.graph.edges)
    assert svg.count('class="edge edge-hard" d=') == hard == 6
    assert svg.count('class="edge edge-soft" d=') == len(web_shop.graph.edges) - hard == 1
    # storefront → redis is soft and falls back to postgres: a fallback arrow is drawn
    assert svg.count('class="edge edge-fallback" d=') == 1
    assert "storefront falls back to postgres when redis fails" in svg


def test_graph_layers_put_entry_points_on_top_and_targets_below_callers(web_shop: Plan) -> None:
    assert web_shop.graph is not None
    names = [n.component for n in web_shop.graph.nodes]
    edges = [(e.caller, e.target) for e in web_shop.graph.edges]
    placed = layered(names, edges)
    assert all(placed[c].layer < placed[t].layer for c, t in edges)
    assert {n for n in names if placed[n].layer == 0} == {"storefront", "checkout", "order-worker"}
    # a chain a → b → c with a shortcut a → c puts c two layers down
    chain = layered(["a", "b", "c"], [("a", "b"), ("b", "c"), ("a", "c")])
    assert [chain[n].layer for n in "abc"] == [0, 1, 2]


def test_layer_order_avoids_a_crossing_the_spec_order_would_draw() -> None:
    # spec order puts x's target right and y's left: two crossing edges unless reordered
    placed = layered(["x", "y", "ty", "tx"], [("x", "tx"), ("y", "ty")])
    assert placed["tx"].index < placed["ty"].index


def test_statuses_are_coloured_from_the_plan(web_shop: Plan) -> None:
    page = render_html(web_shop)
    p1 = sum(m.priority == "P1" for m in web_shop.failure_modes)
    assert page.count('<td class="tone-bad"><span class="pill">P1</span></td>') >= p1 > 0
    breached = sum(s.status == "breached" for s in web_shop.recovery.scenarios)
    assert page.count('<td class="tone-bad"><span class="pill">breached</span></td>') == breached
    met = sum(s.status == "met" for s in web_shop.recovery.scenarios)
    assert page.count('<td class="tone-good"><span class="pill">met</span></td>') == met


def test_contents_follow_the_seed_sections_and_policies_fold(web_shop: Plan) -> None:
    page = render_html(web_shop)
    toc = re.search(r'<nav class="toc".*?</nav>', page, re.S)
    assert toc
    top = re.findall(r'<li><a href="#([a-z0-9-]+)">([^<]+)</a>', toc.group(0))
    titles = [html.unescape(t) for _, t in top]
    seed = ["Failure Mode Analysis", "Resilience Mechanisms", "Recovery Procedures",
            "Monitoring & Alerts", "SLA Tracking"]  # fmt: skip
    assert [t for t in titles if t in seed] == seed
    for slug, _ in top:  # every entry points at an element of the page
        assert f'id="{slug}"' in page
    policies = {row.policy for row in web_shop.mechanisms}
    assert page.count('<details class="fold">') == len(policies)
    assert "@media print" in page and "beforeprint" in page


def test_every_picture_has_a_text_alternative(web_shop: Plan) -> None:
    page = render_html(web_shop)
    svgs = re.findall(r"<svg .*?</svg>", page, re.S)
    assert len(svgs) >= 4
    for svg in svgs:
        assert 'role="img"' in svg
        desc = re.search(r"<desc>(.+?)</desc>", svg, re.S)
        assert desc and len(desc.group(1)) > 20
    graph = re.search(r"<desc>(Dependency graph.+?)</desc>", page)
    assert graph and "7 components and 7 edges (6 hard, 1 soft)" in graph.group(1)


def test_measured_sla_draws_the_budget_burn() -> None:
    page = render_html(sample_plan(sla=True))
    svg = _svg(page, "burn")
    assert "This month: 50% of the budget used (OK)" in svg
    assert "1h burn rate 0.5×" in svg
    assert '<svg class="picture burn"' not in render_html(sample_plan())  # nothing measured


def test_markdown_has_a_mermaid_dependency_graph(web_shop: Plan) -> None:
    md = render_plan(web_shop, "markdown")
    block = md[md.index("```mermaid\n") : md.index("```", md.index("```mermaid\n") + 3)]
    assert block.startswith("```mermaid\nflowchart TD\n")
    assert block.count(" -->|") == 6 and block.count(" -.->|") == 1
    assert '==>|"fallback when redis fails"|' in block
    assert re.search(r'n\d+\["storefront<br/>service ×3"\]', block)
    # filled by the blast radius with mechanisms
    for i, node in enumerate(web_shop.graph.nodes if web_shop.graph else ()):
        row = next(r for r in web_shop.blast_radius if r.source == node.component)
        bucket = blast_class(row.users_impacted_with.value).removeprefix("blast-")
        assert f"  class n{i} blast{bucket}\n" in block
    # text has no graph (its tables say it); the golden text files pin that
    assert "flowchart" not in render_plan(web_shop, "text")


def test_mermaid_labels_cannot_break_out_of_their_quotes() -> None:
    from planner.render.markdown import mermaid_graph
    from planner.render.pictures import GraphPicture, PictureEdge, PictureNode

    graph = GraphPicture(
        (PictureNode('a"]; click a', "service", True, 1, 100.0, 0.0, ()),
         PictureNode("b", "cache", False, 1, 0.0, 0.0, ())),
        (PictureEdge('a"]; click a', "b", False, 'x"|<script>', False),),
    )  # fmt: skip
    text = "\n".join(mermaid_graph(graph))
    assert '"]; click' not in text and "<script>" not in text and '"|<' not in text


def test_plan_into_a_directory_writes_the_page_and_links_its_runbooks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], web_shop: Plan
) -> None:
    spec = ROOT / "examples" / "web_shop" / "system.yaml"
    out = tmp_path / "report"
    assert cli.main(["plan", str(spec), "-o", f"{out}/"]) == 0
    page = (out / "index.html").read_text()
    links = re.findall(r'<a href="([^"#][^"]*)">', page)
    assert links == list(runbook_files(web_shop))
    assert all((out / link).is_file() for link in links)
    printed = capsys.readouterr().out.split()
    assert str(out / "index.html") in printed and len(printed) == 1 + len(links)
    # written to stdout the page names the runbooks without links that would not resolve
    assert '<a href="fm-' not in render_html(web_shop)


def test_plan_into_a_directory_refuses_a_one_file_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = ROOT / "examples" / "web_shop" / "system.yaml"
    code = cli.main(["plan", str(spec), "-f", "yaml", "-o", f"{tmp_path}/"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "--format yaml writes one file" in err
    assert list(tmp_path.iterdir()) == []


def _reference_layered(names: list[str], edges: list[tuple[str, str]]) -> dict[str, Placed]:
    """The layout as first written: every row's positions rebuilt for each row it sorts."""
    depth_of = {n: p.layer for n, p in layered(names, edges).items()}  # the layers: unchanged
    depth = max(depth_of.values(), default=0) + 1
    rows = [[n for n in names if depth_of[n] == d] for d in range(depth)]
    up: dict[str, list[str]] = {n: [] for n in names}
    down: dict[str, list[str]] = {n: [] for n in names}
    for caller, target in edges:
        if caller in up and target in up:
            down[caller].append(target)
            up[target].append(caller)
    for _ in range(SWEEPS):
        for order, near in ((range(1, depth), up), (range(depth - 2, -1, -1), down)):
            for d in order:
                position = {n: i for row in rows for i, n in enumerate(row)}
                row = rows[d]
                rows[d] = sorted(
                    row,
                    key=lambda n, row=row, position=position: (
                        sum(position[m] for m in near[n]) / len(near[n])
                        if near[n]
                        else float(row.index(n)),
                        row.index(n),
                    ),
                )
    return {n: Placed(d, i) for d, row in enumerate(rows) for i, n in enumerate(row)}


@given(st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=30))
def test_layer_order_is_the_reference_sweeps(pairs: list[tuple[int, int]]) -> None:
    """Positions kept up to date as rows are sorted give the order rebuilding them gave."""
    names = [f"n{i}" for i in range(12)]
    edges = [(f"n{a}", f"n{b}") for a, b in pairs if a < b]  # acyclic: callers first
    assert layered(names, edges) == _reference_layered(names, edges)


def test_a_deep_chain_is_laid_out_in_linear_time() -> None:
    names = [f"c{i:05d}" for i in range(3000)]
    start = time.process_time()
    placed = layered(names, list(itertools.pairwise(names)))
    assert time.process_time() - start < 2.0  # rebuilding every row per row took ~15 s
    assert [placed[n] for n in names[:3]] == [Placed(0, 0), Placed(1, 0), Placed(2, 0)]
