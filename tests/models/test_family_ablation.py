"""Family ablation: which features a family owns, and a run on one set of folds with and without them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from jumpup.features.registry import INDICATORS
from jumpup.models.bundle import model_feature_names
from jumpup.models.family_ablation import family_features
from jumpup.pipelines import synth
from jumpup.pipelines.cli import app
from jumpup.pipelines.console import console
from tests.conftest import quick_settings

ORIGIN = 2020


def test_ablated_features_are_the_family_indicators_their_peer_percentiles_and_scores():
    dropped = set(family_features(("technology", "human"), model_feature_names()))
    assert {
        "rd_intensity",
        "intangible_investment_intensity",
        "payroll_per_employee",
        "revenue_per_employee",
    } <= dropped
    assert {"peer_pct_rd_intensity", "peer_pct_revenue_per_employee", "family_score_technology"} <= dropped
    assert {"family_score_human", "family_score_peer"} <= dropped
    kept = set(model_feature_names()) - dropped
    assert {"revenue_growth_1y", "operating_margin", "peer_pct_operating_margin", "family_score_management"} <= kept
    assert not any(i.name in kept for i in INDICATORS if i.family in ("technology", "human"))
    with pytest.raises(ValueError, match="cannot ablate"):
        family_features(("industry",), model_feature_names())


@pytest.fixture(scope="module")
def ablation(tmp_path_factory):
    """One run of `jumpup evaluate-families` on a small synthetic panel: (settings, history, output, CLI result)."""
    from jumpup.pipelines import cli

    root = tmp_path_factory.mktemp("ablation")
    settings = quick_settings(firms=700, applicants=10, bootstrap=20)
    synth.run(settings, root / "data", seed=3)
    history = root / "data" / "history"
    patch = pytest.MonkeyPatch()
    patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    patch.setattr(cli, "_settings", lambda params, overrides=None: settings)
    patch.setattr(console, "width", 200)  # the tables' cells on one line, whatever width the console started with
    result = CliRunner().invoke(
        app,
        ["evaluate-families", "--panel", str(history), "--origin", str(ORIGIN), "--out", str(root / "out")],
        env={"COLUMNS": "200"},
    )
    yield settings, history, root / "out", result
    patch.undo()


def test_ablation_uses_the_same_folds_and_reports_paired_differences(ablation):
    _, _, out, result = ablation
    assert result.exit_code == 0, result.output
    assert "lightgbm_with_minus_without" in result.output
    summary = json.loads((out / "families.json").read_text(encoding="utf-8"))
    predictions = pd.read_csv(out / "predictions.csv", dtype={"firm_id": str})
    assert summary["origin"] == ORIGIN and summary["families"] == ["technology", "human"]
    assert summary["features_without_families"] == summary["features_with_families"] - len(summary["dropped_features"])
    assert predictions["firm_id"].is_unique and len(predictions) == summary["firms"]
    columns = ["lightgbm", "lightgbm_without_families", "scorecard", "scorecard_without_families"]
    assert predictions[columns].notna().all().all()
    # Without the families the model sees other inputs, so its predictions differ.
    assert not np.allclose(predictions["lightgbm"], predictions["lightgbm_without_families"])
    d = summary["difference"]["lightgbm_with_minus_without"]
    assert d["ci_low"] <= d["value"] <= d["ci_high"]
    pooled = summary["pooled"]
    assert d["value"] == pytest.approx(pooled["lightgbm"]["value"] - pooled["lightgbm_without_families"]["value"])
    assert 0 <= summary["coverage"]["rd_intensity"] <= 1


def test_an_unknown_family_is_one_clear_line(ablation, tmp_path):
    _, history, _, _ = ablation
    common = ["evaluate-families", "--panel", str(history), "--origin", str(ORIGIN), "--family", "peer"]
    bad = CliRunner().invoke(app, [*common, "--out", str(tmp_path / "x")], env={"COLUMNS": "200"})
    assert bad.exit_code == 2 and "cannot ablate" in bad.output and "Traceback" not in bad.output
    assert not (tmp_path / "x").exists()
