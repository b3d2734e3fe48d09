"""Charts drawn on the server as inline SVG: no JavaScript, no chart library, readable by
screen readers (role="img" with a title and a text summary; the page shows the numbers as a
table too), and printable.

Colours come from a palette distinguishable with the common colour-vision deficiencies
(Okabe & Ito), and every series also has a legend entry with its total.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")
_ids = itertools.count(1)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


def _nice_max(value: float) -> float:
    """A round axis maximum above `value` (1, 2, 5 x 10^n)."""
    if value <= 0:
        return 1
    magnitude = 1.0
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def stacked_bars(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    summary: str,
    width: int = 640,
    height: int = 220,
) -> Markup:
    """Vertical bars, one per label, stacked by series (e.g. visits per day by role)."""
    chart_id = f"chart-{next(_ids)}"
    left, bottom, top, right = 40, 40, 10, 10
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    axis_max = _nice_max(max(totals, default=0))
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(summary)}</desc>',
    ]
    for fraction in (0, 0.5, 1):  # horizontal grid lines with their values
        y = top + plot_h * (1 - fraction)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_number(axis_max * fraction)}</text>"
        )
    if labels:
        slot = plot_w / len(labels)
        bar_w = max(slot * 0.7, 1)
        every = max(1, len(labels) // 10)  # at most ~10 axis labels
        for index, label in enumerate(labels):
            x = left + slot * index + (slot - bar_w) / 2
            y = top + plot_h
            for colour, item in zip(itertools.cycle(PALETTE), series, strict=False):
                value = item.values[index]
                if value <= 0:
                    continue
                h = plot_h * value / axis_max
                y -= h
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                    f'fill="{colour}"><title>{escape(label)} · {escape(item.name)} : '
                    f"{_number(value)}</title></rect>"
                )
            if index % every == 0:
                parts.append(
                    f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 16}" '
                    f'text-anchor="middle">{escape(label)}</text>'
                )
    parts.append("</svg>")
    legend = "".join(
        f'<li><svg class="swatch" width="12" height="12" aria-hidden="true">'
        f'<rect width="12" height="12" fill="{colour}"/></svg> {escape(item.name)} '
        f"({_number(sum(item.values))})</li>"
        for colour, item in zip(itertools.cycle(PALETTE), series, strict=False)
    )
    return Markup(
        f'<figure class="chart-figure">{"".join(parts)}'
        f'<figcaption><ul class="legend">{legend}</ul></figcaption></figure>'
    )


def horizontal_bars(
    title: str, items: Sequence[tuple[str, float]], *, summary: str, width: int = 640
) -> Markup:
    """One labelled bar per item, longest first (top searches, open questions...)."""
    chart_id = f"chart-{next(_ids)}"
    row, label_w, right = 24, 220, 40
    height = max(row * len(items), row) + 10
    axis_max = _nice_max(max((value for _, value in items), default=0))
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(summary)}</desc>',
    ]
    plot_w = width - label_w - right
    for index, (label, value) in enumerate(items):
        y = 5 + index * row
        w = plot_w * value / axis_max if axis_max else 0
        short = label if len(label) <= 32 else label[:31] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(short)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row - 8}" '
            f'fill="{PALETTE[0]}"><title>{escape(label)} : {_number(value)}</title></rect>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 15}">{_number(value)}</text>'
        )
    parts.append("</svg>")
    return Markup(f'<figure class="chart-figure">{"".join(parts)}</figure>')
