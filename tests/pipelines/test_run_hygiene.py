"""Run hygiene: one-line errors with exit code 2, one run per output folder, resume files checked."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from jumpup.locks import LOCK_NAME, OutputLocked, out_dir_lock
from jumpup.pipelines import step1 as step1_stage
from jumpup.pipelines.cli import app
from jumpup.pipelines.round import ResumeFileError, StageState
from tests.step1.test_eligibility import _round

runner = CliRunner()


@pytest.fixture(autouse=True)
def _decision_log_in_tmp(tmp_path, monkeypatch):
    """`jumpup step1` appends to the project's decision log; in these tests, to a temporary one."""
    monkeypatch.setattr(step1_stage.run, "__defaults__", (tmp_path / "decision_log.jsonl",))


@pytest.fixture
def model_found(monkeypatch):
    """`jumpup round` checks its model first; these tests are about what comes after, so any name loads."""
    from jumpup.pipelines import round as round_stage

    monkeypatch.setattr(round_stage, "load_bundle", lambda model, settings: (None, {"model": model}))


def _one_line_error(result, *parts):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


def _step1(tmp_path, out="out"):
    return runner.invoke(
        app,
        [
            *("step1", "--scores", str(tmp_path / "scores.csv"), "--round", str(tmp_path / "round")),
            *("--out", str(tmp_path / out), "--params", str(_params(tmp_path))),
        ],
    )


def _params(tmp_path) -> Path:
    path = tmp_path / "params.yaml"
    text = (Path(__file__).parents[2] / "params.yaml").read_text(encoding="utf-8")
    path.write_text(text.replace("max_fiscal_year: null", "max_fiscal_year: 2024"), encoding="utf-8")
    return path


def test_a_header_only_applications_file_is_one_error_naming_the_file(tmp_path, model_found):
    _round(tmp_path / "round")
    header = (tmp_path / "round" / "applications.csv").read_text().splitlines()[0]
    (tmp_path / "round" / "applications.csv").write_text(header + "\n")
    _one_line_error(_step1(tmp_path), "applications.csv", "header but no data rows")
    result = runner.invoke(
        app, ["round", str(tmp_path / "round"), "--out", str(tmp_path / "r"), "--model", str(tmp_path / "none.pkl")]
    )
    _one_line_error(result, "applications.csv", "header but no data rows")
    assert not (tmp_path / "r").exists()  # the inputs are checked before --out is made


def test_a_missing_scores_file_is_one_error_naming_the_file(tmp_path):
    _round(tmp_path / "round")
    (tmp_path / "scores.csv").unlink()
    _one_line_error(_step1(tmp_path), "scores.csv", "No such file")
    assert not (tmp_path / "out").exists()  # nothing made for a run that could not start


def test_a_score_year_without_statements_is_one_error_and_makes_no_folder(tmp_path, monkeypatch):
    from jumpup.pipelines import score as score_stage

    monkeypatch.setattr(score_stage, "load_bundle", lambda model, settings: (None, {"model": model}))
    _round(tmp_path / "round")
    for year in ("2031", "1990"):
        out = tmp_path / f"s{year}"
        args = ["score", "--panel", str(tmp_path / "round"), "--as-of", year, "--out", str(out), "--model", "m"]
        result = runner.invoke(app, [*args, "--params", str(_params(tmp_path))])
        _one_line_error(result, f"no statements for --as-of {year}", "fiscal years on file")
        assert not out.exists()


@pytest.mark.parametrize(
    ("code", "hint"),
    [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "read-only file system"), (errno.EACCES, "writable")],
)
def test_an_output_folder_that_cannot_be_written_is_one_error(tmp_path, monkeypatch, code, hint):
    _round(tmp_path / "round")
    original = pd.DataFrame.to_csv

    def refuse(frame, path=None, *args, **kwargs):
        if path is not None and str(tmp_path / "out") in str(path):
            raise OSError(code, os.strerror(code), str(path))
        return original(frame, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", refuse)
    _one_line_error(_step1(tmp_path), "step1_decisions.csv", hint)
    assert not (tmp_path / "out" / LOCK_NAME).exists()  # the lock is released when a run fails


def test_a_second_run_on_the_same_out_is_refused_while_the_first_holds_the_lock(tmp_path, model_found):
    _round(tmp_path / "round")
    with out_dir_lock(tmp_path / "out", "round") as lock:
        holder = json.loads(lock.read_text())
        assert holder["pid"] == os.getpid() and holder["command"] == "round"
        with pytest.raises(OutputLocked, match="in use by another run"), out_dir_lock(tmp_path / "out", "score"):
            pass
        _one_line_error(_step1(tmp_path), "in use by another run", f"pid {os.getpid()}")
        result = runner.invoke(
            app, ["round", str(tmp_path / "round"), "--out", str(tmp_path / "out"), "--model", "x.pkl"]
        )
        _one_line_error(result, "in use by another run")
    assert not (tmp_path / "out" / LOCK_NAME).exists()
    # released: the next run goes ahead
    assert _step1(tmp_path).exit_code == 0


def test_a_lock_file_left_by_a_dead_run_holds_no_lock(tmp_path):
    _round(tmp_path / "round")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / LOCK_NAME).write_text('{"pid": 999999, "host": "elsewhere", "command": "round"}\n')
    assert _step1(tmp_path).exit_code == 0
    assert not (tmp_path / "out" / LOCK_NAME).exists()


