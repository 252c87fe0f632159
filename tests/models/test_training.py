"""End to end: synthetic panel -> train (MLflow, registry) -> score -> promote; reproducibility."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from jumpup.pipelines import promote as promotion
from jumpup.pipelines import synth
from jumpup.pipelines.score import score_panel
from jumpup.pipelines.train import train_panel
from jumpup.settings import load_settings
from tests.conftest import quick_settings


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(autouse=True)
def _shared_store(store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)


@pytest.fixture(scope="module")
def small(tmp_path_factory, store):
    import os

    os.environ["MLFLOW_TRACKING_URI"] = store
    root = tmp_path_factory.mktemp("small")
    settings = quick_settings(firms=1500, applicants=80, bootstrap=30, leaves=(3, 6))
    synth.run(settings, root / "data", seed=21)
    first = train_panel(root / "data" / "history", root / "run1", _lenient(settings))
    second = train_panel(root / "data" / "history", root / "run2", settings)
    return settings, root, first, second


def _lenient(settings):
    gates = {"max_grade_share": 1.0, "max_failed_grade_tests_share": 1.0, "max_auc_drop": 1.0}
    return settings.model_copy(update={"promotion": settings.promotion.model_copy(update=gates)})


def test_first_model_is_champion_through_the_gates_and_the_next_is_challenger(small):
    _, _, first, second = small
    assert first["alias"] == "champion" and second["alias"] == "challenger"
    assert second["version"] == first["version"] + 1
    assert first["model_uri"].startswith("models:/jumpup_growth/")


def test_two_runs_with_the_same_inputs_and_seed_give_identical_scores(small):
    _, root, first, second = small
    one = pd.read_parquet(root / "run1" / "predictions.parquet")
    two = pd.read_parquet(root / "run2" / "predictions.parquet")
    pd.testing.assert_frame_equal(one, two)
    assert first["metrics"] == second["metrics"]


def test_validation_report_holds_every_test(small):
    _, root, _, _ = small
    report = json.loads((root / "run1" / "validation_report.json").read_text())
    for split in ("train", "out_of_sample", "out_of_time"):
        s = report["splits"][split]
        for metric in ("auc", "gini", "ks"):
            assert (
                s["discrimination"][metric]["ci_low"]
                <= s["discrimination"][metric]["value"]
                <= s["discrimination"][metric]["ci_high"]
            )
        assert {"predicted_rate", "realised_rate", "jeffreys_low", "jeffreys_high", "p_value"} <= set(s["grades"][0])
        assert {"monotone", "inversions"} <= set(s["monotonicity"])
        assert {"brier", "ece", "reliability"} <= set(s["calibration"])
        assert {"hhi", "max_share"} <= set(s["concentration"])
        assert {"scorecard", "past_growth_baseline", "lightgbm"} <= set(report["comparison"][split])
    assert {"psi", "critical_value", "shifted"} <= set(report["psi"]["out_of_time"]["score"])
    assert (
        len(report["psi"]["out_of_time"]["features"]) == len(report["selected_features"])
        or report["psi"]["out_of_time"]["features"]
    )
    assert report["monotone_constraints"] and all(m["checked"] for m in report["monotone_constraints"].values())
    html = (root / "run1" / "validation_report.html").read_text()
    assert "Jeffreys" in html and "data:image" not in html  # charts are inline SVG, no raster images
    assert html.count('<svg class="chart"') == 2 * sum(1 for s in report["splits"].values() if s.get("grades"))


def test_scoring_through_the_registry_matches_the_bundle_and_ignores_later_years(small, tmp_path):
    settings, root, first, _ = small
    via_registry = score_panel(
        root / "data" / "history", 2022, "models:/jumpup_growth@champion", tmp_path / "a", settings
    )
    score_panel(root / "data" / "history", 2022, str(root / "run1" / "bundle"), tmp_path / "b", settings)
    assert via_registry["model_version"] == str(first["version"])
    a = pd.read_csv(tmp_path / "a" / "scores.csv", dtype={"firm_id": str})
    b = pd.read_csv(tmp_path / "b" / "scores.csv", dtype={"firm_id": str})
    pd.testing.assert_frame_equal(a, b)
    assert {"firm_id", "as_of", "probability", "score", "grade", "reason_up_1", "reason_down_1"} <= set(a.columns)
    assert (a["as_of"] == 2022).all()
    # changing 2023-2024 must not move a 2022 score
    changed = root / "changed"
    changed.mkdir()
    (changed / "firms.csv").write_bytes((root / "data" / "history" / "firms.csv").read_bytes())
    financials = pd.read_csv(root / "data" / "history" / "financials.csv", dtype={"firm_id": str})
    later = financials["fiscal_year"] > 2022
    financials.loc[later, "revenue"] = financials.loc[later, "revenue"] * 3
    financials.to_csv(changed / "financials.csv", index=False)
    score_panel(changed, 2022, str(root / "run1" / "bundle"), tmp_path / "c", settings)
    pd.testing.assert_frame_equal(b, pd.read_csv(tmp_path / "c" / "scores.csv", dtype={"firm_id": str}))


def test_promotion_gates_and_log(small, tmp_path):
    _, _, first, second = small
    log = tmp_path / "promotion_log.jsonl"
    strict = load_settings(overrides={"promotion": {"max_grade_share": 0.01}})
    refused = promotion.promote(None, strict, log_path=log)
    assert refused["decision"] == "refused" and refused["champion_after"] == str(first["version"])
    lenient = load_settings(
        overrides={"promotion": {"max_grade_share": 1.0, "max_failed_grade_tests_share": 1.0, "max_auc_drop": 1.0}}
    )
    promoted = promotion.promote(None, lenient, log_path=log)
    assert promoted["decision"] == "promoted" and promoted["champion_after"] == str(second["version"])
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["decision"] for r in records] == ["refused", "promoted"]


def test_a_first_model_failing_the_gates_is_no_champion_and_its_version_says_why(small, tmp_path, monkeypatch):
    import mlflow

    settings, root, _, _ = small
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'fresh.db'}")
    strict = settings.model_copy(update={"promotion": settings.promotion.model_copy(update={"max_grade_share": 0.01})})
    trained = train_panel(root / "data" / "history", tmp_path / "run", strict)
    assert trained["alias"] == "challenger"
    client = mlflow.MlflowClient()
    assert "champion" not in client.get_registered_model("jumpup_growth").aliases
    version = client.get_model_version("jumpup_growth", str(trained["version"]))
    assert version.tags["validation"].startswith("failed: ") and "grade_concentration" in version.tags["validation"]
    assert version.tags["data_sha256"] == trained["data_sha256"] and version.tags["code_version"]
    assert version.description and "grade_concentration" in version.description
    run = client.get_run(trained["run_id"])
    assert run.info.run_name == f"train-high_growth-h3-data{trained['data_sha256'][:8]}"
    assert (tmp_path / "promotion_log.jsonl").exists()


def test_gate_logic_alone():
    gates = load_settings().promotion
    candidate = {
        "out_of_time.auc": 0.70,
        "out_of_time.failed_grade_tests_share": 0.1,
        "out_of_time.max_grade_share": 0.2,
    }
    assert all(g["passed"] for g in promotion.gate_results(candidate, {"out_of_time.auc": 0.69}, gates))
    worse = promotion.gate_results(candidate, {"out_of_time.auc": 0.75}, gates)
    assert [g["passed"] for g in worse] == [False, True, True]


@pytest.mark.slow
def test_realised_rates_fall_across_grades_on_the_default_synthetic_sample(tmp_path):
    settings = load_settings(overrides={"ingest": {"max_fiscal_year": 2024}})
    synth.run(settings, tmp_path / "data", seed=settings.seed)
    summary = train_panel(tmp_path / "data" / "history", tmp_path / "model", settings, register=False)
    report = json.loads((tmp_path / "model" / "validation_report.json").read_text())
    for split in ("out_of_sample", "out_of_time"):
        assert report["splits"][split]["monotonicity"]["monotone"], report["splits"][split]["grades"]
    assert summary["metrics"]["out_of_time.auc"] > summary["metrics"]["out_of_time.baseline_auc"] - 0.05
    assert np.isfinite(summary["metrics"]["out_of_time.auc"])


def test_registered_pyfunc_scores_raw_rows_like_the_bundle(small):
    import mlflow

    from jumpup.features.builder import panel_rows
    from jumpup.intake.ingest import open_panel
    from jumpup.models.pyfunc import complete_rows, contract_columns
    from jumpup.pipelines.score import load_bundle

    settings, root, first, _ = small
    tables = open_panel(root / "data" / "history", settings.ingest).tables
    rows = panel_rows(tables["firms"], tables["financials"])
    rows = rows[rows["firm_id"].isin(rows["firm_id"].unique()[:30])]
    loaded = mlflow.pyfunc.load_model(first["model_uri"])
    via_pyfunc = loaded.predict(complete_rows(rows)[contract_columns()], params={"as_of": 2022, "language": "ko"})
    bundle, info = load_bundle(first["model_uri"], settings)
    assert info["model_version"] == str(first["version"])
    pd.testing.assert_frame_equal(via_pyfunc.reset_index(drop=True), bundle.score_rows(rows, 2022)[0])
