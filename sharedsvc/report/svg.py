"""Small inline-SVG drawings for the HTML report: a map of groups, bars, a cash-flow line.

Written by hand rather than with a plotting library so that the report stays one
self-contained file with no new dependency, and so that the same input gives the same
bytes (coordinates are printed with fixed decimals, everything is iterated in a given
order). Every drawing has a `viewBox` and no fixed size, so it scales for print. Every
text is escaped here: callers pass plain strings. Nothing here computes money; it only
places given numbers.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from sharedsvc.report.text import money, printable

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
"""Okabe and Ito's colour-blind-safe qualitative palette (black left out: it is the
ink). Groups past the seventh reuse colours; their numbers, printed in the circles and
the legend, still tell them apart, in black and white too."""
ALONE = "#8c8c8c"
INK = "#222222"
FAINT = "#c8c8c8"
POSITIVE = "#0072B2"
NEGATIVE = "#D55E00"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
CHAR_WIDTH = 0.6
"""A character's width as a share of the font size: an estimate, for keeping labels
inside the panel without measuring text."""


def esc(value: object) -> str:
    """Text made safe for HTML and SVG: control and bidirectional-override characters
    shown as escapes (as in the text report), then markup characters escaped."""
    return html.escape(printable(str(value)), quote=True)


def _n(value: float) -> str:
    """A coordinate with one decimal and no negative zero: stable bytes."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _text_width(text: str, size: float) -> float:
    return len(text) * size * CHAR_WIDTH


def _clip(text: str, size: float, room: float) -> str:
    """`text`, shortened with an ellipsis to fit in `room` pixels."""
    if _text_width(text, size) <= room:
        return text
    keep = max(1, int(room / (size * CHAR_WIDTH)) - 1)
    return text[:keep] + "…"


def _open(svg_id: str, width: float, height: float, title: str, css_class: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{esc(svg_id)}" class="{esc(css_class)}" '
        f'viewBox="0 0 {_n(width)} {_n(height)}" role="img" '
        f'aria-labelledby="{esc(svg_id)}-title" font-family="{esc(FONT)}">'
        f'<title id="{esc(svg_id)}-title">{esc(title)}</title>'
    )


def group_colour(index: int) -> str:
    """The colour of the group numbered `index` (0-based) in a service's map and table."""
    return PALETTE[index % len(PALETTE)]


# -- the map ---------------------------------------------------------------------------


class MapMember(NamedTuple):
    """A member as the map draws it in one service."""

    id: str
    name: str
    """Shown as the circle's tooltip."""
    lat: float | None
    lon: float | None
    group: int | None
    """Its group's number (0-based) in the service, or None when it is alone or not in."""
    taking_part: bool


def _project(members: Sequence[MapMember], box: tuple[float, float, float, float]):
    """Equirectangular positions fitted into `box` (x0, y0, x1, y1), one scale for both
    axes so that distances keep their shape; longitude shrunk by cos(mean latitude)."""
    placed = [m for m in members if m.lat is not None and m.lon is not None]
    if not placed:
        return {}
    mean_lat = sum(m.lat for m in placed) / len(placed)
    shrink = math.cos(math.radians(mean_lat))
    xs = {m.id: m.lon * shrink for m in placed}
    ys = {m.id: -m.lat for m in placed}
    x0, y0, x1, y1 = box
    span_x = max(xs.values()) - min(xs.values())
    span_y = max(ys.values()) - min(ys.values())
    scale = min(
        (x1 - x0) / span_x if span_x > 1e-12 else math.inf,
        (y1 - y0) / span_y if span_y > 1e-12 else math.inf,
    )
    if not math.isfinite(scale):
        scale = 0.0
    mid_x, mid_y = (
        (min(xs.values()) + max(xs.values())) / 2,
        (min(ys.values()) + max(ys.values())) / 2,
    )
    centre_x, centre_y = (x0 + x1) / 2, (y0 + y1) / 2
    return {
        m.id: (centre_x + (xs[m.id] - mid_x) * scale, centre_y + (ys[m.id] - mid_y) * scale)
        for m in placed
    }


