"""Small inline-SVG charts for report.html: bars (grouped or stacked, with error bars), horizontal
bars and an interval gauge.

The report must open offline with no server and print to PDF, so charts are SVG text written into
the page; no plotting library is needed for bars. Colours are the Okabe–Ito palette, readable by
colour-blind readers; every bar carries a ``<title>`` with its exact value.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#8C6D31", "#999999",
           "#332288", "#44AA99", "#882255", "#DDCC77")
QUARANTINE_COLOUR = "#D00000"
INK = "#1f2933"
GRID = "#d9dee4"
MUTED = "#616e7c"
FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif\""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def num(value: object, sig: int = 6) -> str:
    """A number for people: thousands separators, `sig` significant digits, no exponent when avoidable."""
    if value is None:
        return "–"
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return "–"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if v.is_integer() and abs(v) < 1e15:
        return f"{int(v):,}".replace("-", "−")
    a = abs(v)
    if a >= 1e-4:
        decimals = max(0, sig - 1 - int(math.floor(math.log10(a))))
        text = f"{v:,.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text.replace("-", "−")
    return f"{v:.{sig - 1}e}".replace("-", "−")


def nice_step(span: float, ticks: int = 5) -> float:
    """A 1-2-5 step giving about `ticks` intervals over `span`."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * power:
            return m * power
    return 10 * power


def _axis_max(value: float) -> tuple[float, float]:
    value = value if value > 0 and math.isfinite(value) else 1.0
    step = nice_step(value)
    return math.ceil(value / step - 1e-9) * step, step


def _tick(v: float, step: float, percent: bool) -> str:
    if percent:
        return f"{v * 100:.0f} %" if step * 100 >= 1 else f"{v * 100:.1f} %"
    return num(v, 3)


def bar_chart(categories: Sequence[str], series: Sequence[tuple[str, Sequence[float], str]], *, label: str,
              y_label: str = "", stacked: bool = False, errors: Sequence[float] | None = None,
              annotations: Sequence[str] | None = None, reference: Sequence[tuple[float, str, str]] = (),
              percent: bool = False, width: int = 640, height: int = 260, y_max: float | None = None) -> str:
    """Vertical bars per category: one or more series, grouped or stacked.

    `series` is ``[(name, values, colour)]``; `errors` (± half-widths, first series only) draws error
    bars; `annotations` writes a short text above each category (e.g. ``n=12``); `reference` draws
    horizontal lines ``(value, text, colour)``.
    """
    left, right, top = 62, 14, 14
    rotate = len(categories) > 8 or max((len(c) for c in categories), default=0) > 10
    bottom = 78 if rotate else 40
    plot_w, plot_h = width - left - right, height - top - bottom
    n_cat = max(len(categories), 1)
    if stacked:
        tops = [sum(max(0.0, s[1][i]) for s in series) for i in range(len(categories))]
    else:
        tops = [max((s[1][i] for s in series), default=0.0) for i in range(len(categories))]
    if errors is not None:
        tops = [max(t, float(series[0][1][i]) + (errors[i] if i < len(errors) and math.isfinite(errors[i]) else 0.0))
                for i, t in enumerate(tops)]
    highest = max([*tops, *(r[0] for r in reference), 0.0])
    axis_max, step = _axis_max(y_max if y_max is not None else highest * 1.08)

    def y(v: float) -> float:
        return top + plot_h - (max(0.0, v) / axis_max) * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="{esc(label)}" {FONT} font-size="11">',
           f'<title>{esc(label)}</title>']
    v = 0.0
    while v <= axis_max + 1e-12:
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" fill="{MUTED}">{esc(_tick(v, step, percent))}</text>')
        v += step
    if y_label:
        out.append(f'<text transform="translate(14 {top + plot_h / 2:.0f}) rotate(-90)" text-anchor="middle" '
                   f'fill="{MUTED}">{esc(y_label)}</text>')
    band = plot_w / n_cat
    inner = band * 0.72
    for i, category in enumerate(categories):
        x0 = left + band * i + (band - inner) / 2
        base = 0.0
        for j, (name, values, fill) in enumerate(series):
            value = float(values[i])
            if stacked:
                x, w = x0, inner
                y_top, y_bottom = y(base + max(0.0, value)), y(base)
                base += max(0.0, value)
            else:
                w = inner / len(series)
                x = x0 + j * w
                y_top, y_bottom = y(value), y(0.0)
            text = f"{category}: {name} {_tick(value, step, percent) if percent else num(value)}"
            out.append(f'<rect x="{x:.1f}" y="{y_top:.1f}" width="{max(w - 1, 1):.1f}" '
                       f'height="{max(y_bottom - y_top, 0):.1f}" fill="{fill}"><title>{esc(text)}</title></rect>')
        if errors is not None and i < len(errors) and errors[i] and math.isfinite(errors[i]):
            value = float(series[0][1][i])
            w = inner if stacked or len(series) == 1 else inner / len(series)
            cx = x0 + w / 2
            lo, hi = y(value - errors[i]), y(value + errors[i])
            out.append(f'<path d="M{cx:.1f} {lo:.1f}V{hi:.1f}M{cx - 5:.1f} {lo:.1f}h10M{cx - 5:.1f} {hi:.1f}h10" '
                       f'stroke="{INK}" stroke-width="1.3" fill="none"/>')
        if annotations is not None and i < len(annotations) and annotations[i]:
            out.append(f'<text x="{x0 + inner / 2:.1f}" y="{max(y(tops[i]) - 4, top + 9):.1f}" text-anchor="middle" '
                       f'fill="{INK}" font-size="10">{esc(annotations[i])}</text>')
        cx = left + band * i + band / 2
        if rotate:
            out.append(f'<text transform="translate({cx:.1f} {top + plot_h + 12}) rotate(-40)" text-anchor="end" '
                       f'fill="{INK}">{esc(category)}</text>')
        else:
            out.append(f'<text x="{cx:.1f}" y="{top + plot_h + 16}" text-anchor="middle" fill="{INK}">{esc(category)}</text>')
    for value, text, stroke in reference:
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="{stroke}" '
                   f'stroke-width="1.5" stroke-dasharray="6 3"/>')
        out.append(f'<text x="{left + plot_w - 4}" y="{y(value) - 4:.1f}" text-anchor="end" fill="{stroke}" '
                   f'font-weight="600">{esc(text)}</text>')
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="{MUTED}"/>')
    out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{MUTED}"/>')
    out.append("</svg>")
    return "".join(out)


