"""The HTML report: one self-contained page per result, escaped, deterministic, loading
nothing; its maps show every located member once; an infeasible plan still says why."""

from __future__ import annotations

import copy
import itertools
import math
import re
from html.parser import HTMLParser

import attrs
import pytest
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from sharedsvc.model.toml_writer import dumps
from sharedsvc.report import svg
from sharedsvc.report.html import render_html

CONSORTIA = sorted(
    p.stem for p in (ROOT / "consortia").glob("*.toml") if not p.stem.endswith("-actuals")
)
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
HOSTILE = "<script>alert(1)</script>"

TINY = {
    "consortium": {"name": "Tiny & <b>bold</b>"},
    "services": {"svc": {"model": "scale", "scale_exponent": 0.8}},
    "members": {
        "a": {
            "name": HOSTILE,
            "location": {"lat": 51.5, "lon": -0.1},
            "neighbours": ["b"],
            "services": {"svc": {"volume": 100, "annual_cost": 100_000}},
        },
        "b": {
            "name": 'B "quoted" & co',
            "location": {"lat": 51.6, "lon": 0.0},
            "neighbours": ["c"],
            "services": {"svc": {"volume": 200, "annual_cost": 150_000}},
        },
        "c": {"name": "C, nowhere", "services": {"svc": {"volume": 300, "annual_cost": 250_000}}},
    },
}


