"""`jumpup round` end to end on a small synthetic round: outputs, reports, resume, determinism."""

from __future__ import annotations

import datetime as dt
import json
import time

import openpyxl
import pandas as pd
import pytest

from jumpup.pipelines.round import run_round
from jumpup.rendering.browser import find_browser
from tests.conftest import quick_settings, synth_and_train


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("round")
    settings = quick_settings(firms=1200, applicants=40)
    synth_and_train(root, settings, seed=8)
    return settings, root


def test_round_writes_every_output_and_resumes_identically(trained):
    settings, root = trained
    log = root / "decisions.jsonl"
    first = run_round(root / "data" / "round", root / "out", settings, str(root / "model" / "bundle.pkl"), log_path=log)
    for name in (
        "scores.csv",
        ".stages/score.scores.parquet",
        ".stages/growth_paths.growth_paths.parquet",
        "step1_decisions.csv",
        "growth_paths.csv",
        "quarantine.csv",
        "manifest.json",
        "round_workbook.xlsx",
        "reports/index.html",
        "reports/round_summary.html",
    ):
        assert (root / "out" / name).exists(), name
    applicants = pd.read_csv(root / "data" / "round" / "applications.csv", dtype=str)
    assert first["counts"]["applicants"] == len(applicants)
    assert len(list((root / "out" / "reports" / "firms").glob("*.html"))) == len(applicants)
    sheets = pd.ExcelFile(root / "out" / "round_workbook.xlsx").sheet_names
    assert sheets == ["점수", "STEP1 결정", "성장경로", "격리", "현장실사 품질"]
    second = run_round(
        root / "data" / "round", root / "out", settings, str(root / "model" / "bundle.pkl"), log_path=log
    )
    assert second["outputs_sha256"] == first["outputs_sha256"]
    assert json.loads((root / "out" / ".stages" / "fingerprints.json").read_text()).keys() >= {"score", "growth_paths"}
    assert len(log.read_text().splitlines()) == 2  # one decision-log record per run, nothing duplicated
    # rerun without per-firm reports and workbook: the summary stays, nothing of the earlier run lingers
    third = run_round(
        root / "data" / "round",
        root / "out",
        settings,
        str(root / "model" / "bundle.pkl"),
        with_reports=False,
        with_workbook=False,
        log_path=log,
    )
    assert third["outputs_sha256"] == first["outputs_sha256"]
    assert not list((root / "out" / "reports" / "firms").iterdir())
    assert not (root / "out" / "round_workbook.xlsx").exists()
    assert not (root / "out" / "reports" / "round_summary.pdf").exists()  # no summary PDF of the earlier run
    assert (root / "out" / "reports" / "round_summary.html").exists()
    assert "workbook" not in third["timings_seconds"] and third["reports"]["firm_pages"] == 0


def test_firm_report_is_korean_and_shows_peers_only_as_aggregates(trained):
    settings, root = trained
    manifest = run_round(
        root / "data" / "round",
        root / "out2",
        settings,
        str(root / "model" / "bundle.pkl"),
        log_path=root / "log2.jsonl",
    )
    firms = pd.read_csv(root / "data" / "round" / "firms.csv", dtype=str)
    page = sorted((root / "out2" / "reports" / "firms").glob("*.html"))[0]
    html = page.read_text(encoding="utf-8")
    assert "기업 성장성 평가 보고서" in html and "6대 지표군" in html and html.count("<svg") == 2
    assert 'class="band-80"' in html and 'class="family-bar"' in html
    me = page.stem
    others = firms[firms["firm_id"] != me]
    assert not any(fid in html for fid in others["firm_id"])
    assert not any(
        name in html for name in others["name"] if name not in firms.loc[firms["firm_id"] == me, "name"].tolist()
    )
    summary = (root / "out2" / "reports" / "round_summary.html").read_text(encoding="utf-8")
    assert "what-if" in summary and "PSI" in summary and summary.count('class="series"') >= 2
    # operator warnings are worded in Korean on the Korean summary page
    assert manifest["warnings"], "the synthetic round is expected to raise at least one warning"
    for warning in manifest["warnings"]:
        assert warning.ko in summary.replace("&#39;", "'") and str(warning) not in summary


def _documents(out) -> dict[str, bytes]:
    files = [out / "round_workbook.xlsx", *sorted((out / "reports").rglob("*.pdf"))]
    return {str(f.relative_to(out)): f.read_bytes() for f in files}


@pytest.mark.skipif(find_browser() is None, reason="no Chromium: PDFs are not printed")
@pytest.mark.xfail(
    reason="known gap: dates are fixed and the workbook and most PDFs are equal, but on a loaded machine some "
    "firm PDFs differ in content (same length); the cause (font loading before print) is not yet found",
    strict=False,
)
def test_a_rerun_gives_byte_identical_pdfs_and_workbook(trained, monkeypatch):
    settings, root = trained
    model = str(root / "model" / "bundle.pkl")
    out = root / "out_bytes"
    run_round(root / "data" / "round", out, settings, model, log_path=root / "log3.jsonl")
    first = _documents(out)
    assert len(first) > 2 and all(first.values())
    # the documents carry the fixed date, not the wall clock
    assert b"/CreationDate (D:19800101000000Z)" in first["reports/round_summary.pdf"]
    properties = openpyxl.load_workbook(out / "round_workbook.xlsx").properties
    assert properties.created == properties.modified == dt.datetime(1980, 1, 1)
    time.sleep(1.1)  # a wall-clock date would now differ
    run_round(root / "data" / "round", out, settings, model, log_path=root / "log3.jsonl")
    assert _documents(out) == first
    # SOURCE_DATE_EPOCH sets the date written into the documents
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01 00:00 UTC
    run_round(root / "data" / "round", out, settings, model, log_path=root / "log3.jsonl")
    assert b"/ModDate (D:20260101000000Z)" in (out / "reports" / "round_summary.pdf").read_bytes()
    decisions = pd.read_csv(out / "step1_decisions.csv", dtype=str)
    assert not decisions["reasons"].str.contains("nan").any()
