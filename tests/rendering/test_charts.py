"""Report charts: readable threshold labels, round ticks, bars true to their values, escaped text."""

from __future__ import annotations

import re

import numpy as np
import pytest

from jumpup.rendering.charts import family_bars, fan_chart, nice_ticks, spread_labels

TEXT = {"unit": "억 원", "actual": "실적", "median": "중앙값"}


def test_close_threshold_labels_are_moved_apart_in_order_and_kept_inside():
    wanted = [100.0, 103.0, 104.0, 250.0]
    placed = spread_labels(wanted, gap=14, low=20, high=260)
    order = np.argsort(wanted)
    assert all(np.diff(np.asarray(placed)[order]) >= 14 - 1e-9)
    assert min(placed) >= 20 and max(placed) <= 260
    assert abs(placed[3] - 250) < 1e-9  # a label with room stays where it points
    # a cluster at the bottom edge is pulled back inside
    assert max(spread_labels([258.0, 259.0, 260.0], gap=14, low=20, high=260)) <= 260


def test_ticks_are_round_and_cover_the_range():
    assert nice_ticks(0, 2_350) == [0, 500, 1000, 1500, 2000, 2500]
    ticks = nice_ticks(0, 0.87)
    assert ticks[0] == 0 and ticks[-1] >= 0.87 and len(ticks) <= 7


def test_family_bars_are_proportional_and_missing_values_are_marked():
    svg = family_bars(["경영성과", "기술성", "<b>"], [50.0, 100.0, float("nan")], [40.0, float("nan"), 30.0], "중앙값")
    widths = [float(w) for w in re.findall(r'class="family-bar" x="[\d.]+" y="[\d.]+" width="([\d.]+)"', svg)]
    assert len(widths) == 2 and abs(widths[1] / widths[0] - 2) < 1e-6
    assert svg.count('class="peer-median"') == 2 and "—" in svg
    assert "<b>" not in svg and "&lt;b&gt;" in svg


def test_fan_chart_draws_bands_median_history_and_each_threshold_once():
    svg = fan_chart(
        [2021, 2022, 2023],
        [300.0, 320.0, 350.0],
        [2024, 2025, 2026],
        {
            "q10": [300, 290, 280],
            "q25": [330, 340, 350],
            "q50": [360, 380, 400],
            "q75": [390, 420, 460],
            "q90": [420, 470, 540],
        },
        {"중견후보": 600.0, "중견기업": 610.0, "소기업 상한": 120.0, "far away": 99_000.0},
        TEXT,
    )
    assert svg.count('class="band-80"') == svg.count('class="band-50"') == svg.count('class="median"') == 1
    assert svg.count("<circle") == 3  # one marker per year of history
    labels = re.findall(r'class="threshold-label"[^>]*>([^<]+)<', svg)
    assert labels == ["중견후보 600", "중견기업 610", "소기업 상한 120"]  # the far-off cap is not drawn
    label_y = [float(y) for y in re.findall(r'class="threshold-label" x="[\d.]+" y="([\d.]+)"', svg)]
    assert abs(label_y[0] - label_y[1]) >= 14  # 600 and 610 sit 2 px apart on the axis; their labels do not


def _parsed(svg: str):
    import xml.etree.ElementTree as ET

    return ET.fromstring(svg)  # raises on markup that is not well-formed


def test_reliability_chart_is_valid_svg_with_one_line_per_series_and_the_diagonal():
    from jumpup.rendering.charts import reliability_chart

    series = {
        "train": ([0.05, 0.15, 0.3], [0.04, 0.17, 0.28]),
        "<out of time>": ([0.05, 0.2, float("nan")], [0.06, 0.15, 0.4]),
    }
    svg = reliability_chart(series, {"x": "예측 확률 & 구간", "y": "실현율"})
    root = _parsed(svg)
    ns = "{http://www.w3.org/2000/svg}"
    groups = root.findall(f"{ns}g[@class='series']")
    assert len(groups) == 2
    assert [len(g.findall(f"{ns}circle")) for g in groups] == [3, 2]  # the NaN point is left out
    assert len(root.findall(f"{ns}line[@class='diagonal']")) == 1
    assert "&lt;out of time&gt;" in svg and "&amp;" in svg and "<out of time>" not in svg
    assert "40%" in svg  # the axis reaches the largest value, in percent


def test_reliability_points_sit_where_their_values_say():
    from jumpup.rendering.charts import reliability_chart

    svg = reliability_chart({"m": ([0.0, 0.5, 1.0], [0.0, 0.5, 1.0])}, {"x": "x", "y": "y"})
    dots = [(float(a), float(b)) for a, b in re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)"', svg)]
    (x0, y0), (x1, y1), (x2, y2) = dots
    assert abs((x1 - x0) - (x2 - x1)) < 0.2 and abs((y0 - y1) - (y1 - y2)) < 0.2 and y2 < y1 < y0
    diagonal = re.search(r'class="diagonal" x1="([\d.]+)" y1="([\d.]+)" x2="([\d.]+)" y2="([\d.]+)"', svg)
    assert [float(v) for v in diagonal.groups()] == [x0, y0, x2, y2]  # a calibrated model lies on the diagonal


def test_grade_rate_chart_draws_a_bar_interval_and_prediction_per_grade():
    from jumpup.rendering.charts import grade_rate_chart

    svg = grade_rate_chart(
        ["AAA", "BB<", "C"],
        [0.4, 0.2, float("nan")],
        [0.3, 0.1, float("nan")],
        [0.5, 0.3, float("nan")],
        [0.35, 0.25, 0.1],
        {"realised": "실현", "predicted": "예측", "y": "비율"},
    )
    _parsed(svg)
    heights = [float(h) for h in re.findall(r'class="rate-bar"[^>]*height="([\d.]+)"', svg)]
    assert len(heights) == 2 and abs(heights[0] / heights[1] - 2) < 1e-3
    assert svg.count('class="interval"') == 2 and svg.count('class="predicted"') == 3
    assert "BB&lt;" in svg and "BB<" not in svg


def test_new_charts_reject_lists_of_different_lengths():
    from jumpup.rendering.charts import grade_rate_chart, reliability_chart

    with pytest.raises(ValueError, match="series 'm'"):
        reliability_chart({"m": ([0.1, 0.2], [0.1])}, {"x": "x", "y": "y"})
    with pytest.raises(ValueError, match="one realised rate"):
        grade_rate_chart(["A", "B"], [0.1], [0.0], [0.2], [0.1], {"realised": "r", "predicted": "p", "y": "y"})