class Page(HTMLParser):
    """Collects what the tests look at, and checks that every tag closes in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.svgs: list[dict] = []
        self.text: list[str] = []
        self.doctype = ""

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def _start(self, tag: str, attributes) -> dict[str, str]:
        attributes = {k: v or "" for k, v in attributes}
        self.tags.append((tag, attributes))
        if tag == "svg":
            self.svgs.append({"attrs": attributes, "circles": 0, "tags": []})
        elif "svg" in self.stack and self.svgs:
            self.svgs[-1]["tags"].append((tag, attributes))
            if tag == "circle":
                self.svgs[-1]["circles"] += 1
        return attributes

    def handle_starttag(self, tag, attrs) -> None:
        self._start(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs) -> None:
        self._start(tag, attrs)

    def handle_endtag(self, tag) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data) -> None:
        self.text.append(data)

    @property
    def maps(self) -> list[dict]:
        return [s for s in self.svgs if "map" in s["attrs"].get("class", "").split()]

    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.tags if "id" in a}


def parse(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    assert not parser.errors, parser.errors[:5]
    assert not parser.stack, f"unclosed: {parser.stack}"
    return parser


def assert_self_contained(page: str, parsed: Page) -> None:
    assert parsed.doctype.lower() == "doctype html"
    tags = [t for t, _ in parsed.tags]
    assert "script" not in tags and not re.search(r"<\s*script", page, re.I)
    for tag, attributes in parsed.tags:
        assert not (tag == "link" and "stylesheet" in attributes.get("rel", "")), attributes
        assert tag not in ("iframe", "object", "embed", "img"), tag
        for name, value in attributes.items():
            assert not name.startswith("on"), (tag, name)  # no event handlers
            if name in ("src", "href", "xlink:href", "action", "srcset", "poster"):
                assert not re.match(r"\s*(https?:|//)", value, re.I), (tag, name, value)
    for style in re.findall(r"<style>(.*?)</style>", page, re.S):
        assert "url(" not in style and "@import" not in style


@pytest.fixture(scope="module")
def bundled(engine):
    """Each bundled consortium, its result and its page, computed once for the module."""
    out = {}
    for name in CONSORTIA:
        consortium = engine.load(ROOT / "consortia" / f"{name}.toml")
        result = engine.optimise(consortium, time_limit=30)
        out[name] = (consortium, result, render_html(result, consortium, registry=engine.registry))
    return out


@pytest.mark.parametrize("name", CONSORTIA)
def test_bundled_consortium_renders_a_self_contained_page(bundled, name):
    consortium, result, page = bundled[name]
    parsed = parse(page)
    assert_self_contained(page, parsed)
    assert result.solved
    located = sum(m.location is not None for m in consortium.members)
    maps = parsed.maps
    assert len(maps) == len(result.services)
    for drawing, service in zip(maps, result.services, strict=True):
        assert drawing["circles"] == located, service.service
        assert "viewbox" in drawing["attrs"] and "width" not in drawing["attrs"]
    assert {"bars-services", "bars-members", "cash-flow"} <= parsed.ids()
    text = " ".join(parsed.text)
    assert result.status.value in text
    for member in consortium.members:
        assert member.id in text
    for service in consortium.services:
        for parameter in service.parameters:
            assert parameter in text


def test_assumptions_name_every_parameter_source(bundled, engine):
    consortium, result, page = bundled["south-east-london"]
    text = " ".join(parse(page).text)
    for service in consortium.services:
        model = engine.registry.cost_models[service.model]
        for field in model.parameters:
            if field.name in service.parameters:
                assert field.source and field.source in text, (service.id, field.name)
    assert f"{result.horizon_years} years" in text
    assert "3.50% a year" in text
    assert "shapley" in text or result.allocation in text


def test_rendering_twice_gives_the_same_bytes(bundled):
    consortium, result, _ = bundled["south-east-london"]
    assert render_html(result, consortium) == render_html(result, consortium)
    again = render_html(attrs.evolve(result), attrs.evolve(consortium))
    assert again == render_html(result, consortium)


def test_hostile_names_are_escaped_and_unplaced_members_listed(engine):
    consortium = engine.parse(dumps(TINY))
    result = engine.optimise(consortium)
    page = render_html(result, consortium, registry=engine.registry)
    parsed = parse(page)
    assert_self_contained(page, parsed)
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page and "Tiny &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert "B &quot;quoted&quot; &amp; co" in page
    # the loader refuses control characters in names; the report would show them as escapes
    assert svg.esc("a\u202eb\x1b") == "a\\u202eb\\x1b"
    (drawing,) = parsed.maps
    assert drawing["circles"] == 2  # c has no location
    text = " ".join(parsed.text)
    assert "Not on the map: C, nowhere (c)." in text
    assert HOSTILE in text  # shown to the reader as text
    for tag, _ in parsed.tags:
        assert tag not in ("script", "b")


def test_sections_come_before_the_assumptions_as_given(bundled):
    consortium, result, _ = bundled["south-east-london"]
    fragment = '<table id="bench"><tr><td>1</td></tr></table>'
    page = render_html(
        result, consortium, sections=[("Bench <marks>", fragment)], title="My <title>"
    )
    parse(page)
    assert fragment in page
    assert "<h2>Bench &lt;marks&gt;</h2>" in page
    assert page.index('id="bench"') < page.index("<h2>Assumptions</h2>")
    assert "<h1>My &lt;title&gt;</h1>" in page


def test_infeasible_result_renders_status_message_and_conflicts(engine):
    data = copy.deepcopy(TINY)
    data["constraints"] = {
        "must_share": [{"service": "svc", "members": ["a", "c"]}],
        "contiguous": True,
        "max_group_size": 2,
    }
    consortium = engine.parse(dumps(data))
    result = engine.optimise(consortium)
    assert result.status == "infeasible" and result.conflicts
    page = render_html(result, consortium, registry=engine.registry)
    parsed = parse(page)
    assert_self_contained(page, parsed)
    text = " ".join(parsed.text)
    assert "infeasible" in text and "NO PLAN" in text
    assert "No grouping satisfies the constraints" in text
    for conflict in result.conflicts:
        assert conflict in text
    assert 'class="status flag"' in page
    assert not parsed.maps
    assert "<h2>Assumptions</h2>" in page


def test_a_plan_not_proven_optimal_is_flagged(bundled):
    consortium, result, _ = bundled["south-east-london"]
    stopped = attrs.evolve(result, status="feasible", gap=0.0125)
    page = render_html(stopped, consortium)
    text = " ".join(parse(page).text)
    assert "NOT PROVEN OPTIMAL" in text and "gap 1.25%" in text
    assert 'class="status flag"' in page
    assert 'class="status flag"' not in render_html(result, consortium)


def test_optimism_bias_shows_the_unadjusted_totals(engine):
    data = copy.deepcopy(TINY)
    data["consortium"]["optimism_bias"] = {"one_off": 0.5, "running": 0.1, "delay_years": 1}
    consortium = engine.parse(dumps(data))
    result = engine.optimise(consortium)
    assert result.unadjusted_totals is not None
    text = " ".join(parse(render_html(result, consortium)).text)
    assert "npv before optimism bias" in text
    assert "one_off = 0.5, running = 0.1, delay_years = 1" in text


# -- the drawings on their own ---------------------------------------------------------

NUMBER = re.compile(r'\b(cx|cy|x|y|x1|x2|y1|y2|width)="(-?[0-9.]+)"')


def _inside(drawing: str) -> tuple[float, float]:
    box = re.search(r'viewBox="0 0 ([0-9.]+) ([0-9.]+)"', drawing)
    return float(box.group(1)), float(box.group(2))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=30),
            st.one_of(st.none(), st.floats(-80, 80)),
            st.floats(-179, 179),
            st.one_of(st.none(), st.integers(0, 9)),
            st.booleans(),
        ),
        max_size=14,
    )
)
def test_map_stays_inside_its_panel_whatever_the_places_and_names(rows):
    """Any locations (one, several at one spot, far apart) and any ids: every circle
    and label lies inside the drawing, nothing is NaN, and text cannot open a tag."""
    numbers = sorted({group for *_, group, _ in rows if group is not None})
    members = [
        svg.MapMember(
            id=f"{text}{i}",
            name=text,
            lat=lat,
            lon=lon,
            group=None if group is None else numbers.index(group),
            taking_part=part,
        )
        for i, (text, lat, lon, group, part) in enumerate(rows)
    ]
    groups = [[m.id for m in members if m.group == g] for g in range(len(numbers))]
    drawing = svg.map_svg(members, [], groups, svg_id="m", title="<map>")
    parsed = parse(drawing)
    assert parsed.maps[0]["circles"] == sum(m.lat is not None for m in members)
    width, height = _inside(drawing)
    for tag, attributes in parsed.maps[0]["tags"]:
        for name in ("cx", "cy", "x", "y", "x1", "y1", "x2", "y2", "r"):
            if name in attributes:
                assert math.isfinite(float(attributes[name])), (tag, attributes)
        if tag == "circle":
            assert 0 <= float(attributes["cx"]) <= width
            assert 0 <= float(attributes["cy"]) <= height
        if tag == "text":
            assert 0 <= float(attributes["x"]) <= width
            assert 0 <= float(attributes["y"]) <= height + 200  # the legend is below the map
    for tag, _ in parsed.tags:
        assert tag in {"svg", "title", "rect", "line", "g", "circle", "text"}, tag


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.text(max_size=40), st.floats(-1e9, 1e9, allow_nan=False)), max_size=12)
)
def test_bars_stay_inside_the_drawing_and_label_every_value(items):
    drawing = svg.bar_chart(items, svg_id="b", title="bars")
    parsed = parse(drawing)
    width, _ = _inside(drawing)
    rects = [a for t, a in parsed.svgs[0]["tags"] if t == "rect"]
    assert len(rects) == len(items)
    for rect in rects:
        left, right = float(rect["x"]), float(rect["x"]) + float(rect["width"])
        assert left >= -0.05 and right <= width + 0.1
    text = " ".join(parsed.text)
    for _, value in items:
        assert svg.money(value) in text


def test_cash_flow_chart_marks_zero_and_the_payback_year():
    drawing = svg.cash_flow_chart(
        [-100.0, 60.0, 60.0], [-100.0, -40.0, 20.0], payback=2, svg_id="c", title="flows"
    )
    parsed = parse(drawing)
    assert "payback in year 2" in " ".join(parsed.text)
    assert any(t == "line" and a.get("class") == "payback" for t, a in parsed.svgs[0]["tags"])
    never = svg.cash_flow_chart([-100.0], [-100.0], payback=None, svg_id="c", title="flows")
    assert "no payback within the horizon" in never


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=1, max_size=31),
    st.one_of(st.none(), st.integers(0, 40)),
)
def test_cash_flow_chart_is_finite_for_any_flows(flows, payback):
    cumulative = list(itertools.accumulate(flows))
    drawing = svg.cash_flow_chart(flows, cumulative, payback=payback, svg_id="c", title="f")
    parsed = parse(drawing)
    width, height = _inside(drawing)
    for tag, attributes in parsed.svgs[0]["tags"]:
        for name in ("x", "y", "x1", "y1", "x2", "y2", "width", "height"):
            if name in attributes:
                value = float(attributes[name])
                assert math.isfinite(value) and -1 <= value <= max(width, height) + 1, (tag, name)


def test_the_report_command_writes_the_page_with_the_benchmark(tmp_path):
    from click.testing import CliRunner

    from sharedsvc.cli import main

    target = tmp_path / "report.html"
    sel = str(ROOT / "consortia" / "south-east-london.toml")
    result = CliRunner().invoke(
        main, ["report", sel, "-o", str(target), "-q"], env={"SHAREDSVC_DISABLE_PLUGINS": "1"}
    )
    assert result.exit_code == 0, result.stderr
    page = target.read_text(encoding="utf-8")
    assert "Benchmark: unit costs against members and peers" in page
    assert "cost per transaction" in page and "NelsonHall" in page
    assert page.index("Benchmark: unit costs") < page.index("Assumptions")
    refused = CliRunner().invoke(main, ["report", sel, "-o", sel])
    assert refused.exit_code == 2 and "consortium file itself" in refused.stderr
    csv = CliRunner().invoke(main, ["report", sel, "-o", str(tmp_path / "r.csv")])
    assert csv.exit_code == 2 and "the report is HTML" in csv.stderr
    assert not (tmp_path / "r.csv").exists()
