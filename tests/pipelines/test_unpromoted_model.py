"""A model that failed the promotion gates: every output of a run with it says so, and no default is guessed."""

from __future__ import annotations

import json
import time

import openpyxl
import pytest
from typer.testing import CliRunner

from jumpup.pipelines.cli import app
from jumpup.pipelines.round import run_round
from jumpup.pipelines.score import score_panel
from jumpup.pipelines.train import train_panel
from tests.conftest import quick_settings

runner = CliRunner()


@pytest.fixture(scope="module")
def candidate(tmp_path_factory):
    """A registered first version that fails the grade-concentration gate (limit 1% of firms)."""
    from jumpup.pipelines import synth

    root = tmp_path_factory.mktemp("unpromoted")
    settings = quick_settings(firms=900, applicants=30)
    settings = settings.model_copy(
        update={"promotion": settings.promotion.model_copy(update={"max_grade_share": 0.01})}
    )
    synth.run(settings, root / "data", seed=5)
    store = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store)
        trained = train_panel(root / "data" / "history", root / "model", settings)
    assert trained["alias"] == "challenger"  # the gates kept it from champion
    return settings, root, store, trained


@pytest.fixture
def store(candidate, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", candidate[2])
    return candidate


def test_a_round_with_an_unpromoted_model_says_so_in_korean_on_every_output(store, tmp_path):
    settings, root, _, trained = store
    out = tmp_path / "round"
    manifest = run_round(root / "data" / "round", out, settings, trained["model_uri"], log_path=tmp_path / "log")
    assert manifest["model"]["model_promoted"] is False
    failed = {g["gate"]: g for g in manifest["model"]["model_failed_gates"]}
    assert failed["grade_concentration"]["limit"] == 0.01 and failed["grade_concentration"]["candidate"] > 0.01
    assert manifest["warnings"][0].startswith(f"model version {trained['version']} is an unpromoted candidate")
    assert "grade_concentration" in manifest["warnings"][0]
    said = "승격되지 않은 후보 모형"
    summary = (out / "reports" / "round_summary.html").read_text(encoding="utf-8")
    assert summary.count(said) >= 2  # the model line and the warnings
    assert "한 등급에 몰린 기업 비율" in summary and "한도 0.010" in summary
    firm_pages = sorted((out / "reports" / "firms").glob("*.html"))
    assert firm_pages and all(said in page.read_text(encoding="utf-8") for page in firm_pages)
    dossiers = sorted((out / "step1" / "dossiers").glob("*.html"))
    assert dossiers and all(said in page.read_text(encoding="utf-8") for page in dossiers)
    assert said in (out / settings.reports.operator_dir / "index.html").read_text(encoding="utf-8")
    workbook = openpyxl.load_workbook(out / "round_workbook.xlsx", read_only=True)
    first = workbook[workbook.sheetnames[0]]
    assert workbook.sheetnames[0] == "모형 안내"
    assert "승격되지 않은 후보 모형" in str(next(first.iter_rows(min_row=2, values_only=True))[0])
    # a model that passes every gate (the same run, judged against lenient gates) carries no such notice
    gates = {"max_grade_share": 1.0, "max_failed_grade_tests_share": 1.0}
    lenient = settings.model_copy(update={"promotion": settings.promotion.model_copy(update=gates)})
    from jumpup.pipelines import promote

    assert promote.promote(str(trained["version"]), lenient, log_path=tmp_path / "promotion.jsonl")["decision"] == (
        "promoted"
    )
    again = run_round(
        root / "data" / "round",
        tmp_path / "r2",
        lenient,
        "models:/jumpup_growth@champion",
        with_reports=False,
        log_path=tmp_path / "log",
    )
    assert again["model"]["model_promoted"] is True
    assert not any("unpromoted" in w for w in again["warnings"])
    assert "모형 안내" not in openpyxl.load_workbook(tmp_path / "r2" / "round_workbook.xlsx").sheetnames
    # put the registry back as the other tests expect it: no champion, version 1 the challenger
    import mlflow

    client = mlflow.MlflowClient()
    client.delete_registered_model_alias("jumpup_growth", "champion")
    client.set_registered_model_alias("jumpup_growth", "challenger", str(trained["version"]))


def test_scoring_with_an_unpromoted_model_warns_in_the_manifest(store, tmp_path):
    settings, root, _, trained = store
    manifest = score_panel(root / "data" / "history", 2023, trained["model_uri"], tmp_path / "s", settings)
    written = json.loads((tmp_path / "s" / "scores_manifest.json").read_text(encoding="utf-8"))
    assert written["model_promoted"] is False
    assert "unpromoted candidate" in written["warnings"][0]
    assert "승격되지 않은 후보 모형" in written["warnings_ko"][0]
    assert manifest["warnings"][0] == written["warnings"][0]


@pytest.mark.parametrize("command", ["round", "score"])
def test_without_model_and_without_champion_one_line_names_the_versions_and_the_fix(store, tmp_path, command):
    _, root, _, trained = store
    args = (
        ["round", str(root / "data" / "round")]
        if command == "round"
        else ["score", "--panel", str(root / "data" / "history"), "--as-of", "2023"]
    )
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    line = lines[0]
    assert "has no champion" in line and f"v{trained['version']}" in line and "@challenger" in line
    assert f"--model models:/jumpup_growth/{trained['version']}" in line and "jumpup promote" in line
    assert not (tmp_path / "out").exists()  # nothing made for a run that could not start


@pytest.mark.parametrize("model", ["models:/jumpup_growht/1", "models:/jumpup_growth/99", "no/such/bundle"])
def test_a_mistyped_model_stops_a_round_before_ingest_and_leaves_no_out(store, tmp_path, model, monkeypatch):
    _, root, _, _ = store
    from jumpup.pipelines import round as round_stage

    ingested = []
    monkeypatch.setattr(
        round_stage, "open_checked_panel", lambda *a, **k: ingested.append(a) or pytest.fail("ingested")
    )
    started = time.perf_counter()
    result = runner.invoke(
        app, ["round", str(root / "data" / "round"), "--out", str(tmp_path / "o" / "out"), "--model", model]
    )
    assert result.exit_code == 2, result.output
    assert next(line for line in result.output.splitlines() if line.strip()).startswith("error:")
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1, result.output
    assert model in result.output and not ingested
    assert not (tmp_path / "o").exists()
    assert time.perf_counter() - started < 30


def test_a_round_that_fails_after_making_out_removes_only_what_it_made(store, tmp_path, monkeypatch):
    settings, root, _, trained = store
    from jumpup.pipelines import round as round_stage

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device", "growth_paths.csv")

    monkeypatch.setattr(round_stage, "decide_round", broken)
    fresh = tmp_path / "new" / "out"
    with pytest.raises(OSError):
        run_round(root / "data" / "round", fresh, settings, trained["model_uri"], log_path=tmp_path / "log")
    assert not (tmp_path / "new").exists()
    earlier = tmp_path / "earlier"
    (earlier / "reports").mkdir(parents=True)
    (earlier / "notes.txt").write_text("kept")
    (earlier / "reports" / "old.html").write_text("kept")
    with pytest.raises(OSError):
        run_round(root / "data" / "round", earlier, settings, trained["model_uri"], log_path=tmp_path / "log")
    assert sorted(p.relative_to(earlier).as_posix() for p in earlier.rglob("*")) == [
        "notes.txt",
        "reports",
        "reports/old.html",
    ]


def test_the_notice_and_the_model_line_name_the_failed_gates_with_their_figures():
    from jumpup.pipelines.score import unpromoted_notice
    from jumpup.rendering.round_reports import model_label

    info = {
        "model_version": "3",
        "model_promoted": False,
        "model_champion_version": "2",
        "model_failed_gates": [{"gate": "calibration_tests", "candidate": 0.444444, "limit": 0.3}],
    }
    notice = unpromoted_notice(info)
    assert str(notice).startswith("model version 3 is an unpromoted candidate, not the champion (champion: version 2)")
    assert "calibration_tests (0.444 > limit 0.300)" in notice
    assert notice.ko.startswith(
        "이 결과의 모형(버전 3)은 승격되지 않은 후보 모형으로, 챔피언 모형이 아닙니다 (현 챔피언: 버전 2)"
    )
    assert "등급별 보정 검정(Jeffreys) 불합격 비율 0.444 (한도 0.300)" in notice.ko
    assert model_label(info) == "3 — 승격되지 않은 후보 모형 (미통과 승격 기준: 등급별 보정 검정)"
    promoted = {**info, "model_promoted": True, "model_alias": "champion"}
    assert unpromoted_notice(promoted) is None and model_label(promoted) == "3 (champion)"
    bundle = {"model_version": "bundle 0123456789ab"}  # a bundle directory has no registry status
    assert unpromoted_notice(bundle) is None and model_label(bundle) == "파일 0123456789ab"


def test_the_english_console_names_the_model_in_english():
    from jumpup.pipelines.cli import _model_en

    assert _model_en({"model_version": "file 077181103ef0"}) == "file 077181103ef0"
    unpromoted = {"model_version": 3, "model_alias": "challenger", "model_promoted": False}
    assert _model_en(unpromoted) == "3 (challenger) - not promoted"
