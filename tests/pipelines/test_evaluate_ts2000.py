"""The evaluate-ts2000 stage: files written, validation figures logged, a missing panel refused."""

from __future__ import annotations

import json

import mlflow
import pytest

from jumpup.pipelines.evaluate_ts2000 import run
from jumpup.settings import load_settings
from tests.models.test_ts2000_evaluation import _panel


def test_stage_writes_the_evaluation_and_logs_both_validations(tmp_path, monkeypatch):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    firms, financials = _panel(firms=400)
    # The growth-path engine's features read the KSIC division an import derives from the group.
    firms["ksic_division"] = firms["industry_group"].map({"도매": "G46", "종합건설": "F41"})
    panel = tmp_path / "panel"
    panel.mkdir()
    firms.to_csv(panel / "firms.csv", index=False)
    financials.to_csv(panel / "financials.csv", index=False)
    settings = load_settings(
        overrides={
            "tracking": {"artifact_location": str(tmp_path / "artifacts")},
            "growth_paths": {"neighbours": 25, "min_peers": 10, "pooled_estimators": 40},
        }
    )
    results = run(panel, tmp_path / "out", settings, n_boot=20)
    written = json.loads((tmp_path / "out" / "evaluation.json").read_text())
    assert written["auc"] == results["auc"] and (tmp_path / "out" / "predictions.csv").exists()
    assert len(written["cross_firm_rows"]) == 5
    graded = written["chosen_params"]["graded"]["chosen"]
    assert graded["mean"] == pytest.approx((graded["origin"] + graded["cross_firm"]) / 2)
    mlflow.set_tracking_uri(store)
    logged = mlflow.get_run(results["mlflow_run_id"]).data.metrics
    for name in ("graded", "full_lgbm", "plain_lgbm"):
        chosen = written["chosen_params"][name]["chosen"]
        assert logged[f"validation.{name}.mean"] == pytest.approx(chosen["mean"])
        assert logged[f"validation.{name}.cross_firm"] == pytest.approx(chosen["cross_firm"])


def test_stage_refuses_a_directory_without_an_imported_panel(tmp_path):
    from jumpup.intake.imported_panel import PanelError

    with pytest.raises(PanelError, match=r"firms\.csv: missing; run `jumpup import ts2000"):
        run(tmp_path, tmp_path / "out", load_settings(), n_boot=20)
    assert not (tmp_path / "out").exists()
