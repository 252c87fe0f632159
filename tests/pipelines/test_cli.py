from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from jumpup.pipelines.cli import app

runner = CliRunner()


def test_synth_then_ingest_through_the_cli(tmp_path):
    result = runner.invoke(
        app, ["synth", "--out", str(tmp_path / "s"), "--firms", "300", "--applicants", "40", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["ingest", str(tmp_path / "s" / "round"), "--out", str(tmp_path / "i"), "--round"])
    assert result.exit_code == 0, result.output
    assert "read = accepted" in result.output.replace("\n", " ") or "✓" in result.output
    report = json.loads((tmp_path / "i" / "ingest_report.json").read_text())
    assert {f["table"] for f in report["files"]} == {"firms", "financials", "applications", "audits"}


def test_ingest_fatal_error_exits_2_with_message(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "firms.csv").write_text("firm_id,name,ksic_division\n1,a,C26\n")
    result = runner.invoke(app, ["ingest", str(tmp_path / "p"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "financials" in result.output


@pytest.mark.parametrize("column", ["[/red]", "[bold]매출액[U01210000](천원)"])
def test_an_error_quotes_the_input_as_written_on_one_line(tmp_path, column):
    """Text from a file is never read as console markup: no lost brackets, no crash, no wrapping."""
    panel = tmp_path / ("p" * 60)  # a long path: the line is longer than any console
    panel.mkdir()
    (panel / "firms.csv").write_text(f"firm_id,{column},{column}\n1,a,b\n", encoding="utf-8")
    (panel / "financials.csv").write_text("firm_id,fiscal_year,revenue\n1,2023,1\n", encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(panel), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and f"'{column}' appears twice" in lines[0]


def test_bad_params_file_exits_2_naming_the_key(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("seed: 1\nsynth:\n  firmz: 3\n")
    result = runner.invoke(app, ["synth", "--params", str(params), "--out", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert "synth.firmz" in result.output


def test_demo_runs_and_says_where_outputs_are(tmp_path):
    result = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--firms", "300"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "demo" / "demo_summary.json").read_text())
    assert summary["mlflow_tracking_uri"].startswith("sqlite:///")
    assert str(tmp_path) in summary["mlflow_tracking_uri"]  # the test store, not the project's
    assert "demo finished" in result.output
    for key in ("selection", "selection_page", "review_dashboard", "step2_decision_log"):
        assert (tmp_path / "demo").as_posix() in summary[key] and __import__("pathlib").Path(summary[key]).exists()
    assert summary["step2_counts"]["selected"] <= 100
    counts = summary["review_counts"]
    assert counts["continue"] + counts["drop"] + counts["completed"] == counts["cohort"]
    # every warning a step recorded in its manifest is on the console, STEP 2 and the review included
    demo = tmp_path / "demo"
    recorded = {
        "round": json.loads((demo / "round" / "manifest.json").read_text())["warnings"],
        "STEP 2": json.loads((demo / "cohort" / "manifest.json").read_text())["warnings"],
        "review": json.loads((demo / "review" / "manifest.json").read_text())["warnings"],
    }
    assert any(recorded.values())
    shown = " ".join(result.output.split())
    for step, warnings in recorded.items():
        for warning in warnings:
            assert " ".join(warning.split()) in shown, (step, warning)


def test_import_dart_bulk_command_reports_counts(tmp_path):
    from tests.intake.test_dart_bulk import HEADER, SEPARATE, line

    src = tmp_path / "bulk"
    src.mkdir()
    (src / "2021_사업보고서_02_손익계산서_1.txt").write_bytes(
        (
            "\n".join(
                [HEADER, line(SEPARATE, "000100", "가온", 2021, "ifrs-full_Revenue", "매출액", "1,000", "900", "")]
            )
            + "\n"
        ).encode("cp949")
    )
    result = runner.invoke(app, ["import", "dart-bulk", str(src), "--out", str(tmp_path / "panel")])
    assert result.exit_code == 0, result.output
    assert "1 firms, 2 firm-years" in result.output.replace("\n", " ")
    result = runner.invoke(app, ["ingest", str(tmp_path / "panel"), "--out", str(tmp_path / "ing")])
    assert result.exit_code == 0, result.output


def test_import_dart_bulk_rejects_unknown_statement_mode(tmp_path):
    result = runner.invoke(
        app, ["import", "dart-bulk", str(tmp_path), "--out", str(tmp_path / "o"), "--statements", "both"]
    )
    assert result.exit_code == 2
    assert "--statements" in result.output


CHOICE_OPTIONS = [
    (["synth", "--out", "{tmp}/s"], "--format", "xlsx", ("csv", "parquet")),
    (["ingest", "{tmp}", "--out", "{tmp}/o"], "--amount-unit", "billion_won", ("auto", "won", "million_won")),
    (["import", "dart-bulk", "{tmp}", "--out", "{tmp}/o"], "--statements", "both", ("prefer-consolidated",)),
    (["train", "--panel", "{tmp}"], "--target", "growth", ("high_growth", "size_upgrade", "distress")),
    (["cross-validate", "--panel", "{tmp}", "--origin", "2020"], "--target", "growth", ("distress",)),
    (["score", "--panel", "{tmp}", "--as-of", "2024", "--out", "{tmp}/o"], "--language", "jp", ("ko", "en")),
    (["round", "{tmp}", "--out", "{tmp}/o"], "--language", "jp", ("ko", "en")),
]


@pytest.mark.parametrize(("command", "option", "bad", "choices"), CHOICE_OPTIONS)
def test_choice_options_list_their_choices_and_reject_others_with_exit_2(tmp_path, command, option, bad, choices):
    filled = [part.format(tmp=tmp_path) for part in command]
    result = runner.invoke(app, [*filled, option, bad], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert f"'{bad}' is not one of" in result.output and option in result.output
    assert all(f"'{choice}'" in result.output for choice in choices)
    assert not (tmp_path / "o").exists() and not (tmp_path / "s").exists()
    shown = runner.invoke(app, [*command[: 2 if command[0] == "import" else 1], "--help"], env={"COLUMNS": "200"})
    assert all(choice in shown.output for choice in choices)


def test_choice_enums_match_the_values_the_pipeline_accepts():
    from typing import get_args

    from jumpup.intake.dart_bulk import StatementMode
    from jumpup.pipelines import cli
    from jumpup.settings import AmountUnit, TargetName

    assert [c.value for c in cli.StatementChoice] == list(get_args(StatementMode))
    assert [c.value for c in cli.AmountUnitChoice] == list(get_args(AmountUnit))
    assert [c.value for c in cli.Target] == list(get_args(TargetName))


def test_a_chosen_value_reaches_the_stage_as_plain_text(tmp_path):
    result = runner.invoke(
        app, ["synth", "--out", str(tmp_path / "s"), "--firms", "200", "--applicants", "20", "--format", "parquet"]
    )
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "s" / "round").glob("*.parquet")) and not list((tmp_path / "s" / "round").glob("*.csv"))


def test_an_error_goes_to_standard_error_as_one_line_and_leaves_standard_output_to_results(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    command = Path(sys.executable).parent / "jumpup"
    if not command.exists():
        pytest.skip("the jumpup console command is not installed in this environment")
    done = subprocess.run(
        [str(command), "round", str(tmp_path / "none"), "--out", str(tmp_path / "out"), "--model", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stdout == "", done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(tmp_path) in lines[0], done.stderr


def test_a_ctrl_c_while_the_command_starts_is_one_line_and_exit_130(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from jumpup.pipelines.entry import INTERRUPTED

    command = Path(sys.executable).parent / "jumpup"
    if not command.exists():
        pytest.skip("the jumpup console command is not installed in this environment")
    child = subprocess.Popen(
        [str(command), "round", str(tmp_path / "none"), "--out", str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as a terminal delivers it, even when this test runs in a process that ignores it
        # (a parallel test worker): an ignored SIGINT would be inherited and Python would keep ignoring it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(0.15)  # the CLI's imports take a second or more: the Ctrl-C lands inside them
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130 and "Traceback" not in err
    assert err.strip() == INTERRUPTED and not (tmp_path / "out").exists()


def test_the_entry_point_answers_an_interrupted_import_without_a_traceback(monkeypatch, capsys):
    import sys

    from jumpup.pipelines import entry

    class Interrupting:
        def find_spec(self, name, path=None, target=None):
            if name == "jumpup.pipelines.cli":
                raise KeyboardInterrupt
            return None

    monkeypatch.delitem(sys.modules, "jumpup.pipelines.cli")
    monkeypatch.setattr(sys, "meta_path", [Interrupting(), *sys.meta_path])
    with pytest.raises(SystemExit) as stop:
        entry.main()
    assert stop.value.code == 130 and capsys.readouterr().err.strip() == entry.INTERRUPTED


def test_round_and_step1_pass_their_log_option_to_the_stage(tmp_path, monkeypatch):
    from jumpup.pipelines import round as round_stage
    from jumpup.pipelines import step1 as step1_stage

    seen = {}

    def fake_round(round_dir, out, settings, model, reports, language, progress, log_path, with_workbook):
        seen["round"] = log_path
        manifest = {"counts": {"applicants": 1, "passed": 0}, "model": {"model_version": "file ab12"}}
        return {**manifest, "timings_seconds": {}, "warnings": [], "resumed_stages": []}

    monkeypatch.setattr(round_stage, "run_round", fake_round)
    log = tmp_path / "logs" / "decisions.jsonl"
    args = ["round", str(tmp_path), "--out", str(tmp_path / "out"), "--model", "m", "--no-reports", "--log", str(log)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert seen["round"] == log

    def fake_step1(scores, ingested, out, settings, log_path=None):
        seen["step1"] = log_path
        raise ValueError("stopped after the log was read")

    monkeypatch.setattr(step1_stage, "run", fake_step1)
    monkeypatch.setattr("jumpup.intake.ingest.open_panel", lambda *a, **k: None)
    args = ["step1", "--scores", "s.csv", "--round", str(tmp_path), "--out", str(tmp_path / "o"), "--log", str(log)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and seen["step1"] == log


def test_a_resumed_round_says_which_stages_it_loaded_and_a_fresh_one_says_nothing_of_it(tmp_path, monkeypatch):
    from jumpup.pipelines import round as round_stage

    resumed: list[str] = []

    def fake_round(round_dir, out, settings, model, reports, language, progress, log_path, with_workbook):
        manifest = {"counts": {"applicants": 1, "passed": 0}, "model": {"model_version": "file ab12"}}
        return {**manifest, "timings_seconds": {"score": 0.1}, "warnings": [], "resumed_stages": resumed}

    monkeypatch.setattr(round_stage, "run_round", fake_round)
    args = ["round", str(tmp_path), "--out", str(tmp_path / "out"), "--model", "m", "--no-reports"]
    fresh = CliRunner().invoke(app, args)
    assert fresh.exit_code == 0 and not [x for x in fresh.output.splitlines() if x.startswith("resumed")], fresh.output
    resumed += ["score", "growth_paths"]
    again = CliRunner().invoke(app, args)
    line = next(line for line in again.output.splitlines() if line.startswith("resumed"))
    assert "score, growth paths loaded from an earlier run on the same inputs" in line, again.output


@pytest.mark.parametrize("folder", ["run[draft]", "out[/x]", "[bold]x"])
def test_an_output_folder_with_square_brackets_is_printed_as_written(tmp_path, monkeypatch, folder):
    from jumpup.pipelines import round as round_stage

    def fake_round(round_dir, out, settings, model, reports, language, progress, log_path, with_workbook):
        manifest = {"counts": {"applicants": 1, "passed": 0}, "model": {"model": str(out), "model_version": "[x]"}}
        timings = {"score": 0.1, "side: quarantine.csv": 0.2}
        return {**manifest, "timings_seconds": timings, "warnings": [], "resumed_stages": ["score"]}

    monkeypatch.setattr(round_stage, "run_round", fake_round)
    out = tmp_path / folder
    result = CliRunner().invoke(
        app, ["round", str(tmp_path), "--out", str(out), "--model", "m"], env={"COLUMNS": "400"}
    )
    assert result.exit_code == 0, result.output
    assert f"outputs in {out}" in result.output and str(out / ".stages") in result.output
    timings = [line for line in result.output.splitlines() if line.endswith(" s") and line.startswith("  ")]
    assert len({line.rindex(".") for line in timings}) == 1, timings  # one column, whatever the stage's name
