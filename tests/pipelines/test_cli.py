from __future__ import annotations

import json

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