@pytest.mark.parametrize("content", [b'{"score": "ab', b"\x00\x00\x00", b"[1, 2]"])
def test_a_torn_fingerprints_file_is_one_error_naming_it(tmp_path, content, model_found):
    stages = tmp_path / "out" / ".stages"
    stages.mkdir(parents=True)
    (stages / "fingerprints.json").write_bytes(content)
    with pytest.raises(ResumeFileError, match=r"fingerprints.json: resume file is damaged .* delete"):
        StageState(tmp_path / "out")
    _round(tmp_path / "round")
    result = runner.invoke(app, ["round", str(tmp_path / "round"), "--out", str(tmp_path / "out"), "--model", "x.pkl"])
    _one_line_error(result, "fingerprints.json", "resume file is damaged")


def test_a_torn_stage_table_is_one_error_naming_it(tmp_path):
    state = StageState(tmp_path / "out")
    state.save("score", "fp", {"scores": pd.DataFrame({"a": range(100)})})
    path = tmp_path / "out" / ".stages" / "score.scores.parquet"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])  # torn in the middle
    with pytest.raises(ResumeFileError, match=r"score.scores.parquet: resume file is damaged"):
        StageState(tmp_path / "out").load("score", "fp", ("scores",))
    assert not list((tmp_path / "out" / ".stages").glob("*.partial"))


def test_a_failed_run_removes_only_what_it_made(tmp_path):
    from jumpup.locks import removed_on_failure

    fresh = tmp_path / "a" / "b" / "out"
    with pytest.raises(RuntimeError), removed_on_failure(fresh):
        (fresh / "reports").mkdir(parents=True)
        (fresh / "reports" / "x.html").write_text("half")
        raise RuntimeError("stopped")
    assert not (tmp_path / "a").exists()  # the parents it made go too
    earlier = tmp_path / "earlier"
    (earlier / "reports").mkdir(parents=True)
    (earlier / "reports" / "old.html").write_text("old")
    with pytest.raises(RuntimeError), removed_on_failure(earlier):
        (earlier / "reports" / "new.html").write_text("new")
        (earlier / "stages" / "deep").mkdir(parents=True)
        (earlier / "stages" / "deep" / "t.parquet").write_text("t")
        (earlier / "reports" / "old.html").write_text("rewritten")
        raise RuntimeError("stopped")
    assert sorted(p.relative_to(earlier).as_posix() for p in earlier.rglob("*")) == ["reports", "reports/old.html"]
    with pytest.raises(OutputLocked), removed_on_failure(tmp_path / "busy"):
        (tmp_path / "busy").mkdir()
        raise OutputLocked("another run")
    assert (tmp_path / "busy").exists()  # a busy folder belongs to the run that holds it
    resumable = lambda out: (out / ".stages").exists()  # noqa: E731
    with pytest.raises(KeyboardInterrupt), removed_on_failure(tmp_path / "stopped", resumable):
        (tmp_path / "stopped" / ".stages").mkdir(parents=True)
        raise KeyboardInterrupt
    assert (tmp_path / "stopped" / ".stages").exists()  # an interrupted round resumes from here
    with pytest.raises(KeyboardInterrupt), removed_on_failure(tmp_path / "early", resumable):
        (tmp_path / "early" / "reports").mkdir(parents=True)
        raise KeyboardInterrupt
    assert not (tmp_path / "early").exists()  # nothing to resume from: cleaned up like an error
    with pytest.raises(KeyboardInterrupt), removed_on_failure(tmp_path / "score"):
        (tmp_path / "score").mkdir()
        raise KeyboardInterrupt
    assert not (tmp_path / "score").exists()  # a command that never resumes keeps nothing half-written
    with removed_on_failure(tmp_path / "done"):
        (tmp_path / "done").mkdir()
    assert (tmp_path / "done").exists()


def test_an_interrupted_round_says_so_in_one_line(tmp_path, monkeypatch):
    from jumpup.pipelines import round as round_stage

    def interrupted(round_dir, out, *args, **kwargs):
        if "resumable" in str(out):
            (Path(out) / ".stages").mkdir(parents=True)
            (Path(out) / ".stages" / "fingerprints.json").write_text("{}")
        if "earlier" in str(out):
            Path(out).mkdir()  # an earlier run's folder, with no finished stage of this one
        raise KeyboardInterrupt

    monkeypatch.setattr(round_stage, "run_round", interrupted)
    for name, says in (
        ("fresh", "nothing was written"),
        ("resumable", "run the same command again to resume"),
        ("earlier", "no stage had finished, and nothing this run wrote was kept"),
    ):
        result = runner.invoke(app, ["round", str(tmp_path), "--out", str(tmp_path / name), "--model", "m"])
        assert result.exit_code == 130, result.output
        assert "Traceback" not in result.output
        text = " ".join(result.output.split())
        assert text.startswith("interrupted:") and says in text, text


def test_a_ctrl_c_that_python_reports_as_an_import_error_is_still_an_interruption(tmp_path, monkeypatch):
    from jumpup.pipelines import round as round_stage

    def interrupted_import(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:  # as Python 3.11 reports a Ctrl-C inside a class's creation
            raise RuntimeError("Error calling __set_name__ on 'Field' instance 'app'") from exc

    monkeypatch.setattr(round_stage, "run_round", interrupted_import)
    result = runner.invoke(app, ["round", str(tmp_path), "--out", str(tmp_path / "out"), "--model", "m"])
    assert result.exit_code == 130 and "Traceback" not in result.output
    assert " ".join(result.output.split()).startswith("interrupted: nothing was written")

    def broken(*args, **kwargs):
        raise RuntimeError("a real defect")

    monkeypatch.setattr(round_stage, "run_round", broken)
    result = runner.invoke(app, ["round", str(tmp_path), "--out", str(tmp_path / "out"), "--model", "m"])
    assert result.exit_code == 1 and isinstance(result.exception, RuntimeError)  # not hidden as an interrupt
