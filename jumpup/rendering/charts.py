"""Report charts as inline SVG: vector (sharp on paper and in PDF), text in the page's CJK font,
and about a thousand times cheaper than a plotting library per firm.

Pure functions: numbers in, an ``<svg>`` string out. Every text is escaped.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np

FAMILY_COLOUR, PEER_COLOUR = "#4a78b5", "#d9534f"
BAND_COLOUR, MEDIAN_COLOUR, ACTUAL_COLOUR, THRESHOLD_COLOUR = "#4a78b5", "#1f4e8c", "#222222", "#888888"


def _num(value: float) -> str:
    return f"{value:.1f}"


def nice_ticks(low: float, high: float, target: int = 5) -> list[float]:
    """About ``target`` round ticks (1, 2, 2.5, 5 x 10^n apart) from at or below ``low`` to at least ``high``."""
    if not np.isfinite(low) or not np.isfinite(high) or high <= low:
        return [low] if np.isfinite(low) else []
    raw = (high - low) / max(target - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = min((m * power for m in (1, 2, 2.5, 5, 10)), key=lambda s: abs(math.log(s / raw)))
    value = math.floor(low / step) * step
    ticks = [round(value, 10)]
    while ticks[-1] < high - step * 1e-9:
        value += step
        ticks.append(round(value, 10))
    return ticks


def spread_labels(positions: list[float], gap: float, low: float, high: float) -> list[float]:
    """Move label positions apart so neighbours are at least ``gap`` apart, staying within [low, high].

    Labels keep their order; a crowded cluster is centred on where its members want to be.
    """
    if not positions:
        return []
    order = np.argsort(positions, kind="stable")
    wanted = np.asarray(positions, dtype="float64")[order]
    placed = wanted.copy()
    for _ in range(len(placed) * 2):  # push apart, then pull the clusters back inside the bounds
        for i in range(1, len(placed)):
            placed[i] = max(placed[i], placed[i - 1] + gap)
        overflow = placed[-1] - high
        if overflow > 0:
            placed -= overflow
        underflow = low - placed[0]
        if underflow > 0:
            placed += underflow
        if all(placed[i] - placed[i - 1] >= gap - 1e-9 for i in range(1, len(placed))):
            break
    out = np.empty_like(placed)
    out[order] = placed
    return out.tolist()


def _open_with_y_grid(
    width: int, height: int, left: int, right: int, ticks: list[float], y, label=lambda tick: f"{tick:,.0f}"
) -> list[str]:
    """The ``<svg>`` opening and horizontal grid lines with their labels, shared by the line charts."""
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'font-size="12">'
    ]
    for tick in ticks:
        parts.append(
            f'<line x1="{left}" y1="{_num(y(tick))}" x2="{width - right}" y2="{_num(y(tick))}" stroke="#eeeeee"/>'
            f'<text x="{left - 6}" y="{_num(y(tick) + 4)}" text-anchor="end" fill="#666" font-size="11">'
            f"{escape(label(tick))}</text>"
        )
    return parts


def family_bars(labels: list[str], values: list[float], medians: list[float], peer_label: str) -> str:
    """Horizontal 0–100 bars per indicator family, the peer median as a red tick."""
    width, row, left, right, top = 720, 26, 130, 60, 22
    height = top + row * len(labels) + 26
    plot = width - left - right

    def x(v: float) -> float:
        return left + plot * min(max(v, 0.0), 100.0) / 100.0

    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'font-size="13">'
    ]
    for tick in (0, 25, 50, 75, 100):
        parts.append(
            f'<line x1="{_num(x(tick))}" y1="{top - 4}" x2="{_num(x(tick))}" y2="{height - 22}" stroke="#e3e3e3"/>'
            f'<text x="{_num(x(tick))}" y="{height - 6}" text-anchor="middle" fill="#666" font-size="11">{tick}</text>'
        )
    for i, (label, value, median) in enumerate(zip(labels, values, medians, strict=True)):
        y = top + i * row
        parts.append(f'<text x="{left - 8}" y="{y + row / 2 + 4:.1f}" text-anchor="end">{escape(str(label))}</text>')
        if value is not None and np.isfinite(value):
            parts.append(
                f'<rect class="family-bar" x="{left}" y="{y + 6}" width="{_num(x(value) - left)}" height="{row - 12}" '
                f'fill="{FAMILY_COLOUR}"><title>{escape(str(label))} {value:.0f}</title></rect>'
                f'<text x="{_num(x(value) + 4)}" y="{y + row / 2 + 4:.1f}" fill="#333" font-size="11">'
                f"{value:.0f}</text>"
            )
        else:
            parts.append(f'<text x="{left + 4}" y="{y + row / 2 + 4:.1f}" fill="#999" font-size="11">—</text>')
        if median is not None and np.isfinite(median):
            parts.append(
                f'<line class="peer-median" x1="{_num(x(median))}" y1="{y + 2}" x2="{_num(x(median))}" '
                f'y2="{y + row - 2}" stroke="{PEER_COLOUR}" stroke-width="3"/>'
            )
    if any(m is not None and np.isfinite(m) for m in medians):
        parts.append(
            f'<line x1="{width - right - 120}" y1="10" x2="{width - right - 120}" y2="20" stroke="{PEER_COLOUR}" '
            f'stroke-width="3"/><text x="{width - right - 114}" y="19" font-size="11">{escape(peer_label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def fan_chart(
    history_years: list[int],
    history_values: list[float],
    path_years: list[int],
    quantiles: dict[str, list[float]],
    thresholds: dict[str, float],
    text: dict[str, str],
) -> str:
    """Revenue history and the predicted q10–q90 / q25–q75 bands and median (억 won), size thresholds drawn in.

    ``quantiles`` maps q10, q25, q50, q75, q90 to one value per path year. Threshold labels sit in
    the right margin and are moved apart so that close thresholds stay readable.
    """
    width, height, left, right, top, bottom = 720, 280, 64, 150, 22, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    last_year, last_value = history_years[-1], history_values[-1]
    years = [*history_years, *path_years]
    band = {name: [last_value, *values] for name, values in quantiles.items()}
    band_years = [last_year, *path_years]
    data_top = max([*history_values, *band["q90"]]) * 1.05
    shown = {name: value for name, value in thresholds.items() if value and 0 < value < data_top * 1.5}
    y_top = max([data_top, *(v * 1.05 for v in shown.values())])
    y_ticks = nice_ticks(0.0, y_top)
    y_top = max(y_top, y_ticks[-1]) if y_ticks else y_top
    x_low, x_high = min(years), max(years)

    def x(year: float) -> float:
        return left + plot_w * (year - x_low) / max(x_high - x_low, 1)

    def y(value: float) -> float:
        return top + plot_h * (1 - value / y_top) if y_top > 0 else top + plot_h

    def points(xs, ys) -> str:
        return " ".join(f"{_num(x(a))},{_num(y(b))}" for a, b in zip(xs, ys, strict=True))

    parts = _open_with_y_grid(width, height, left, right, y_ticks, y)
    step = max(1, math.ceil(len(years) / 10))
    for year in sorted(set(years))[::step]:
        parts.append(
            f'<text x="{_num(x(year))}" y="{top + plot_h + 16}" text-anchor="middle" fill="#666" font-size="11">'
            f"{year}</text>"
        )
    parts.append(
        f'<text x="{left - 6}" y="{top - 8}" text-anchor="end" fill="#666" font-size="11">'
        f"({escape(text['unit'])})</text>"
    )
    outer = points(band_years, band["q10"]) + " " + points(band_years[::-1], band["q90"][::-1])
    inner = points(band_years, band["q25"]) + " " + points(band_years[::-1], band["q75"][::-1])
    parts.append(f'<polygon class="band-80" points="{outer}" fill="{BAND_COLOUR}" fill-opacity="0.18"/>')
    parts.append(f'<polygon class="band-50" points="{inner}" fill="{BAND_COLOUR}" fill-opacity="0.35"/>')
    parts.append(
        f'<polyline class="median" points="{points(band_years, band["q50"])}" fill="none" stroke="{MEDIAN_COLOUR}" '
        f'stroke-width="2" stroke-dasharray="6 4"/>'
    )
    parts.append(
        f'<polyline class="actual" points="{points(history_years, history_values)}" fill="none" '
        f'stroke="{ACTUAL_COLOUR}" stroke-width="2"/>'
    )
    for a, b in zip(history_years, history_values, strict=True):
        parts.append(f'<circle cx="{_num(x(a))}" cy="{_num(y(b))}" r="3" fill="{ACTUAL_COLOUR}"/>')
    names = list(shown)
    label_y = spread_labels([y(shown[n]) for n in names], gap=14, low=top + 8, high=top + plot_h)
    for name, wanted in zip(names, label_y, strict=True):
        line_y = y(shown[name])
        parts.append(
            f'<line class="threshold" x1="{left}" y1="{_num(line_y)}" x2="{width - right}" y2="{_num(line_y)}" '
            f'stroke="{THRESHOLD_COLOUR}" stroke-dasharray="2 3"/>'
            f'<polyline points="{width - right},{_num(line_y)} {width - right + 6},{_num(wanted - 4)}" fill="none" '
            f'stroke="{THRESHOLD_COLOUR}"/>'
            f'<text class="threshold-label" x="{width - right + 8}" y="{_num(wanted)}" fill="#555" font-size="11">'
            f"{escape(name)} {shown[name]:,.0f}</text>"
        )
    legend = [
        (f'<line x1="0" y1="0" x2="18" y2="0" stroke="{ACTUAL_COLOUR}" stroke-width="2"/>', text["actual"]),
        (
            f'<line x1="0" y1="0" x2="18" y2="0" stroke="{MEDIAN_COLOUR}" stroke-width="2" stroke-dasharray="6 4"/>',
            text["median"],
        ),
        (f'<rect x="0" y="-5" width="18" height="10" fill="{BAND_COLOUR}" fill-opacity="0.35"/>', "50%"),
        (f'<rect x="0" y="-5" width="18" height="10" fill="{BAND_COLOUR}" fill-opacity="0.18"/>', "80%"),
    ]
    for i, (mark, label) in enumerate(legend):
        parts.append(
            f'<g transform="translate({left + i * 90},{height - 8})">{mark}'
            f'<text x="22" y="4" font-size="11">{escape(label)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


SERIES_COLOURS = ("#1f4e8c", "#4a78b5", "#7aa6d6", "#d9534f", "#f0a030", "#5cb85c", "#8e6bbf", "#555555")


def line_chart(
    categories: list[str],
    series: dict[str, list[float]],
    highlight: str | None,
    marker: str | None,
    text: dict[str, str],
) -> str:
    """Lines over ordered categories (the what-if: firms passing by cut-off grade, one line per audit weight).

    ``highlight`` is drawn thicker (the current setting); ``marker`` is a category drawn as a red line.
    """
    width, height, left, right, top, bottom = 720, 300, 56, 150, 22, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for vs in series.values() for v in vs if v is not None and np.isfinite(v)]
    y_ticks = nice_ticks(0.0, max(values) if values else 1.0)
    y_top = y_ticks[-1] if y_ticks and y_ticks[-1] > 0 else 1.0

    def x(i: int) -> float:
        return left + plot_w * i / max(len(categories) - 1, 1)

    def y(value: float) -> float:
        return top + plot_h * (1 - value / y_top)

    parts = _open_with_y_grid(width, height, left, right, y_ticks, y)
    for i, category in enumerate(categories):
        parts.append(
            f'<text x="{_num(x(i))}" y="{top + plot_h + 16}" text-anchor="middle" fill="#666" font-size="11">'
            f"{escape(str(category))}</text>"
        )
    if marker in categories:
        at = _num(x(categories.index(marker)))
        parts.append(
            f'<line class="marker" x1="{at}" y1="{top}" x2="{at}" y2="{top + plot_h}" stroke="{PEER_COLOUR}" '
            f'stroke-dasharray="5 3"/>'
        )
    parts.append(
        f'<text x="{left}" y="{top - 8}" fill="#666" font-size="11">({escape(text["y"])})</text>'
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" fill="#666" font-size="11">'
        f"{escape(text['x'])}</text>"
    )
    for n, (name, vs) in enumerate(series.items()):
        colour = SERIES_COLOURS[n % len(SERIES_COLOURS)]
        stroke = 3 if name == highlight else 1.3
        points = " ".join(f"{_num(x(i))},{_num(y(v))}" for i, v in enumerate(vs) if v is not None and np.isfinite(v))
        parts.append(
            f'<polyline class="series" points="{points}" fill="none" stroke="{colour}" stroke-width="{stroke}"/>'
            f'<line x1="{width - right + 10}" y1="{top + 8 + n * 18}" x2="{width - right + 30}" '
            f'y2="{top + 8 + n * 18}" stroke="{colour}" stroke-width="{stroke}"/>'
            f'<text x="{width - right + 36}" y="{top + 12 + n * 18}" font-size="11">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _percent(value: float) -> str:
    return f"{100 * value:.0f}%"


def reliability_chart(series: dict[str, tuple[list[float], list[float]]], text: dict[str, str]) -> str:
    """Predicted probability (x) against realised rate (y), one line with dots per series, and the diagonal.

    ``series`` maps a name to (predicted, realised), both probabilities in [0, 1] of equal length
    (e.g. ``calibration_summary(...)["reliability"]`` per split); points with a non-finite value are
    left out. Both axes run from 0 to the largest value rounded up to a tick, in percent; a
    perfectly calibrated model lies on the dashed diagonal. ``text`` gives the axis titles ``x``
    and ``y``. Raises ValueError when a series' two lists differ in length.
    """
    width, height, left, right, top, bottom = 460, 320, 56, 150, 22, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    for name, (xs, ys) in series.items():
        if len(xs) != len(ys):
            raise ValueError(f"series {name!r}: {len(xs)} predicted but {len(ys)} realised values")
    values = [v for xs, ys in series.values() for v in (*xs, *ys) if v is not None and np.isfinite(v)]
    ticks = nice_ticks(0.0, min(max(values, default=1.0), 1.0) or 1.0)
    span = ticks[-1] if ticks and ticks[-1] > 0 else 1.0

    def x(value: float) -> float:
        return left + plot_w * value / span

    def y(value: float) -> float:
        return top + plot_h * (1 - value / span)

    parts = _open_with_y_grid(width, height, left, right, ticks, y, _percent)
    for tick in ticks:
        parts.append(
            f'<text x="{_num(x(tick))}" y="{top + plot_h + 16}" text-anchor="middle" fill="#666" font-size="11">'
            f"{_percent(tick)}</text>"
        )
    parts.append(
        f'<line class="diagonal" x1="{_num(x(0))}" y1="{_num(y(0))}" x2="{_num(x(span))}" y2="{_num(y(span))}" '
        f'stroke="{THRESHOLD_COLOUR}" stroke-dasharray="5 4"/>'
        f'<text x="{left}" y="{top - 8}" fill="#666" font-size="11">({escape(text["y"])})</text>'
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" fill="#666" font-size="11">'
        f"{escape(text['x'])}</text>"
    )
    for n, (name, (xs, ys)) in enumerate(series.items()):
        colour = SERIES_COLOURS[n % len(SERIES_COLOURS)]
        kept = [(a, b) for a, b in zip(xs, ys, strict=True) if np.isfinite(a) and np.isfinite(b)]
        points = " ".join(f"{_num(x(a))},{_num(y(b))}" for a, b in kept)
        dots = "".join(f'<circle cx="{_num(x(a))}" cy="{_num(y(b))}" r="3" fill="{colour}"/>' for a, b in kept)
        parts.append(
            f'<g class="series"><polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>{dots}</g>'
            f'<line x1="{width - right + 10}" y1="{top + 8 + n * 18}" x2="{width - right + 30}" '
            f'y2="{top + 8 + n * 18}" stroke="{colour}" stroke-width="2"/>'
            f'<text x="{width - right + 36}" y="{top + 12 + n * 18}" font-size="11">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def grade_rate_chart(
    grades: list[str],
    realised: list[float],
    low: list[float],
    high: list[float],
    predicted: list[float],
    text: dict[str, str],
) -> str:
    """Realised event rate per grade as bars with their interval (e.g. Jeffreys 95%), the predicted rate as dots.

    All lists have one value per grade, rates in [0, 1]; ``text`` gives ``realised``, ``predicted``
    (legend) and ``y`` (axis title). A realised rate outside its interval's band or far from the
    dot is the failed calibration test the report's table names. Raises ValueError on lists of
    different lengths.
    """
    if not len(grades) == len(realised) == len(low) == len(high) == len(predicted):
        raise ValueError("grade_rate_chart needs one realised rate, interval and prediction per grade")
    width, height, left, right, top, bottom = 460, 320, 56, 150, 22, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for v in (*realised, *high, *predicted) if v is not None and np.isfinite(v)]
    ticks = nice_ticks(0.0, max(values, default=1.0) or 1.0)
    span = ticks[-1] if ticks and ticks[-1] > 0 else 1.0
    slot = plot_w / max(len(grades), 1)

    def y(value: float) -> float:
        return top + plot_h * (1 - min(max(value, 0.0), span) / span)

    parts = _open_with_y_grid(width, height, left, right, ticks, y, _percent)
    parts.append(f'<text x="{left}" y="{top - 8}" fill="#666" font-size="11">({escape(text["y"])})</text>')
    for i, grade in enumerate(grades):
        centre = left + slot * (i + 0.5)
        parts.append(
            f'<text x="{_num(centre)}" y="{top + plot_h + 16}" text-anchor="middle" fill="#666" font-size="11">'
            f"{escape(str(grade))}</text>"
        )
        if np.isfinite(realised[i]):
            parts.append(
                f'<rect class="rate-bar" x="{_num(centre - slot * 0.3)}" y="{_num(y(realised[i]))}" '
                f'width="{_num(slot * 0.6)}" height="{_num(y(0) - y(realised[i]))}" fill="{FAMILY_COLOUR}">'
                f"<title>{escape(str(grade))} {_percent(realised[i])}</title></rect>"
            )
        if np.isfinite(low[i]) and np.isfinite(high[i]):
            parts.append(
                f'<line class="interval" x1="{_num(centre)}" y1="{_num(y(low[i]))}" x2="{_num(centre)}" '
                f'y2="{_num(y(high[i]))}" stroke="{ACTUAL_COLOUR}" stroke-width="1.5"/>'
            )
        if np.isfinite(predicted[i]):
            parts.append(
                f'<circle class="predicted" cx="{_num(centre)}" cy="{_num(y(predicted[i]))}" r="4" '
                f'fill="{PEER_COLOUR}"/>'
            )
    legend = [
        (f'<rect x="0" y="-5" width="18" height="10" fill="{FAMILY_COLOUR}"/>', text["realised"]),
        (f'<circle cx="9" cy="0" r="4" fill="{PEER_COLOUR}"/>', text["predicted"]),
    ]
    for n, (mark, label) in enumerate(legend):
        parts.append(
            f'<g transform="translate({width - right + 10},{top + 8 + n * 18})">{mark}'
            f'<text x="26" y="4" font-size="11">{escape(label)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
