"""Server-side charts as inline SVG: no JavaScript and nothing loaded from elsewhere."""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 10, 26


def _nice_ceiling(value: float) -> float:
    """The smallest 1/2/5×10ⁿ at or above `value`, so gridlines fall on round numbers."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def _fmt(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def bar_chart(
    points: Sequence[tuple[str, float]], *, title: str, color: str = "#4f46e5", unit: str = ""
) -> SafeString:
    """A labelled bar chart; each bar has a tooltip with its exact value."""
    highest = max((v for _, v in points), default=0)
    top = _nice_ceiling(highest)
    if all(float(v).is_integer() for _, v in points):
        top = max(top, 4.0)  # counts: gridlines on whole numbers (0, 1, 2, 3, 4 at least)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(points))
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i in range(5):  # gridlines at 0, ¼, ½, ¾ and the top
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">'
            f"{_fmt(value)}</text>"
        )
    every = max(1, math.ceil(len(points) / 10))  # at most ~10 x labels
    for i, (label, value) in enumerate(points):
        height = plot_h * value / top if top else 0
        x = LEFT + i * slot + slot * 0.15
        y = TOP + plot_h - height
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{height:.1f}" fill="{escape(color)}" rx="2">'
            f"<title>{escape(label)}: {value:g}{escape(unit)}</title></rect>"
        )
        if i % every == 0:
            parts.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - 8}" '
                f'text-anchor="middle" class="axis">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every interpolated text above is escaped
