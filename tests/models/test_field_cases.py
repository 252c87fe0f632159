"""Scoring faults found on field inputs: a raw input with a known direction that moves the grade
the wrong way (field case 09) and absent optional inputs that move a grade silently (case 20)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jumpup.features.ratios import OPTIONAL_INPUTS
from jumpup.features.registry import INPUT_FEATURES
from jumpup.models.bundle import missing_features, missing_inputs
from jumpup.models.training import known_directions
from jumpup.pipelines.score import score_panel
from tests.conftest import quick_settings, synth_and_train

CASES = Path(__file__).parent / "field_cases"
ORDER = ["AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The model of the field cases: 300 synthetic firms, seed 1, default model settings."""
    settings = quick_settings(firms=300, applicants=20, bootstrap=10, leaves=(3, 6))
    root = tmp_path_factory.mktemp("field_model")
    bundle = synth_and_train(root, settings, seed=1)
    return settings, bundle, json.loads((root / "model" / "validation_report.json").read_text())


def test_a_raw_input_direction_constrains_every_feature_built_from_it():
    settings = quick_settings(firms=300, applicants=20)
    directions = known_directions(settings)
    for feature, step in INPUT_FEATURES["patents_granted"].items():
        assert directions[feature] == settings.model.monotone_inputs["patents_granted"] * step
    bad = settings.model_copy(update={"model": settings.model.model_copy(update={"monotone_inputs": {"lawsuits": 1}})})
    with pytest.raises(ValueError, match="'lawsuits' has no feature mapping"):
        known_directions(bad)


def test_case09_more_patents_never_lower_the_probability(trained, tmp_path):
    settings, bundle, report = trained
    # the training check sweeps the raw input through the feature builder and the calibrated model
    check = report["monotone_inputs"]["patents_granted"]
    assert check["checked"] and check["rows"] > 0 and check["violating_rows"] == 0
    manifest = score_panel(CASES / "09-monotone-direction-raw-inputs" / "panel", 2024, str(bundle), tmp_path, settings)
    assert manifest["firms_scored"] == 108
    scores = pd.read_csv(tmp_path / "scores.csv", dtype={"firm_id": str})
    scores["base"] = scores["firm_id"].str[:3]
    scores["copy"] = scores["firm_id"].str[4].astype(int)  # copies differ only in patents per year
    steps = 0
    for _, group in scores.sort_values(["base", "copy"]).groupby("base"):
        p = group["probability"].to_numpy()
        steps += len(p) - 1
        assert (np.diff(p) >= -1e-12).all(), group[["firm_id", "probability", "grade"]].to_string()
        grades = [ORDER.index(g) for g in group["grade"]]
        assert all(b <= a for a, b in itertools.pairwise(grades))
    assert steps == 96


def test_case20_scores_say_which_inputs_were_missing(trained, tmp_path):
    settings, bundle, _ = trained
    case = CASES / "20-score-missing-integer-columns"
    minimal = score_panel(case / "panel_minimal", 2024, str(bundle), tmp_path / "minimal", settings)
    scores = pd.read_csv(tmp_path / "minimal" / "scores.csv", dtype={"firm_id": str}, keep_default_na=False)
    assert len(scores) == 6
    for lacking in scores["missing_inputs"].str.split(";"):  # absent columns, named for every firm
        assert {"employees", "patents_granted", "rd_expense", "founded_year"} <= set(lacking)
        assert "operating_income" not in lacking and "total_assets" not in lacking  # these were given
    named = scores["missing_features"].str.split(";")
    assert named.map(len).tolist() == scores["missing_feature_count"].tolist()
    assert all("patents_granted_3y" in names for names in named)
    assert minimal["firms_with_missing_inputs"] == 6
    (warning,) = minimal["warnings"]
    assert warning.startswith("6 of 6 firm(s) lack optional inputs in 2024:") and "patents_granted (6)" in warning
    # blank cells count as missing just like absent columns
    blank = score_panel(case / "panel_blank", 2024, str(bundle), tmp_path / "blank", settings)
    assert blank["missing_inputs_by_input"]["patents_granted"] == 6
    assert blank["missing_inputs_by_input"]["employees"] == 6
    assert "rd_expense" not in blank["missing_inputs_by_input"]  # present in panel_blank


def test_missing_features_and_inputs_are_listed_per_row():
    matrix = pd.DataFrame({"a": [1.0, np.nan, np.nan], "b": [np.nan, 2.0, np.nan], "c": [1.0, 1.0, 1.0]})
    out = missing_features(matrix)
    assert out["missing_features"].tolist() == ["b", "a", "a;b"]
    assert out["missing_feature_count"].tolist() == [1, 1, 2]
    rows = pd.DataFrame(
        {"firm_id": ["x", "x", "y"], "fiscal_year": [2023, 2024, 2024], "employees": [5.0, np.nan, 7.0]}
    ).assign(**{name: 1.0 for name in OPTIONAL_INPUTS if name != "employees"})
    lacking = missing_inputs(rows, pd.Series(["x", "y"]), pd.Series([2024, 2024]))
    assert lacking.tolist() == ["employees", ""]
    lacking = missing_inputs(rows.drop(columns=["patents_granted"]), pd.Series(["y"]), pd.Series([2024]))
    assert lacking.tolist() == ["patents_granted"]
