"""Charts drawn on the server as SVG: no script, no chart library, no inline style (colours
come from the console's stylesheet through class names). Each chart is an image with a
title; the page puts a table of the same numbers next to it."""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 66, 10, 12, 30
Point = tuple[str, int | None]


def nice_ceiling(value: float) -> int:
    """The axis top: 1, 2 or 5 times a power of ten, at least `value` (and at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return int(step * power)
    return int(10 * power)


def _frame(chart_id: str, title: str, body: list[str], top: int, labels: Sequence[str]) -> Markup:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title" preserveAspectRatio="none">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
    ]
    for share in (0, 0.5, 1):
        y = TOP + plot_h * (1 - share)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        value = top * share
        text = f"{value:g}" if value != int(value) else f"{int(value)}"
        parts.append(
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{text}</text>'
        )
    if labels:
        picks = sorted({0, len(labels) // 2, len(labels) - 1})
        for index in picks:
            x = LEFT + plot_w * (index + 0.5) / len(labels)
            anchor = "start" if index == 0 else "end" if index == len(labels) - 1 else "middle"
            parts.append(
                f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}">'
                f"{escape(labels[index])}</text>"
            )
    parts += body
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(chart_id: str, title: str, points: Sequence[Point]) -> Markup:
    """One bar per point (a day, an hour)."""
    top = nice_ceiling(max((v or 0 for _, v in points), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(points))
    body = []
    for index, (label, value) in enumerate(points):
        if not value:
            continue
        height = plot_h * value / top
        x = LEFT + slot * index + slot * 0.15
        body.append(
            f'<rect class="bar" x="{x:.2f}" y="{TOP + plot_h - height:.2f}" '
            f'width="{max(0.5, slot * 0.7):.2f}" height="{height:.2f}">'
            f"<title>{escape(label)}: {value}</title></rect>"
        )
    return _frame(chart_id, title, body, top, [label for label, _ in points])


def line_chart(chart_id: str, title: str, points: Sequence[Point]) -> Markup:
    """A line through the points; a gap where there is no data (None)."""
    top = nice_ceiling(max((v or 0 for _, v in points), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(points))
    runs: list[list[str]] = [[]]
    for index, (_, value) in enumerate(points):
        if value is None:
            if runs[-1]:
                runs.append([])
            continue
        x = LEFT + step * (index + 0.5)
        y = TOP + plot_h * (1 - value / top)
        runs[-1].append(f"{x:.1f},{y:.1f}")
    body = [f'<polyline class="line" points="{" ".join(run)}"/>' for run in runs if run]
    return _frame(chart_id, title, body, top, [label for label, _ in points])


def option_bars(chart_id: str, title: str, rows: Sequence[tuple[str, str, float]]) -> Markup:
    """A poll's options as horizontal bars: label, the text beside the bar, percent."""
    row_h, label_w, width = 34, 150, 480
    height = row_h * max(1, len(rows)) + 8
    parts = [
        f'<svg class="chart options" id="{chart_id}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
    ]
    bar_w = width - label_w - 120
    for index, (label, text, percent) in enumerate(rows):
        y = 4 + index * row_h
        parts.append(f'<text class="label" x="0" y="{y + 21}">{escape(label[:18])}</text>')
        parts.append(f'<rect class="track" x="{label_w}" y="{y + 6}" width="{bar_w}" height="20"/>')
        if percent > 0:
            parts.append(
                f'<rect class="bar" x="{label_w}" y="{y + 6}" '
                f'width="{bar_w * percent / 100:.1f}" height="20"/>'
            )
        parts.append(
            f'<text class="value" x="{label_w + bar_w + 8}" y="{y + 21}">{escape(text)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