def hbar_chart(categories: Sequence[str], series: Sequence[tuple[str, Sequence[float], str]], *, label: str,
               width: int = 520, row: int = 22, label_width: int = 150) -> str:
    """Horizontal bars, stacked when there are several series; the total is written at the bar's end."""
    top, bottom, right = 8, 26, 46
    height = top + bottom + row * max(len(categories), 1)
    plot_w = width - label_width - right
    totals = [sum(max(0.0, float(s[1][i])) for s in series) for i in range(len(categories))]
    axis_max, step = _axis_max(max(totals, default=0.0))

    def x(v: float) -> float:
        return label_width + v / axis_max * plot_w

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" role="img" aria-label="{esc(label)}" {FONT} font-size="11">',
           f'<title>{esc(label)}</title>']
    v = 0.0
    while v <= axis_max + 1e-12:
        out.append(f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{top}" y2="{height - bottom}" stroke="{GRID}"/>')
        out.append(f'<text x="{x(v):.1f}" y="{height - bottom + 14}" text-anchor="middle" fill="{MUTED}">{esc(num(v, 3))}</text>')
        v += step
    for i, category in enumerate(categories):
        y0 = top + i * row + 3
        out.append(f'<text x="{label_width - 6}" y="{y0 + row / 2 + 1:.1f}" text-anchor="end" fill="{INK}">{esc(category)}</text>')
        base = 0.0
        for name, values, fill in series:
            value = max(0.0, float(values[i]))
            if value == 0:
                continue
            out.append(f'<rect x="{x(base):.1f}" y="{y0:.1f}" width="{max(x(base + value) - x(base), 1):.1f}" '
                       f'height="{row - 6}" fill="{fill}"><title>{esc(f"{category}: {name} {num(value)}")}</title></rect>')
            base += value
        out.append(f'<text x="{x(totals[i]) + 4:.1f}" y="{y0 + row / 2 + 1:.1f}" fill="{INK}" font-weight="600">'
                   f'{esc(num(totals[i]))}</text>')
    out.append("</svg>")
    return "".join(out)


def interval_gauge(*, label: str, estimate: float, low: float, high: float, applied: float,
                   target_low: float | None = None, width: int = 640, unit_max: float = 1.0,
                   estimate_text: str = "estimate", applied_text: str = "applied") -> str:
    """A horizontal 0..`unit_max` scale with an estimate, its confidence interval and the value applied.

    `target_low` shades the band the lower interval end must reach for the precision target
    (e.g. the 90/10 rule: ``p − 0.1 p``).
    """
    left, right, height = 20, 20, 92
    plot_w = width - left - right

    def x(v: float) -> float:
        v = min(max(v, 0.0), unit_max) if math.isfinite(v) else (unit_max if v > 0 else 0.0)
        return left + v / unit_max * plot_w

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" role="img" aria-label="{esc(label)}" {FONT} font-size="11">', f'<title>{esc(label)}</title>',
           f'<line x1="{left}" x2="{left + plot_w}" y1="52" y2="52" stroke="{MUTED}"/>']
    for i in range(11):
        v = unit_max * i / 10
        out.append(f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="52" y2="57" stroke="{MUTED}"/>')
        out.append(f'<text x="{x(v):.1f}" y="70" text-anchor="middle" fill="{MUTED}">{v * 100:.0f} %</text>')
    if target_low is not None:
        out.append(f'<rect x="{x(target_low):.1f}" y="30" width="{max(x(estimate) - x(target_low), 1):.1f}" height="16" '
                   f'fill="#009E73" opacity="0.22"><title>{esc("precision target band")}</title></rect>')
    out.append(f'<path d="M{x(low):.1f} 38H{x(high):.1f}M{x(low):.1f} 32V44M{x(high):.1f} 32V44" stroke="{INK}" '
               f'stroke-width="2" fill="none"><title>{esc(f"90 % interval {num(low, 4)} – {num(high, 4)}")}</title></path>')
    out.append(f'<circle cx="{x(estimate):.1f}" cy="38" r="5.5" fill="#0072B2" stroke="white"/>')
    out.append(f'<text x="{x(estimate):.1f}" y="22" text-anchor="middle" fill="#0072B2" font-weight="600">'
               f'{esc(estimate_text)} {num(estimate * 100, 4)} %</text>')
    out.append(f'<path d="M{x(applied):.1f} 46l-6 10h12z" fill="#D55E00"/>')
    out.append(f'<text x="{x(applied):.1f}" y="86" text-anchor="middle" fill="#D55E00" font-weight="600">'
               f'{esc(applied_text)} {num(applied * 100, 4)} %</text>')
    out.append("</svg>")
    return "".join(out)


def swatch(fill: str, shape: str = "box") -> str:
    """A legend key as a tiny inline SVG: box, dot, line, dashed or cross."""
    body = {
        "box": f'<rect x="1" y="3" width="12" height="10" fill="{fill}"/>',
        "dot": f'<circle cx="7" cy="8" r="4" fill="{fill}" stroke="white"/>',
        "ring": f'<circle cx="7" cy="8" r="4" fill="none" stroke="{fill}" stroke-width="1.6"/>',
        "line": f'<path d="M1 8H13" stroke="{fill}" stroke-width="3"/>',
        "dashed": f'<path d="M1 8H13" stroke="{fill}" stroke-width="2" stroke-dasharray="3 2"/>',
        "diamond": f'<path d="M7 2l6 6l-6 6l-6 -6z" fill="none" stroke="{fill}" stroke-width="1.8"/>',
        "area": f'<rect x="1" y="3" width="12" height="10" fill="{fill}" fill-opacity="0.25" stroke="{fill}"/>',
        "cross": f'<path d="M3 4L11 12M3 12L11 4" stroke="white" stroke-width="4"/>'
                 f'<path d="M3 4L11 12M3 12L11 4" stroke="{fill}" stroke-width="2.2"/>',
    }[shape]
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="14" height="16" viewBox="0 0 14 16" aria-hidden="true">{body}</svg>'


def legend(items: Sequence[tuple[str, str, str]]) -> str:
    """An HTML legend: ``[(text, colour, shape)]``."""
    parts = [f'<span class="key">{swatch(fill, shape)} {esc(text)}</span>' for text, fill, shape in items]
    return f'<div class="legend">{"".join(parts)}</div>'
