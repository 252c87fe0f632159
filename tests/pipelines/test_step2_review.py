"""`jumpup step2` and `jumpup review` end to end on a small synthetic round: outputs, quarantine
accounting, the decision log with an override, determinism, and clear errors on bad inputs."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from jumpup.pipelines.cli import app
from jumpup.pipelines.review import run_review
from jumpup.pipelines.round import run_round
from jumpup.pipelines.step2 import run_step2
from jumpup.rendering.wording import model_label
from jumpup.review.progress import BANDS
from tests.conftest import quick_settings, synth_and_train

runner = CliRunner()


def says(output: str, text: str) -> bool:
    """The console wraps long lines; compare without whitespace."""
    return "".join(text.split()) in "".join(output.split())


@pytest.fixture(scope="module")
def scored_round(tmp_path_factory):
    root = tmp_path_factory.mktemp("step2")
    settings = quick_settings(firms=1200, applicants=60)
    synth_and_train(root, settings, seed=11)
    run_round(
        root / "data" / "round",
        root / "round",
        settings,
        str(root / "model" / "bundle"),
        with_reports=False,
        with_workbook=False,
        log_path=root / "step1_log.jsonl",
    )
    return settings, root


def overrides_for(root, firm: str):
    path = root / "overrides.csv"
    path.write_text(f"firm_id,kind,decision,reason,author\n{firm},appeal,select,재심: 신규 수주 확인,운영위원회\n")
    return path


def test_step2_selects_within_the_cap_quarantines_failed_firms_and_logs_every_decision(scored_round, tmp_path):
    settings, root = scored_round
    step1 = pd.read_csv(root / "round" / "step1_decisions.csv", dtype={"firm_id": str})
    passed = sorted(step1.loc[step1["decision"] == "pass", "firm_id"])
    assert passed, "the fixture round must pass some firms"
    log = tmp_path / "log.jsonl"
    manifest = run_step2(
        root / "round",
        root / "data" / "step2" / "evaluations.csv",
        tmp_path / "cohort",
        settings,
        evaluators_path=root / "data" / "step2" / "evaluators.csv",
        overrides_path=overrides_for(tmp_path, passed[0]),
        log_path=log,
    )
    evaluations = next(f for f in manifest["files"] if f["table"] == "step2_evaluations")
    assert evaluations["rows_read"] == evaluations["accepted"] + evaluations["quarantined"]
    quarantine = pd.read_csv(tmp_path / "cohort" / "quarantine.csv", dtype=str)
    failed = set(step1["firm_id"]) - set(passed)
    assert set(quarantine["rule"]) == {"not_passed_step1"}  # the synthetic file covers every applicant
    assert evaluations["quarantined"] == 16 * len(
        failed & set(pd.read_csv(root / "data" / "step2" / "evaluations.csv")["firm_id"])
    )
    decisions = pd.read_csv(tmp_path / "cohort" / "step2_decisions.csv", dtype={"firm_id": str})
    assert sorted(decisions["firm_id"]) == passed
    selection = pd.read_csv(tmp_path / "cohort" / "selection.csv", dtype={"firm_id": str})
    assert 0 < len(selection) <= settings.step2.cohort_cap
    assert set(selection["track"]) <= {"entry", "growth"}
    assert passed[0] in set(selection["firm_id"])  # the appeal selected it
    share = manifest["recommendation_share"]
    assert share["selected"] == len(selection) and share["recommended_selected"] == int(selection["recommended"].sum())
    record = json.loads(log.read_text(encoding="utf-8").splitlines()[-1])
    assert record["stage"] == "step2" and len(record["decisions"]) == len(passed)
    appeal = record["overrides"][0]
    assert (appeal["event"], appeal["firm_id"], appeal["decision"], appeal["author"]) == (
        "appeal",
        passed[0],
        "select",
        "운영위원회",
    )
    appealed = decisions.set_index("firm_id").loc[passed[0]]
    assert appealed["earlier_decision"] in ("select", "reject", "undecided") and appealed["decided_by"] == "운영위원회"
    page = (tmp_path / "cohort" / "reports" / "selection.html").read_text(encoding="utf-8")
    assert "최종 선정" in page and "투자사 추천 기업 비중 (최종 선정 기준)" in page
    # one decimal, as the warning prints it: 29.6% must not read as 30% inside a 30-50% range
    assert f"{share['recommended_selected']}/{share['selected']}\n = {100 * share['share']:.1f}%" in page

    # same inputs, same bytes (the log is the only thing that grows)
    again = run_step2(
        root / "round",
        root / "data" / "step2" / "evaluations.csv",
        tmp_path / "again",
        settings,
        evaluators_path=root / "data" / "step2" / "evaluators.csv",
        overrides_path=overrides_for(tmp_path, passed[0]),
        log_path=log,
    )
    assert again["outputs_sha256"] == manifest["outputs_sha256"]
    assert len(log.read_text(encoding="utf-8").splitlines()) == 2

    # the yearly review of that cohort
    year = settings.synth.last_fiscal_year + 1
    review = run_review(
        tmp_path / "cohort",
        root / "data" / "review" / "statements",
        year,
        tmp_path / "review",
        settings,
        inputs_path=root / "data" / "review" / "review_inputs.csv",
        log_path=tmp_path / "review_log.jsonl",
    )
    progress = pd.read_csv(tmp_path / "review" / "progress.csv", dtype={"firm_id": str})
    assert sorted(progress["firm_id"]) == sorted(selection["firm_id"])
    assert set(progress["band"]) <= {*BANDS, "no_statement"}
    continued = pd.read_csv(tmp_path / "review" / "continuation.csv", dtype={"firm_id": str})
    assert set(continued["status"]) <= {"continue", "drop", "completed"}
    assert (continued.loc[continued["status"] == "continue", "next_year_voucher_won"] == 2.5e8).all()
    assert continued["reasons"].str.len().gt(0).all()
    for f in review["files"]:
        assert f["rows_read"] == f["accepted"] + f["quarantined"]
    unknown = pd.read_csv(tmp_path / "review" / "quarantine.csv", dtype=str)
    outside = set(unknown.loc[unknown["rule"] == "unknown_firm", "value"])
    assert outside and not outside & set(selection["firm_id"])  # other applicants' statements and review rows
    assert review["reports"]["firm_pages"] == len(selection)
    assert (tmp_path / "review" / "reports" / "dashboard.html").read_text(encoding="utf-8").count("<svg") == len(
        selection
    )
    line = f"모형 {model_label(review['model'])}"  # every review page names the model as the round's pages do
    assert line.startswith("모형 파일 ")  # a bundle directory is named by its hash
    reports = tmp_path / "review" / "reports"
    pages = [reports / "dashboard.html", *(reports / "firms").glob("*.html")]
    assert len(pages) == len(selection) + 1
    assert all(line in page.read_text(encoding="utf-8") for page in pages)
    run = mlflow.get_run(review["mlflow_run_id"])
    assert run.data.metrics["band.firms"] == review["monitoring"]["band_coverage"]["firms"]
    assert run.data.tags["stage"] == "review"
    second = run_review(
        tmp_path / "cohort",
        root / "data" / "review" / "statements",
        year,
        tmp_path / "review2",
        settings,
        inputs_path=root / "data" / "review" / "review_inputs.csv",
        track=False,
        log_path=tmp_path / "review_log.jsonl",
    )
    assert second["outputs_sha256"] == review["outputs_sha256"]
    records = [json.loads(line) for line in (tmp_path / "review_log.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(records) == 2 and {d["firm_id"] for d in records[0]["decisions"]} == set(selection["firm_id"])
    dropped = [d for d in records[0]["decisions"] if d["status"] == "drop"]
    assert all(d["reasons"] and d["next_year_voucher_won"] == 0 for d in dropped)


def test_step2_and_review_commands_fail_clearly_on_bad_inputs(scored_round, tmp_path):
    _settings, root = scored_round
    result = runner.invoke(
        app,
        [
            "step2",
            str(tmp_path),
            "--evaluations",
            str(root / "data" / "step2" / "evaluations.csv"),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2 and says(result.output, "not the output of 'jumpup round'")
    assert "Traceback" not in result.output
    bad = tmp_path / "evaluations.csv"
    bad.write_text("firm_id,evaluator_id,item,score\nR0000001,M1,growth,3\n")
    result = runner.invoke(
        app,
        [
            "step2",
            str(root / "round"),
            "--evaluations",
            str(bad),
            "--out",
            str(tmp_path / "o"),
            "--log",
            str(tmp_path / "l.jsonl"),
        ],
    )
    assert result.exit_code == 2 and says(result.output, "evaluator_role, vote missing")
    result = runner.invoke(
        app, ["review", str(tmp_path), "--statements", str(tmp_path), "--year", "2025", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 2 and says(result.output, "not the output of 'jumpup step2'")
