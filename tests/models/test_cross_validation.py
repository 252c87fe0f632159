"""Firm-grouped cross-validation at one origin: nesting, repeats, learning curve and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from jumpup.models import training
from jumpup.pipelines import synth
from jumpup.pipelines.cli import app
from jumpup.pipelines.console import console
from jumpup.pipelines.train import _origin_features, cross_validate_panel
from jumpup.settings import SettingsError, load_settings
from tests.conftest import quick_settings

ORIGIN = 2020  # synthetic history ends in 2024; outcomes at 2023 are known


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    root = tmp_path_factory.mktemp("cv")
    settings = quick_settings(firms=1200, applicants=20, bootstrap=20)
    synth.run(settings, root / "data", seed=5)
    return settings, root / "data" / "history"


@pytest.fixture(scope="module")
def two_splits(panel):
    settings, history = panel
    return cross_validate_panel(history, ORIGIN, settings, repeats=2, log_mlflow=False)


def test_every_firm_is_predicted_once_per_split_by_a_model_that_never_saw_it(panel, monkeypatch):
    settings, history = panel
    features, targets, _ = _origin_features(history, ORIGIN, settings)
    seen: list[set] = []
    real_select, real_tune = training.select_features, training.tune

    def recording_select(X, y, s):
        seen.append(set(X.index))
        return real_select(X, y, s)

    def recording_tune(X, y, groups, *args):
        seen[-1] |= set(X.index)
        return real_tune(X, y, groups, *args)

    monkeypatch.setattr(training, "select_features", recording_select)
    monkeypatch.setattr(training, "tune", recording_tune)
    cv = training.cross_validate_origin(features, targets, ORIGIN, settings, settings.seed)
    predictions = cv.predictions
    assert len(seen) == settings.validation.cv_folds
    table = training.labelled_table(features[features["fiscal_year"] == ORIGIN], targets)
    assert list(predictions["firm_id"]) == list(table["firm_id"])
    for fold, rows in enumerate(seen):
        test_rows = set(np.flatnonzero(predictions["fold"].to_numpy() == fold))
        assert test_rows and not rows & test_rows, f"fold {fold}: features were chosen or tuned on test firms"
    assert predictions[["lightgbm", "scorecard"]].notna().all().all()


def test_summary_pools_out_of_fold_predictions_and_reports_the_fold_spread(two_splits):
    summary, predictions = two_splits.summary, two_splits.predictions
    first = predictions[predictions["repeat"] == 0]
    auc = training.discrimination(first["target"], first["lightgbm"])["auc"]
    assert summary["pooled"]["lightgbm"]["auc"]["value"] == pytest.approx(auc)
    per_fold = [fold["lightgbm"] for fold in summary["folds"]]
    assert summary["fold_auc"]["lightgbm"]["mean"] == pytest.approx(np.mean(per_fold))
    assert summary["fold_auc"]["lightgbm"]["min"] == min(per_fold)
    assert summary["pooled"]["lightgbm"]["auc"]["value"] > 0.6  # the synthetic sample carries signal
    assert len(summary["data_sha256"]) == 64 and summary["code_version"]
    json.dumps(summary)  # JSON-ready as written by --out


def test_repeats_reshuffle_firms_and_report_each_split(two_splits):
    summary, predictions = two_splits.summary, two_splits.predictions
    by_repeat = {r: frame.set_index("firm_id") for r, frame in predictions.groupby("repeat")}
    assert set(by_repeat) == {0, 1}
    assert by_repeat[0].index.equals(by_repeat[1].index)
    assert (by_repeat[0]["fold"] != by_repeat[1]["fold"]).mean() > 0.5
    second = by_repeat[1]
    per_repeat = summary["repeats"]["per_repeat"]
    assert per_repeat[1]["lightgbm"] == pytest.approx(
        training.discrimination(second["target"], second["lightgbm"])["auc"]
    )
    spread = summary["repeats"]["pooled_auc"]["lightgbm"]
    assert spread["min"] <= spread["mean"] <= spread["max"]


def test_learning_curve_keeps_the_test_folds_and_cuts_training_firms(panel, two_splits):
    settings, history = panel
    features, targets, _ = _origin_features(history, ORIGIN, settings)
    rows = training.learning_curve_origin(features, targets, ORIGIN, settings, settings.seed, (1.0, 0.5))
    assert [r["fraction"] for r in rows] == [0.5, 1.0]
    half, whole = rows
    for cut, full in zip(half["training_firms"], whole["training_firms"], strict=True):
        assert cut == round(0.5 * full)
    # The full share is exactly the cross-validation's first split.
    assert whole["pooled"]["lightgbm"]["value"] == two_splits.summary["pooled"]["lightgbm"]["auc"]["value"]
    assert half["pooled"]["lightgbm"]["value"] != whole["pooled"]["lightgbm"]["value"]


def test_an_origin_without_outcomes_is_a_clear_error(panel):
    settings, history = panel
    features, targets, _ = _origin_features(history, 2024, settings)
    with pytest.raises(ValueError, match="origin 2024 has no labelled firms"):
        training.cross_validate_origin(features, targets, 2024, settings, settings.seed)


@pytest.mark.parametrize("fractions", [[0.0, 1.0], [0.5, 1.5], []])
def test_learning_curve_fractions_must_be_shares(fractions):
    with pytest.raises(SettingsError, match="learning_curve_fractions"):
        load_settings(overrides={"validation": {"learning_curve_fractions": fractions}})


def test_cli_prints_both_aucs_the_learning_curve_and_writes_json_and_predictions(panel, tmp_path, monkeypatch):
    settings, history = panel
    import jumpup.pipelines.cli as cli

    one_share = settings.model_copy(
        update={"validation": settings.validation.model_copy(update={"learning_curve_fractions": (1.0,)})}
    )
    monkeypatch.setattr(cli, "_settings", lambda params, overrides=None: one_share)
    out, predictions = tmp_path / "cv.json", tmp_path / "oof.csv"
    # Wide enough for the tables' cells on one line whatever the console's width was when it was made.
    monkeypatch.setattr(console, "width", 200)
    result = CliRunner().invoke(
        app,
        [
            "cross-validate",
            "--panel",
            str(history),
            "--origin",
            str(ORIGIN),
            "--out",
            str(out),
            "--predictions",
            str(predictions),
            "--learning-curve",
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "pooled AUC" in result.output and "fold AUC mean ± sd" in result.output
    assert "LightGBM − scorecard" in result.output and "Learning curve" in result.output
    written = json.loads(out.read_text())
    curve = written["learning_curve"]
    assert [row["fraction"] for row in curve] == [1.0]
    assert curve[0]["pooled"]["lightgbm"]["value"] == written["pooled"]["lightgbm"]["auc"]["value"]
    frame = pd.read_csv(predictions, dtype={"firm_id": str})
    assert len(frame) == written["firms"]
    assert set(frame.columns) >= {"firm_id", "fold", "lightgbm", "scorecard", "past_growth_baseline", "target"}

    import mlflow

    run = mlflow.get_run(written["run_id"])
    assert run.data.tags["stage"] == "cross_validate" and run.data.tags["data_sha256"] == written["data_sha256"]
    assert run.data.metrics["cv.lightgbm.auc"] == pytest.approx(written["pooled"]["lightgbm"]["auc"]["value"])
    assert run.data.metrics["cv.lightgbm.fold_auc_mean"] == pytest.approx(written["fold_auc"]["lightgbm"]["mean"])
    curve = mlflow.MlflowClient().get_metric_history(run.info.run_id, "learning_curve.lightgbm.auc")
    assert [m.step for m in curve] == [100]
    logged = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/cross_validation/out_of_fold.csv")
    assert len(logged.splitlines()) == len(frame) + 1


def test_real_kosdaq_lightgbm_beats_the_challenger_and_past_growth(kosdaq_panel):
    """The KOSDAQ design of the grading model: features as of 2018, high growth to 2021."""
    settings = load_settings(overrides={"ingest": {"max_fiscal_year": 2021}})
    summary = cross_validate_panel(kosdaq_panel, 2018, settings, log_mlflow=False).summary
    pooled = {name: metrics["auc"]["value"] for name, metrics in summary["pooled"].items()}
    assert summary["firms"] > 1000
    assert pooled["lightgbm"] > pooled["scorecard"] > pooled["past_growth_baseline"]
    assert summary["lightgbm_minus"]["past_growth_baseline"]["ci_low"] > 0


def test_size_upgrade_labels_read_later_size_classes(panel):
    settings, history = panel
    upgrade = settings.model_copy(update={"targets": settings.targets.model_copy(update={"name": "size_upgrade"})})
    _, targets, _ = _origin_features(history, ORIGIN, upgrade)
    labelled = targets[(targets["fiscal_year"] == ORIGIN) & targets["target"].notna()]
    assert len(labelled) > 100 and labelled["target"].nunique() == 2


def test_distress_reverses_the_known_directions_and_the_baseline():
    growth = load_settings()
    distress = load_settings(overrides={"targets": {"name": "distress"}})
    reversed_directions = {name: -d for name, d in training._base_params(growth)["monotone"].items()}
    assert reversed_directions and training._base_params(distress)["monotone"] == reversed_directions
    frame = pd.DataFrame({"revenue_cagr_3y": [0.3, np.nan], "revenue_growth_1y": [0.1, -0.2]})
    np.testing.assert_allclose(training.past_growth_baseline(frame), [0.3, -0.2])
    np.testing.assert_allclose(training.past_growth_baseline(frame, "distress"), [-0.3, 0.2])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--panel", "{missing}", "--origin", "2020"], "not a directory"),
        (["--panel", "{history}", "--origin", "2020", "--target", "nonsense"], "'nonsense' is not one of"),
        (["--panel", "{history}", "--origin", "2024"], "origin 2024 has no labelled firms"),
        (["--panel", "{history}", "--origin", "2020", "--repeats", "0"], "--repeats"),
    ],
)
def test_cli_bad_input_is_a_clear_error_and_writes_nothing(panel, tmp_path, arguments, message):
    _, history = panel
    out = tmp_path / "cv.json"
    filled = [a.format(missing=tmp_path / "missing", history=history) for a in arguments]
    result = CliRunner().invoke(app, ["cross-validate", *filled, "--out", str(out)], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not out.exists()
