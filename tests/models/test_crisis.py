"""Crisis target, indicators, early-warning model and ``jumpup train --target crisis``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from jumpup.features.crisis_signals import FEATURES, crisis_signals
from jumpup.models.crisis import CrisisModel, crisis_targets, train_crisis
from jumpup.settings import load_settings
from jumpup.synthetic.crisis_panel import crisis_panel


def _firm(firm_id, coverages, opinions=None, start=2015):
    n = len(coverages)
    opinions = opinions or ["UQ"] * n
    return pd.DataFrame(
        {
            "firm_id": firm_id,
            "fiscal_year": range(start, start + n),
            "interest_coverage": [np.nan if c is None else c for c in coverages],
            "no_interest_expense": [1.0 if c is None else 0.0 for c in coverages],
            "audit_opinion": opinions,
        }
    )


def _target(frame, firm, year):
    row = frame[(frame["firm_id"] == firm) & (frame["fiscal_year"] == year)].iloc[0]
    return row["target"], row["label_status"]


def test_crisis_target_follows_the_definition():
    settings = load_settings().crisis
    panel = pd.concat(
        [
            _firm("marginal", [2.0, 0.5, 0.8, 0.2, 3.0]),  # below 1 in each of the next 3 years: 1
            _firm("recovers", [2.0, 0.5, 1.5, 0.2, 3.0]),  # one year back above 1: 0
            _firm("opinion", [2.0, 3.0, 3.0, 3.0, 3.0], ["UQ", "UQ", "DS", "UQ", "UQ"]),  # disclaimer: 1
            _firm("qualified", [2.0, 3.0, 3.0, 3.0, 3.0], ["UQ", "QS", "QS", "QS", "UQ"]),  # 한정 only: 0
            _firm("no_interest", [None, 0.5, 0.5, 0.5, 3.0]),  # no interest expense meets the start rule
            _firm("vanished", [2.0, 3.0]),  # left the panel: no outcome
            _firm("starts_low", [0.5, 0.5, 0.5, 0.5, 0.5]),
            _firm("filler", [5.0] * 8, start=2013),  # panel runs to 2020
        ],
        ignore_index=True,
    )
    targets = crisis_targets(panel, settings)
    assert _target(targets, "marginal", 2015) == (1.0, "labelled")
    assert _target(targets, "recovers", 2015) == (0.0, "labelled")
    assert _target(targets, "opinion", 2015) == (1.0, "labelled")
    assert _target(targets, "qualified", 2015) == (0.0, "labelled")
    assert _target(targets, "no_interest", 2015) == (1.0, "labelled")
    assert np.isnan(_target(targets, "vanished", 2015)[0])
    assert _target(targets, "vanished", 2015)[1] == "vanished_or_gap"
    assert _target(targets, "starts_low", 2015)[1] == "start_coverage_below_threshold"
    assert _target(targets, "filler", 2018)[1] == "outcome_after_panel_end"


def test_indicators_are_point_in_time_and_per_firm():
    firms, financials = crisis_panel(60, 8, seed=3)
    rows = financials.merge(firms[["firm_id", "industry_group"]], on="firm_id")
    whole = crisis_signals(rows)
    per_firm = pd.concat([crisis_signals(part) for _, part in rows.groupby("firm_id")], ignore_index=True)
    pd.testing.assert_frame_equal(whole, per_firm)
    changed = rows.copy()
    later = changed["fiscal_year"] == changed["fiscal_year"].max()
    changed.loc[later, ["revenue", "interest_coverage", "operating_income"]] = 1.0
    before = whole[whole["fiscal_year"] < rows["fiscal_year"].max()].reset_index(drop=True)
    after = crisis_signals(changed)
    after = after[after["fiscal_year"] < rows["fiscal_year"].max()].reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)
    assert list(whole.columns) == ["firm_id", "fiscal_year", *FEATURES]


def test_repeated_firm_year_is_refused():
    _, financials = crisis_panel(5, 4, seed=1)
    with pytest.raises(ValueError, match="repeat"):
        crisis_signals(pd.concat([financials, financials.head(1)]))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    settings = load_settings(overrides={"crisis": {"bootstrap": 50, "tuning_grid": {"num_leaves": [7]}}})
    firms, financials = crisis_panel(1200, 12, seed=7)
    rows = financials.merge(firms[["firm_id", "industry_group"]], on="firm_id")
    training = train_crisis(crisis_signals(rows), crisis_targets(financials, settings.crisis), settings.crisis, 5)
    return training, rows, tmp_path_factory.mktemp("crisis")


def test_training_gives_the_validation_pack_and_baselines(trained):
    training, _, _ = trained
    report = training.report
    assert set(report["splits"]) == {"train", "out_of_sample", "out_of_time"}
    for split in report["splits"].values():
        assert {"discrimination", "grades", "monotonicity", "calibration", "concentration"} <= set(split)
    auc = report["evaluation"]["auc"]
    assert {"crisis_model", "plain_lgbm", "logistic", "interest_coverage"} <= set(auc)
    for name in ("crisis_model", "plain_lgbm"):
        assert auc[name]["ci_low"] <= auc[name]["auc"] <= auc[name]["ci_high"]
    assert auc["crisis_model"]["auc"] > 0.6  # the synthetic crisis follows the observed health
    assert report["test_firms_overlap_fit"] == 0
    assert [g["grade"] for g in report["evaluation"]["grades"]] == ["severe", "alert", "caution", "watch", "normal"]


def test_evaluation_intervals_are_the_shared_firm_clustered_paired_bootstrap(trained):
    from jumpup.models.metrics import bootstrap_samples

    training, _, _ = trained
    predictions, auc = training.predictions, training.report["evaluation"]["auc"]
    y, firms = predictions["target"].to_numpy(dtype=int), predictions["firm_id"].to_numpy()
    samples = list(bootstrap_samples(y, firms, 50, 5))
    draws = {
        name: np.array([roc_auc_score(y[i], predictions[name].to_numpy()[i]) for i in samples])
        for name in ("crisis_model", "plain_lgbm")
    }
    assert auc["crisis_model"]["ci_low"] == pytest.approx(np.quantile(draws["crisis_model"], 0.025))
    assert auc["crisis_model"]["ci_high"] == pytest.approx(np.quantile(draws["crisis_model"], 0.975))
    paired = draws["crisis_model"] - draws["plain_lgbm"]  # the same draws for both: a paired interval
    difference = auc["crisis_model_minus_plain_lgbm"]
    assert (difference["ci_low"], difference["ci_high"]) == pytest.approx(
        (np.quantile(paired, 0.025), np.quantile(paired, 0.975))
    )


def test_saved_model_scores_the_same_and_refuses_tampering(trained):
    training, rows, tmp = trained
    features = crisis_signals(rows)
    latest = features[features["fiscal_year"] == 2023].reset_index(drop=True)
    directory = training.model.save(tmp / "model")
    loaded = CrisisModel.load(directory)
    before, after = training.model.score_features(latest), loaded.score_features(latest)
    pd.testing.assert_frame_equal(before, after)
    assert after["probability"].between(0, 1).all()
    assert set(after["grade"]) <= {"severe", "alert", "caution", "watch", "normal"}
    assert after.loc[after["flagged"], "grade"].isin(["severe", "alert"]).all()
    assert (after["reason_1"] != "").any()
    text = (directory / "model.json").read_text(encoding="utf-8")
    (directory / "model.json").write_text(text.replace('"top_k": 3', '"top_k": 4'), encoding="utf-8")
    with pytest.raises(ValueError, match="sha256"):
        CrisisModel.load(directory)


def promotion_log(params):
    from jumpup.settings import load_settings as load
    from jumpup.tracking import promotion_log_path

    return promotion_log_path(load(params).tracking)


def test_train_command_registers_the_crisis_model(tmp_path):
    from typer.testing import CliRunner

    from jumpup.pipelines.cli import app

    firms, financials = crisis_panel(700, 12, seed=11)
    panel = tmp_path / "panel"
    panel.mkdir()
    firms.to_csv(panel / "firms.csv", index=False)
    financials.to_csv(panel / "financials.csv", index=False)
    params = tmp_path / "params.yaml"
    import yaml

    from jumpup.settings import DEFAULT_PARAMS_PATH

    raw = yaml.safe_load(DEFAULT_PARAMS_PATH.read_text(encoding="utf-8"))
    raw["crisis"] |= {"bootstrap": 30, "tuning_grid": {"num_leaves": [7]}}
    params.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["train", "--target", "crisis", "--panel", str(panel), "--out", str(out), "--params", str(params)]
    )
    assert result.exit_code == 0, result.output
    assert "models:/jumpup-crisis/1" in result.output
    summary = json.loads((out / "train_run.json").read_text(encoding="utf-8"))
    assert summary["registered_model"] == "jumpup-crisis"
    assert (out / "crisis_model" / "manifest.json").is_file()
    page = (out / "validation_report.html").read_text(encoding="utf-8")
    report = json.loads((out / "validation_report.json").read_text(encoding="utf-8"))
    assert "위기징후 조기경보 모형 검증 보고서" in page and "<script" not in page
    auc = report["evaluation"]["auc"]
    gain = auc["crisis_model_minus_plain_lgbm"]
    assert f"{auc['crisis_model']['auc']:.3f}" in page and f"{gain['difference']:+.3f}" in page
    assert page.count("<svg") == 2 * sum(1 for s in report["splits"].values() if s.get("grades"))
    # promotion through the crisis gates: the candidate is the challenger just registered
    promoted = CliRunner().invoke(app, ["promote", "--target", "crisis", "--params", str(params)])
    assert promoted.exit_code == 0, promoted.output
    log = [json.loads(line) for line in promotion_log(params).read_text(encoding="utf-8").splitlines()]
    record = log[-1]
    assert record["model"] == "jumpup-crisis" and record["candidate_version"] == "1"
    gates = {g["gate"]: g for g in record["gates"]}
    assert set(gates) == {"calibration_tests", "grade_concentration", "monotone_grades", "discrimination_over_baseline"}
    assert gates["monotone_grades"]["candidate"] == report["splits"]["out_of_time"]["monotonicity"]["inversions"]
    assert gates["discrimination_over_baseline"]["candidate"] == pytest.approx(gain["ci_low"], abs=1e-6)
    assert record["decision"] == ("promoted" if all(g["passed"] for g in gates.values()) else "refused")
    missing = CliRunner().invoke(app, ["train", "--target", "crisis", "--panel", str(tmp_path), "--out", str(out)])
    assert missing.exit_code == 2
    assert "firms.csv" in missing.output and "Traceback" not in missing.output


@pytest.mark.real_data
@pytest.mark.slow
def test_crisis_on_ts2000_held_out_firms(ts2000_audited, tmp_path):
    """The held-out evaluation on the real panel (prints the figures; asserts the floor we measured)."""
    from jumpup.intake.ts2000 import import_ts2000
    from jumpup.pipelines.train_crisis import run

    settings = load_settings()
    import_ts2000(ts2000_audited, tmp_path / "panel", settings.sources.ts2000_basis_precedence)
    summary = run(tmp_path / "panel", tmp_path / "out", settings, register=False)
    auc = summary["evaluation"]["auc"]
    assert auc["crisis_model"]["auc"] > auc["plain_lgbm"]["auc"]
    assert summary["evaluation"]["monotone"]["monotone"]


def test_firms_already_in_crisis_follow_the_two_signs_of_the_target():
    from jumpup.models.crisis import in_crisis

    settings = load_settings().crisis
    panel = pd.concat(
        [
            _firm("low", [0.4]),  # coverage below 1 with interest expense
            _firm("disclaimer", [3.0], ["DS"]),  # 의견거절
            _firm("both", [0.2], ["AG"]),
            _firm("qualified", [3.0], ["QS"]),  # 한정 is not a crisis opinion
            _firm("no_interest", [None]),  # no interest expense: not below
            _firm("at_threshold", [1.0]),
        ],
        ignore_index=True,
    )
    panel.loc[len(panel)] = {"firm_id": "unknown", "fiscal_year": 2015, "audit_opinion": None}
    state = in_crisis(panel, settings).set_index("firm_id")
    assert state["in_crisis"].to_dict() == {
        "at_threshold": False,
        "both": True,
        "disclaimer": True,
        "low": True,
        "no_interest": False,
        "qualified": False,
        "unknown": False,
    }
    assert state.loc["both", ["coverage_below", "crisis_opinion"]].tolist() == [True, True]
    assert "이자보상배율 0.40" in state.loc["low", "crisis_reason"]
    assert "DS" in state.loc["disclaimer", "crisis_reason"]
    assert state.loc["qualified", "crisis_reason"] == ""
    # the same two signs open the target: a firm-year in crisis never starts a labelled outcome
    targets = crisis_targets(panel, settings).set_index("firm_id")
    assert not targets.loc[state.index[state["coverage_below"]], "start_ok"].any()