def _group_links(
    group: Sequence[str], neighbours: set[frozenset[str]], at: dict[str, tuple[float, float]]
) -> list[tuple[str, str, bool]]:
    """The links that show a group as one: every neighbour pair inside it, then the
    shortest other links that join its pieces (Kruskal), as (a, b, is_neighbour)."""
    inside = sorted(m for m in group if m in at)
    parent = {m: m for m in inside}

    def root(m: str) -> str:
        while parent[m] != m:
            parent[m] = parent[parent[m]]
            m = parent[m]
        return m

    pairs = [(a, b) for i, a in enumerate(inside) for b in inside[i + 1 :]]
    links = []
    for a, b in pairs:
        if frozenset((a, b)) in neighbours:
            links.append((a, b, True))
            parent[root(a)] = root(b)

    def distance(pair: tuple[str, str]) -> float:
        (ax, ay), (bx, by) = at[pair[0]], at[pair[1]]
        return math.hypot(ax - bx, ay - by)

    for a, b in sorted(pairs, key=lambda p: (round(distance(p), 6), p)):
        if root(a) != root(b):
            links.append((a, b, False))
            parent[root(a)] = root(b)
    return links


def _legend(items: Sequence[tuple[str, str]], top: float, width: float, margin: float):
    """Legend entries (swatch markup at 0,0, label) laid out in rows; (markup, height)."""
    size = 10.0
    column = max(_text_width(label, size) for _, label in items) + 34
    per_row = max(1, int((width - 2 * margin) // column))
    rows = math.ceil(len(items) / per_row)
    out = []
    for i, (swatch, label) in enumerate(items):
        x = margin + (i % per_row) * column
        y = top + (i // per_row) * 18.0
        out.append(
            f'<g transform="translate({_n(x)},{_n(y)})">{swatch}'
            f'<text x="26" y="4" font-size="{_n(size)}" fill="{INK}">'
            f"{esc(label)}</text></g>"
        )
    return "".join(out), rows * 18.0


_DOT = '<rect x="2" y="-6" width="12" height="12" rx="6" '
"""A legend's dot: drawn as a round rect so that the map's circles are its members."""


def map_svg(
    members: Sequence[MapMember],
    neighbours: Iterable[tuple[str, str]],
    groups: Sequence[Sequence[str]],
    *,
    svg_id: str,
    title: str,
    width: float = 640.0,
    height: float = 420.0,
) -> str:
    """A map of one service's plan: members at their locations, coloured by group.

    Neighbour links are thin grey lines; links inside a group are thick lines in the
    group's colour (dotted where the members are not neighbours); a member alone is
    grey and one not taking part is hollow and dashed. Members without a location are
    left out (the caller lists them). The legend sits below the map, inside the drawing.
    """
    margin = 34.0
    label_size = 11.0 if len(members) <= 12 else 9.0
    radius = 8.0 if len(members) <= 12 else 6.5
    at = _project(members, (margin, margin, width - margin, height - margin))
    pairs = sorted({tuple(sorted(p)) for p in neighbours if p[0] != p[1]})
    neighbour_set = {frozenset(p) for p in pairs}
    parts = []
    for a, b in pairs:
        if a in at and b in at:
            (ax, ay), (bx, by) = at[a], at[b]
            parts.append(
                f'<line x1="{_n(ax)}" y1="{_n(ay)}" x2="{_n(bx)}" y2="{_n(by)}" '
                f'stroke="{FAINT}" stroke-width="1"/>'
            )
    for index, group in enumerate(groups):
        colour = group_colour(index)
        for a, b, is_neighbour in _group_links(group, neighbour_set, at):
            (ax, ay), (bx, by) = at[a], at[b]
            dash = "" if is_neighbour else ' stroke-dasharray="2 5" stroke-linecap="round"'
            parts.append(
                f'<line x1="{_n(ax)}" y1="{_n(ay)}" x2="{_n(bx)}" y2="{_n(by)}" '
                f'stroke="{colour}" stroke-width="5"{dash}/>'
            )
    # labels after every circle, so that no circle is drawn over a label
    labels: list[str] = []
    taken: list[Box] = [(x - radius, y - radius, x + radius, y + radius) for x, y in at.values()]
    for member in members:
        if member.id not in at:
            continue
        x, y = at[member.id]
        if member.group is not None:
            style = f'fill="{group_colour(member.group)}" stroke="{INK}" stroke-width="1.2"'
        elif member.taking_part:
            style = f'fill="{ALONE}" stroke="{INK}" stroke-width="1.2"'
        else:
            style = f'fill="#ffffff" stroke="{ALONE}" stroke-width="1.5" stroke-dasharray="3 2"'
        what = (
            f"group {member.group + 1}"
            if member.group is not None
            else ("alone" if member.taking_part else "not taking part")
        )
        parts.append(
            f'<g class="member"><circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(radius)}" {style}>'
            f"<title>{esc(f'{member.name} ({member.id}): {what}')}</title></circle>"
        )
        if member.group is not None:
            number = str(member.group + 1)
            parts.append(
                f'<text x="{_n(x)}" y="{_n(y + radius * 0.4)}" font-size="{_n(radius * 1.15)}" '
                f'text-anchor="middle" fill="#ffffff" stroke="{INK}" stroke-width="0.6" '
                f'paint-order="stroke" font-weight="bold">{number}</text>'
            )
        parts.append("</g>")
        labels.append(_label(member.id, (x, y), radius, label_size, (width, height), taken))
    parts += labels
    if not at:
        parts.append(
            f'<text x="{_n(width / 2)}" y="{_n(height / 2)}" text-anchor="middle" '
            f'font-size="13" fill="{INK}">No member has a location.</text>'
        )
    items = [
        (
            f'{_DOT}fill="{group_colour(i)}" stroke="{INK}"/>',
            f"group {i + 1} ({len(g)})",
        )
        for i, g in enumerate(groups)
    ]
    items += [
        (f'{_DOT}fill="{ALONE}" stroke="{INK}"/>', "alone"),
        (
            f'{_DOT}fill="#ffffff" stroke="{ALONE}" stroke-width="1.5" stroke-dasharray="3 2"/>',
            "not taking part",
        ),
        (f'<line x1="0" y1="0" x2="18" y2="0" stroke="{FAINT}" stroke-width="1"/>', "neighbours"),
        (
            f'<line x1="0" y1="0" x2="18" y2="0" stroke="{INK}" stroke-width="4"/>',
            "same group, neighbours",
        ),
        (
            f'<line x1="0" y1="0" x2="18" y2="0" stroke="{INK}" stroke-width="4" '
            'stroke-dasharray="2 5" stroke-linecap="round"/>',
            "same group, apart",
        ),
    ]
    legend, legend_height = _legend(items, height + 6, width, 12.0)
    total = height + legend_height + 10
    return (
        _open(svg_id, width, total, title, "map")
        + f'<rect x="0.5" y="0.5" width="{_n(width - 1)}" height="{_n(height - 1)}" '
        f'fill="#ffffff" stroke="{FAINT}"/>' + "".join(parts) + legend + "</svg>"
    )


Box = tuple[float, float, float, float]


def _overlap(a: Box, b: Box) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return width * height if width > 0 and height > 0 else 0.0


def _label(
    text: str,
    at: tuple[float, float],
    radius: float,
    size: float,
    panel: tuple[float, float],
    taken: list[Box],
) -> str:
    """A member's id beside its circle, at the first of eight places round it that
    overlaps least with the labels and circles already drawn, shortened only where no
    place has room inside the panel; its box is added to `taken`."""
    x, y = at
    width, height = panel
    gap, diagonal = radius + 3, radius * 0.75 + 2
    places = (
        ("start", x + gap, y + size * 0.35),
        ("end", x - gap, y + size * 0.35),
        ("start", x + diagonal, y - diagonal),
        ("start", x + diagonal, y + diagonal + size * 0.7),
        ("end", x - diagonal, y - diagonal),
        ("end", x - diagonal, y + diagonal + size * 0.7),
        ("middle", x, y - gap),
        ("middle", x, y + gap + size * 0.7),
    )
    best = None
    for order, (anchor, lx, baseline) in enumerate(places):
        if anchor == "start":
            room = width - 4 - lx
        elif anchor == "end":
            room = lx - 4
        else:
            room = 2 * min(lx - 4, width - 4 - lx)
        shown = _clip(text, size, max(room, size))
        wide = _text_width(shown, size)
        x0 = {"start": lx, "end": lx - wide, "middle": lx - wide / 2}[anchor]
        box = (x0, baseline - size * 0.8, x0 + wide, baseline + size * 0.25)
        outside = max(0.0, 2 - box[1]) + max(0.0, box[3] - (height - 2))
        score = (
            (len(text) - len(shown)) * 1e6
            + outside * 1e4
            + sum(_overlap(box, other) for other in taken)
        )
        if best is None or (score, order) < best[0]:
            best = ((score, order), anchor, lx, baseline, shown, box)
    _, anchor, lx, baseline, shown, box = best
    taken.append(box)
    return (
        f'<text x="{_n(lx)}" y="{_n(baseline)}" font-size="{_n(size)}" '
        f'text-anchor="{anchor}" fill="{INK}" stroke="#ffffff" stroke-width="3" '
        f'paint-order="stroke">{esc(shown)}</text>'
    )


# -- bars ------------------------------------------------------------------------------


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    svg_id: str,
    title: str,
    width: float = 640.0,
) -> str:
    """Horizontal bars, one per (label, value): positive to the right of a zero axis,
    negative to its left, each with its value in pounds."""
    size = 11.0
    bar, gap = 16.0, 6.0
    top, bottom = 8.0, 8.0
    label_width = min(180.0, max([_text_width(label, size) for label, _ in items] + [40.0]) + 8)
    values = [v for _, v in items]
    value_room = max([_text_width(money(v), size) for v in values] + [0.0]) + 8
    low, high = min([0.0, *values]), max([0.0, *values])
    left = label_width + (value_room if low < 0 else 4.0)
    right = width - (value_room if high > 0 else 4.0)
    span = high - low
    scale = (right - left) / span if span >= 0.005 else 0.0  # less than a penny: no bars
    zero = left - low * scale
    height = top + bottom + max(1, len(items)) * (bar + gap)
    parts = []
    for i, (label, value) in enumerate(items):
        y = top + i * (bar + gap)
        middle = y + bar / 2 + size * 0.35
        start, end = sorted((zero, zero + value * scale))
        colour = POSITIVE if value >= 0 else NEGATIVE
        parts.append(
            f'<text x="{_n(label_width - 6)}" y="{_n(middle)}" font-size="{_n(size)}" '
            f'text-anchor="end" fill="{INK}">{esc(_clip(label, size, label_width - 8))}'
            f"<title>{esc(label)}</title></text>"
        )
        parts.append(
            f'<rect x="{_n(start)}" y="{_n(y)}" width="{_n(max(end - start, 0.0))}" '
            f'height="{_n(bar)}" fill="{colour}" stroke="{INK}" stroke-width="0.5"/>'
        )
        if value >= 0:
            vx, anchor = end + 4, "start"
        else:
            vx, anchor = start - 4, "end"
        parts.append(
            f'<text x="{_n(vx)}" y="{_n(middle)}" font-size="{_n(size)}" '
            f'text-anchor="{anchor}" fill="{INK}">{esc(money(value))}</text>'
        )
    if not items:
        parts.append(
            f'<text x="{_n(width / 2)}" y="{_n(top + bar)}" text-anchor="middle" '
            f'font-size="{_n(size)}" fill="{INK}">Nothing to show.</text>'
        )
    parts.append(
        f'<line x1="{_n(zero)}" y1="{_n(top - 4)}" x2="{_n(zero)}" y2="{_n(height - bottom + 4)}" '
        f'stroke="{INK}" stroke-width="1.2"/>'
    )
    return _open(svg_id, width, height, title, "bars") + "".join(parts) + "</svg>"


# -- the cash-flow chart ---------------------------------------------------------------


def _nice_step(span: float, count: int = 5) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about `count` ticks."""
    if span < 0.01:  # less than a penny apart: a pound a tick
        return 1.0
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    return next(k * power for k in (1, 2, 5, 10) if k * power >= raw)


def short_money(value: float) -> str:
    """Pounds for an axis: £1.5m, -£250k, £0."""
    sign = "-" if value < 0 else ""
    size = abs(value)
    if size >= 1e6:
        text = f"{size / 1e6:.2f}".rstrip("0").rstrip(".") + "m"
    elif size >= 1e3:
        text = f"{size / 1e3:.1f}".rstrip("0").rstrip(".") + "k"
    else:
        text = f"{size:.0f}"
    return "£0" if text == "0" else f"{sign}£{text}"


def cash_flow_chart(
    discounted: Sequence[float],
    cumulative: Sequence[float],
    *,
    payback: int | None,
    svg_id: str,
    title: str,
    width: float = 640.0,
    height: float = 300.0,
) -> str:
    """Each year's discounted cash flow as a light bar and the running total as a step
    line, with the zero line and the payback year marked (year 0 is the start)."""
    size = 11.0
    left, right, top, bottom = 64.0, 16.0, 14.0, 40.0
    years = len(cumulative)
    values = [*discounted, *cumulative, 0.0]
    low, high = min(values), max(values)
    step = _nice_step(high - low)
    low_tick, high_tick = math.floor(low / step) * step, math.ceil(high / step) * step
    if high_tick == low_tick:
        high_tick = low_tick + step
    plot_w, plot_h = width - left - right, height - top - bottom
    column = plot_w / max(years, 1)

    def y_of(value: float) -> float:
        return top + (high_tick - value) / (high_tick - low_tick) * plot_h

    def x_of(year: float) -> float:
        return left + year * column

    parts = []
    tick = low_tick
    while tick <= high_tick + step / 2:
        y = y_of(tick)
        parts.append(
            f'<line x1="{_n(left)}" y1="{_n(y)}" x2="{_n(width - right)}" y2="{_n(y)}" '
            f'stroke="#eeeeee" stroke-width="1"/>'
            f'<text x="{_n(left - 6)}" y="{_n(y + size * 0.35)}" font-size="{_n(size)}" '
            f'text-anchor="end" fill="{INK}">{esc(short_money(tick))}</text>'
        )
        tick += step
    zero = y_of(0.0)
    for year, value in enumerate(discounted):
        y0, y1 = sorted((zero, y_of(value)))
        parts.append(
            f'<rect x="{_n(x_of(year) + column * 0.2)}" y="{_n(y0)}" width="{_n(column * 0.6)}" '
            f'height="{_n(y1 - y0)}" fill="{FAINT}" stroke="#999999" stroke-width="0.5">'
            f"<title>{esc(f'year {year}: {money(value)} discounted')}</title></rect>"
        )
        parts.append(
            f'<text x="{_n(x_of(year) + column / 2)}" y="{_n(height - bottom + 16)}" '
            f'font-size="{_n(size)}" text-anchor="middle" fill="{INK}">{year}</text>'
        )
    parts.append(
        f'<text x="{_n(left + plot_w / 2)}" y="{_n(height - 6)}" font-size="{_n(size)}" '
        f'text-anchor="middle" fill="{INK}">year (0 is the start)</text>'
    )
    parts.append(
        f'<line x1="{_n(left)}" y1="{_n(zero)}" x2="{_n(width - right)}" y2="{_n(zero)}" '
        f'stroke="{INK}" stroke-width="1.2"/>'
    )
    if cumulative:
        points = []
        for year, value in enumerate(cumulative):
            y = y_of(value)
            points += [f"{_n(x_of(year))},{_n(y)}", f"{_n(x_of(year + 1))},{_n(y)}"]
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{POSITIVE}" '
            f'stroke-width="2.5"/>'
        )
        for year, value in enumerate(cumulative):
            parts.append(
                f'<rect x="{_n(x_of(year + 0.5) - 3)}" y="{_n(y_of(value) - 3)}" width="6" '
                f'height="6" fill="{POSITIVE}">'
                f"<title>{esc(f'year {year}: cumulative {money(value)}')}</title></rect>"
            )
    if payback is not None and 0 <= payback < years:
        x = x_of(payback + 0.5)
        anchor = "end" if x > left + plot_w * 0.7 else "start"
        dx = -4 if anchor == "end" else 4
        parts.append(
            f'<line class="payback" x1="{_n(x)}" y1="{_n(top)}" x2="{_n(x)}" '
            f'y2="{_n(height - bottom)}" stroke="{INK}" stroke-width="1.2" '
            'stroke-dasharray="5 3"/>'
            f'<text x="{_n(x + dx)}" y="{_n(top + size)}" font-size="{_n(size)}" '
            f'text-anchor="{anchor}" fill="{INK}">payback in year {payback}</text>'
        )
    else:
        parts.append(
            f'<text x="{_n(width - right - 4)}" y="{_n(top + size)}" font-size="{_n(size)}" '
            f'text-anchor="end" fill="{INK}">no payback within the horizon</text>'
        )
    return _open(svg_id, width, height, title, "cash-flow") + "".join(parts) + "</svg>"
