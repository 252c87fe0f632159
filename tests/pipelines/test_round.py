"""`jumpup round` end to end on a small synthetic round: outputs, reports, resume, determinism."""

from __future__ import annotations

import datetime as dt
import json
import re
import time

import openpyxl
import pandas as pd
import pytest

from jumpup.paths import safe_slug
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
    first = run_round(root / "data" / "round", root / "out", settings, str(root / "model" / "bundle"), log_path=log)
    for name in (
        "scores.csv",
        ".stages/score.scores.parquet",
        ".stages/growth_paths.growth_paths.parquet",
        "step1_decisions.csv",
        "growth_paths.csv",
        "quarantine.csv",
        "manifest.json",
        "round_workbook.xlsx",
        "operator/index.html",
        "reports/round_summary.html",
    ):
        assert (root / "out" / name).exists(), name
    applicants = pd.read_csv(root / "data" / "round" / "applications.csv", dtype=str)
    assert first["counts"]["applicants"] == len(applicants)
    assert len(list((root / "out" / "reports" / "firms").glob("*.html"))) == len(applicants)
    sheets = pd.ExcelFile(root / "out" / "round_workbook.xlsx").sheet_names
    assert sheets == ["점수", "STEP1 결정", "성장경로", "격리", "현장실사 품질"]
    second = run_round(root / "data" / "round", root / "out", settings, str(root / "model" / "bundle"), log_path=log)
    assert second["outputs_sha256"] == first["outputs_sha256"]
    assert first["resumed_stages"] == [] and second["resumed_stages"] == ["score", "growth_paths"]
    assert json.loads((root / "out" / ".stages" / "fingerprints.json").read_text()).keys() >= {"score", "growth_paths"}
    assert len(log.read_text().splitlines()) == 2  # one decision-log record per run, nothing duplicated
    # rerun without per-firm reports and workbook: the summary stays, nothing of the earlier run lingers
    third = run_round(
        root / "data" / "round",
        root / "out",
        settings,
        str(root / "model" / "bundle"),
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


def test_the_rounds_mlflow_run_ends_finished_or_failed_with_the_round(trained, tmp_path, monkeypatch):
    import mlflow

    import jumpup.pipelines.round as round_module

    settings, root = trained
    done = run_round(
        root / "data" / "round", tmp_path / "done", settings, str(root / "model" / "bundle"), with_reports=False
    )
    run = mlflow.get_run(done["mlflow_run_id"])
    assert run.info.status == "FINISHED" and run.data.metrics["applicants"] == done["counts"]["applicants"]

    def broken(*args, **kwargs):
        raise RuntimeError("reports could not be written")

    monkeypatch.setattr(round_module, "write_round_reports", broken)  # fails after the run has opened
    with pytest.raises(RuntimeError, match="reports could not be written"):
        run_round(root / "data" / "round", tmp_path / "failed", settings, str(root / "model" / "bundle"))
    runs = mlflow.search_runs(
        experiment_names=[settings.tracking.experiment],
        filter_string="tags.stage = 'round'",
        order_by=["start_time DESC"],
    )
    assert runs.iloc[0]["status"] == "FAILED" and runs.iloc[0]["run_id"] != done["mlflow_run_id"]
    assert not (tmp_path / "failed").exists()  # and the failed round left no folder


def test_without_a_log_path_the_decision_log_stays_inside_out(trained, tmp_path):
    settings, root = trained
    run_round(root / "data" / "round", tmp_path / "out", settings, str(root / "model" / "bundle"), with_reports=False)
    assert len((tmp_path / "out" / "step1_decision_log.jsonl").read_text().splitlines()) == 1


def test_firm_report_is_korean_and_shows_peers_only_as_aggregates(trained):
    settings, root = trained
    manifest = run_round(
        root / "data" / "round",
        root / "out2",
        settings,
        str(root / "model" / "bundle"),
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
    assert "가정 분석" in summary and "PSI" in summary and summary.count('class="series"') >= 2
    assert "what-if" not in summary and "audit_weight" not in summary and "log_revenue" not in summary
    # peer privacy: every count in the group tables is at least the minimum group size
    import re

    for block in re.findall(r"<th>신청</th><th>통과</th></tr>(.*?)</table>", summary, flags=re.S):
        counts = [int(n) for n in re.findall(r"<td class=l>[^<]*</td><td>(\d+)</td>", block)]
        assert all(n >= settings.reports.min_group_size for n in counts), counts
    # operator warnings are worded in Korean on the Korean summary page
    assert manifest["warnings"], "the synthetic round is expected to raise at least one warning"
    for warning in manifest["warnings"]:
        assert warning.ko in summary.replace("&#39;", "'") and str(warning) not in summary


def _documents(out) -> dict[str, bytes]:
    files = [out / "round_workbook.xlsx", *sorted((out / "reports").rglob("*.pdf"))]
    return {str(f.relative_to(out)): f.read_bytes() for f in files}


@pytest.mark.skipif(find_browser() is None, reason="no Chromium: PDFs are not printed")
def test_a_rerun_gives_byte_identical_pdfs_and_workbook(trained, monkeypatch):
    settings, root = trained
    model = str(root / "model" / "bundle")
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


HOSTILE_IDS = ("../../../../evil", "a/b", "x" * 300, "nul\x00id", "bell\x07id", "=cmd|' /C calc'!A0")
# Valid ids (the firm-id rule) that still cannot name a file as they are: Windows device names, a final dot.
DEVICE_IDS = ("CON", "com1.txt", "ABC.")


def _hostile_round(source, target, ids=HOSTILE_IDS):
    """A copy of a round whose first applicants carry ``ids`` in every file."""
    target.mkdir(parents=True)
    applications = pd.read_csv(source / "applications.csv", dtype=str)
    renamed = dict(zip(applications["firm_id"].head(len(ids)), ids, strict=True))
    for name in ("firms", "financials", "applications", "audits"):
        frame = pd.read_csv(source / f"{name}.csv", dtype=str)
        frame["firm_id"] = frame["firm_id"].replace(renamed)
        frame.to_csv(target / f"{name}.csv", index=False)
    return renamed


def test_hostile_firm_ids_are_quarantined_and_never_name_a_file_outside_out(trained, tmp_path):
    settings, root = trained
    sandbox = tmp_path / "sandbox"
    _hostile_round(root / "data" / "round", sandbox / "round", (*HOSTILE_IDS, *DEVICE_IDS))
    out = sandbox / "outer" / "out"
    manifest = run_round(sandbox / "round", out, settings, str(root / "model" / "bundle"), log_path=tmp_path / "log")
    assert sorted(p.name for p in sandbox.iterdir()) == ["outer", "round"]  # nothing written beside --out
    assert [p.name for p in (sandbox / "outer").iterdir()] == ["out"]
    assert len(list((sandbox / "round").iterdir())) == 4
    rejected = pd.read_csv(out / "ingested" / "quarantine.csv", dtype=str, keep_default_na=False)
    by_rule = rejected[rejected["rule"] == "bad_firm_id"]
    assert by_rule["file"].str.contains("firms").sum() == len(HOSTILE_IDS)
    assert by_rule["file"].str.contains("applications").sum() == len(HOSTILE_IDS)
    scores = pd.read_csv(out / "scores.csv", dtype={"firm_id": str})
    applicants = pd.read_csv(sandbox / "round" / "applications.csv", dtype=str)["firm_id"]
    assert set(scores["firm_id"]) == set(applicants) - set(HOSTILE_IDS) and set(DEVICE_IDS) <= set(scores["firm_id"])
    assert manifest["counts"]["scored"] == len(scores) and manifest["counts"]["applicants"] == len(scores)
    pages = sorted(p.stem for p in (out / "reports" / "firms").glob("*.html"))
    assert pages == sorted(safe_slug(f) for f in scores["firm_id"])
    assert {"CON", "com1.txt", "ABC"}.isdisjoint(pages)  # device names and a final dot never name a file
    # Every report link of the operator's index opens a file that exists, the device-name firms' included.
    index = (out / "operator" / "index.html").read_text(encoding="utf-8")
    links = re.findall(r'href="(\.\./reports/firms/[^"]+)"', index)
    assert len([link for link in links if link.endswith(".html")]) == len(scores)
    assert [link for link in links if not (out / "operator" / link).is_file()] == []


def test_safe_slug_keeps_valid_ids_and_confines_everything_else():
    from jumpup.paths import FIRM_ID_MAX_LENGTH, safe_slug

    assert safe_slug("005930") == "005930" and safe_slug("123-45-67890") == "123-45-67890"
    slugs = {safe_slug(v) for v in (*HOSTILE_IDS, "..", ".", "", "CON", "evil", "evil/", "a\\b", "한글기업")}
    assert len(slugs) == len(HOSTILE_IDS) + 8  # distinct values, distinct names
    for slug in slugs:
        assert "~" in slug and "/" not in slug and "\\" not in slug and "\x00" not in slug
        assert slug not in (".", "..") and len(slug.encode()) <= FIRM_ID_MAX_LENGTH


def test_ids_that_differ_only_in_case_never_name_one_file_where_case_is_ignored():
    from jumpup.paths import safe_slug

    ids = ["ABC", "abc", "Abc", "aBC", "A1-B.2", "a1-b.2", "005930"]
    slugs = [safe_slug(i) for i in ids]
    assert len({s.lower() for s in slugs}) == len(ids)  # as Windows and macOS compare names
    assert slugs[0] == "ABC" and slugs[4] == "A1-B.2" and slugs[6] == "005930"  # kept as they are
    assert slugs[1].startswith("abc~") and slugs[5].startswith("a1-b_2~")


FORMULAS = {
    "investor": "+1+cmd|' /C calc'!A0",
    "evaluator": "@SUM(1+1)*cmd|' /C calc'!A0",
    "raw_value": "=1+1",
    "name": "-2+3+cmd|' /C calc'!A0",
}


def test_text_from_applicants_never_becomes_a_formula_in_the_workbook_or_the_csvs(trained, tmp_path):
    import csv
    import re

    from openpyxl import load_workbook

    settings, root = trained
    source, target = root / "data" / "round", tmp_path / "round"
    target.mkdir()
    firms = pd.read_csv(source / "firms.csv", dtype=str)
    firms.loc[0, "name"] = FORMULAS["name"]
    firms.to_csv(target / "firms.csv", index=False)
    applications = pd.read_csv(source / "applications.csv", dtype=str)
    applications.loc[0, ["recommending_investor", "investor_type", "investment_stage"]] = [
        FORMULAS["investor"],
        "VC",
        "series_a",
    ]
    applications.to_csv(target / "applications.csv", index=False)
    audits = pd.read_csv(source / "audits.csv", dtype=str)
    audits.loc[audits["evaluator_id"] == audits["evaluator_id"].iloc[0], "evaluator_id"] = FORMULAS["evaluator"]
    audits.to_csv(target / "audits.csv", index=False)
    financials = pd.read_csv(source / "financials.csv", dtype=str)
    earliest = financials["fiscal_year"].astype(int).idxmin()
    financials.loc[earliest, "revenue"] = FORMULAS["raw_value"]
    financials.to_csv(target / "financials.csv", index=False)
    out = tmp_path / "out"
    run_round(target, out, settings, str(root / "model" / "bundle"), with_reports=False, log_path=tmp_path / "log")

    workbook = load_workbook(out / "round_workbook.xlsx")
    found = {}
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if cell.value in FORMULAS.values():
                    found[cell.value] = cell.data_type
                if isinstance(cell.value, (int, float)) and cell.value < 0:
                    found.setdefault("negative number", cell.data_type)
    assert found == {
        FORMULAS["investor"]: "s",
        FORMULAS["evaluator"]: "s",
        FORMULAS["raw_value"]: "s",
        "negative number": "n",
    }

    cells, negative_numbers = [], 0
    for path in [*out.glob("*.csv"), *(out / "step1").glob("*.csv")]:
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                cells += [(path.name, c) for c in row]
                negative_numbers += sum(c.startswith("-") and c[1:].replace(".", "", 1).isdigit() for c in row)
    number = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")
    risky = [c for c in cells if c[1].startswith(("=", "+", "-", "@", "\t", "\r")) and not number.match(c[1])]
    assert not risky, risky[:5]
    assert ("step1_decisions.csv", "'" + FORMULAS["investor"]) in cells
    assert ("quarantine.csv", "'" + FORMULAS["raw_value"]) in cells
    assert negative_numbers > 0  # numbers stay numbers


def test_side_branch_in_a_process_writes_the_same_bytes_as_in_a_thread(trained, tmp_path):
    settings, root = trained
    in_process = settings.model_copy(
        update={"growth_paths": settings.growth_paths.model_copy(update={"process_min_firms": 0})}
    )
    runs = {}
    for name, chosen in (("thread", settings), ("process", in_process)):
        runs[name] = run_round(
            root / "data" / "round",
            tmp_path / name,
            chosen,
            str(root / "model" / "bundle"),
            with_reports=False,
            with_workbook=False,
            log_path=tmp_path / f"{name}.jsonl",
        )
    assert settings.growth_paths.process_min_firms > runs["thread"]["counts"]["applicants"]  # the thread ran
    assert runs["process"]["outputs_sha256"] == runs["thread"]["outputs_sha256"]
    for manifest in runs.values():
        assert {"side: growth_paths", "side: scores.csv", "side: quarantine.csv"} <= manifest["timings_seconds"].keys()
