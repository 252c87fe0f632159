"""Audit statistics computed on long data agree with their definitions on the firm x rater table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jumpup.models.grading import MasterScale
from jumpup.settings import load_settings
from jumpup.step1.audit import icc_long, icc_one_way


def test_icc_from_long_data_equals_the_wide_table_definition():
    rng = np.random.default_rng(3)
    firm_effect = rng.normal(size=40)
    wide = pd.DataFrame(firm_effect[:, None] + 0.7 * rng.normal(size=(40, 6)))
    wide = wide.mask(rng.random(wide.shape) < 0.4)  # unbalanced: raters missing at random
    long = wide.stack()
    firms = long.index.get_level_values(0).to_numpy()
    expected = icc_one_way(wide)
    got = icc_long(firms, long.to_numpy())
    assert got["firms"] == expected["firms"]
    assert got["icc1"] == pytest.approx(expected["icc1"], rel=1e-12)
    assert got["icc1k"] == pytest.approx(expected["icc1k"], rel=1e-12)
    assert 0.4 < got["icc1"] < 0.9  # a real firm effect is found


def test_icc_needs_two_firms_with_two_ratings():
    assert np.isnan(icc_long(np.array([0, 0, 1]), np.array([1.0, 2.0, 3.0]))["icc1"])


def test_at_or_above_the_reference_grade_treats_missing_and_unknown_grades_as_below():
    scale = MasterScale.from_settings(load_settings().grade_scale)  # reference BBB
    grades = pd.Series(["AAA", "BBB", "BB", None, "Z"], index=[5, 6, 7, 8, 9])
    result = scale.at_or_above(grades)
    assert result.tolist() == [True, True, False, False, False] and result.index.tolist() == [5, 6, 7, 8, 9]
    assert scale.at_or_above(grades, "BB").tolist() == [True, True, True, False, False]


def test_a_leniency_label_is_always_on_the_side_of_its_z_score():
    from jumpup.settings import load_settings
    from jumpup.step1.audit import ASSESSMENT_KO, leniency_assessment

    step1 = load_settings().step1
    z = pd.Series([-12.07, -1.9, 0.4, 2.5, 9.93, 34.9, -5.0, float("nan")])
    deviation = pd.Series([-0.454, -0.08, 0.01, 0.6, 0.52, 1.32, -0.9, 0.0])
    labels = leniency_assessment(z, deviation, step1.leniency_z, step1.leniency_min_deviation)
    assert labels.tolist() == [
        "slightly severe",  # z far below -2 but the effect is under 0.5 points: not flagged, yet not "in line"
        "in line",
        "in line",
        "lenient",
        "lenient",
        "lenient",
        "severe",
        "undetermined",
    ]
    korean = labels.map(ASSESSMENT_KO)
    for label, value in zip(korean, z, strict=True):
        if label.startswith("관대"):
            assert value > step1.leniency_z
        if label.startswith("엄격"):
            assert value < -step1.leniency_z
        if label == "보통":
            assert abs(value) <= step1.leniency_z
