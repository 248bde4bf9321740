"""Small server-side SVG bar charts: plain, grouped or stacked bars with a legend, a title and a description.

The markup is built here so that pages need no JavaScript; every text is escaped.
Colours are presentation attributes (the content security policy refuses inline
styles), and never carry the meaning alone: the legend names each series and the
page shows the same numbers in a table below the chart.
"""

from __future__ import annotations

from markupsafe import Markup, escape

# Distinct on white at 3:1 or more (WCAG 1.4.11 for graphics), in the order series use them.
PALETTE = ("#0f6b45", "#1f5fa8", "#c2410c", "#6b3fa0", "#8a3a12", "#52525b")
INK = "#1d232a"
MUTED = "#555e68"
GRID = "#dde1da"
FONT = 13
LEFT, RIGHT, TOP = 36, 6, 16
AXIS_LABELS = 2 * FONT + 10  # up to two lines under each bar group
LEGEND_ROW = FONT + 10


def nice_scale(peak: int, ticks: int = 5) -> tuple[int, int]:
    """The axis top and tick step for counts up to `peak`: steps of 1, 2 or 5 times a power of ten."""
    peak = max(int(peak), 1)
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * magnitude
            if step * ticks >= peak:
                top = -(-peak // step) * step
                return top, step
        magnitude *= 10


def _text_width(text: str) -> int:
    # CJK characters are about a full em wide, Latin ones about half.
    return sum(FONT if ord(c) > 0x2E80 else FONT * 0.6 for c in text).__ceil__()


def _legend(names: list[str], width: int) -> list[list[tuple[int, str, int]]]:
    """Legend rows of (series index, name, x), wrapped to the chart's width."""
    rows: list[list[tuple[int, str, int]]] = [[]]
    x = LEFT
    for index, name in enumerate(names):
        item = FONT + 6 + _text_width(name) + 16
        if rows[-1] and x + item > width - RIGHT:
            rows.append([])
            x = LEFT
        rows[-1].append((index, name, x))
        x += item
    return rows


def _attrs(**values) -> str:
    # class_ → class, text_anchor → text-anchor; viewBox keeps its case.
    return " ".join(f'{key.rstrip("_").replace("_", "-")}="{escape(value)}"' for key, value in values.items())


def bar_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    labels: list[str],
    series: list[tuple[str, list[int]]],
    stacked: bool = False,
    group_names: list[str] | None = None,
    width: int = 420,
    plot_height: int = 160,
) -> Markup:
    """An SVG bar chart: one group of bars per label, one bar (or one segment when `stacked`) per series.

    `labels` may hold a second line after a newline (the year under a month, say);
    `group_names` name the groups in the bars' tooltips (the first line of the label if not given).
    """
    names = [name for name, _values in series]
    legend = _legend(names, width) if len(series) > 1 else []
    height = TOP + plot_height + AXIS_LABELS + len(legend) * LEGEND_ROW + 4
    count = len(labels)
    sums = [sum(values[i] for _name, values in series) for i in range(count)]
    peak = max(sums if stacked or len(series) == 1 else [v for _name, values in series for v in values], default=0)
    top, step = nice_scale(peak)
    base = TOP + plot_height
    slot = (width - LEFT - RIGHT) / max(count, 1)

    def y(value: float) -> float:
        return base - value / top * plot_height

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" {_attrs(class_="chart", viewBox=f"0 0 {width} {height}")} '
        f'role="img" aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>',
    ]
    for tick in range(0, top + 1, step):
        ty = round(y(tick), 1)
        parts.append(f"<line {_attrs(x1=LEFT, x2=width - RIGHT, y1=ty, y2=ty, stroke=GRID)} />")
        at = _attrs(x=LEFT - 6, y=round(ty + FONT / 3, 1), fill=MUTED, font_size=FONT, text_anchor="end")
        parts.append(f"<text {at}>{tick}</text>")
    parts.append(f"<line {_attrs(x1=LEFT, x2=width - RIGHT, y1=base, y2=base, stroke=MUTED)} />")
    for i, label in enumerate(labels):
        left = LEFT + i * slot
        inner = slot * 0.7
        x0 = left + (slot - inner) / 2
        month = group_names[i] if group_names else label.split("\n")[0]
        if stacked or len(series) == 1:
            running = 0
            for index, (name, values) in enumerate(series):
                if values[i]:
                    tip = f"{month} {name}：{values[i]}"
                    parts.append(
                        _bar(index, x0, y(running + values[i]), inner, y(running) - y(running + values[i]), tip)
                    )
                running += values[i]
            if sums[i]:
                at = _attrs(x=round(x0 + inner / 2, 1), y=round(y(sums[i]) - 4, 1), fill=INK, text_anchor="middle")
                parts.append(f'<text {at} font-size="{FONT - 1}">{sums[i]}</text>')
        else:
            each = inner / len(series)
            for index, (name, values) in enumerate(series):
                if values[i]:
                    tip = f"{month} {name}：{values[i]}"
                    parts.append(_bar(index, x0 + index * each, y(values[i]), each, y(0) - y(values[i]), tip))
        for line, text in enumerate(label.split("\n")[:2]):
            at = _attrs(x=round(left + slot / 2, 1), y=base + FONT + 4 + line * (FONT + 2), text_anchor="middle")
            parts.append(f'<text {at} fill="{MUTED}" font-size="{FONT}">{escape(text)}</text>')
    legend_top = base + AXIS_LABELS + 4
    for row, items in enumerate(legend):
        ly = legend_top + row * LEGEND_ROW
        for index, name, lx in items:
            parts.append(f"<rect {_attrs(x=lx, y=ly, width=FONT, height=FONT, fill=PALETTE[index % len(PALETTE)])} />")
            at = _attrs(x=lx + FONT + 6, y=ly + FONT - 1, fill=INK, font_size=FONT)
            parts.append(f"<text {at}>{escape(name)}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text and attribute above is escaped


def _bar(index: int, x: float, y: float, width: float, height: float, tip: str) -> str:
    colour = PALETTE[index % len(PALETTE)]
    box = _attrs(
        class_=f"chart__bar chart__bar--{index}",
        x=round(x, 1),
        y=round(y, 1),
        width=round(max(width - 1, 1), 1),
        height=round(height, 1),
        fill=colour,
    )
    return f"<rect {box}><title>{escape(tip)}</title></rect>"
