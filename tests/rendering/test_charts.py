"""Report charts: readable threshold labels, round ticks, bars true to their values, escaped text."""

from __future__ import annotations

import re

import numpy as np

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
