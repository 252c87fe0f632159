"""The monitor end to end (pandas engine) and the Spark engine against it on a small panel."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from jumpup.settings import load_settings
from jumpup.synthetic.crisis_panel import crisis_panel


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small crisis model registered in a store of this module, and its panel."""
    import os

    from jumpup.pipelines.train_crisis import run

    root = tmp_path_factory.mktemp("monitor")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    firms, financials = crisis_panel(600, 12, seed=21)
    panel = root / "panel"
    panel.mkdir()
    firms.to_csv(panel / "firms.csv", index=False)
    financials.to_csv(panel / "financials.csv", index=False)
    settings = load_settings(
        overrides={
            "crisis": {"bootstrap": 20, "tuning_grid": {"num_leaves": [7]}, "registered_model": "crisis-test"},
            "reports": {"pdf": False},
        }
    )
    summary = run(panel, root / "train", settings)
    return settings, panel, summary["model_uri"], root


@pytest.fixture(autouse=True)
def _module_store(trained, monkeypatch):
    """Tests read the model from the store the fixture registered it in."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{trained[3] / 'mlflow.db'}")


def test_monitor_writes_tables_report_and_provenance(trained):
    from jumpup.pipelines.monitor import run

    settings, panel, uri, root = trained
    out = root / "out_pandas"
    manifest = run(panel, 2023, out, settings, uri, "pandas")
    firms = pd.read_csv(out / "monitor_firms.csv", dtype={"firm_id": str})
    assert len(firms) == manifest["counts"]["firms_scored"] > 0
    assert firms["probability"].between(0, 1).all()
    assert set(firms["grade_change"]) <= {"worse", "better", "same", "new", "from_crisis"}
    assert set(firms["growth_stage"]) <= {"leading", "preliminary", "potential", "none"}
    for key in ("industry_group", "region"):
        groups = pd.read_csv(out / f"aggregates_{key}.csv")
        assert (groups["firms"] >= settings.crisis.min_group_size).all()
    # the synthetic panel holds one region of three firms: it never appears on its own
    html = (out / "monitor_report.html").read_text(encoding="utf-8")
    assert "전남" not in html and "위기징후 모니터링 보고서" in html
    recorded = json.loads((out / "monitor.json").read_text(encoding="utf-8"))
    assert recorded["model_version"] == "crisis-test v1"
    assert len(recorded["data_sha256"]) == 64 and recorded["code_version"]
    assert (out / "monitor.xlsx").is_file()
    _check_firms_in_crisis_are_set_apart(panel, out, firms, recorded, html)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.suffix in (".csv", ".xlsx", ".html")}
    run(panel, 2023, out, settings, uri, "pandas")
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.suffix in (".csv", ".xlsx", ".html")}
    assert before == after  # same inputs, byte-identical outputs


def test_monitor_command_refuses_a_year_not_on_file(trained):
    from typer.testing import CliRunner

    from jumpup.pipelines.cli import app

    _, panel, uri, root = trained
    result = CliRunner().invoke(
        app, ["monitor", "--panel", str(panel), "--as-of", "1999", "--out", str(root / "bad"), "--model", uri]
    )
    assert result.exit_code == 2
    assert "1999" in result.output and "Traceback" not in result.output


def _spark_ready() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'jumpup[spark]')"
    if shutil.which("java") is None:
        return "no Java runtime on this machine (Spark needs Java 17+)"
    return None


@pytest.fixture(scope="module")
def spark():
    """One local Spark session for the module (starting the JVM is the slow part), stopped after it."""
    from jumpup.monitor.engines import spark_session

    session = spark_session("local[1]", partitions=2)
    yield session
    session.stop()


@pytest.mark.skipif(_spark_ready() is not None, reason=str(_spark_ready()))
def test_spark_engine_matches_pandas(trained, spark):
    """Same probabilities (to 1e-9) and grades from a local Spark session as from pandas."""
    from jumpup.intake.imported_panel import read_imported_panel
    from jumpup.monitor.engines import score_pandas, score_spark
    from jumpup.pipelines.monitor import load_crisis_model

    settings, panel, uri, _ = trained
    rows = read_imported_panel(panel).rows
    rows = rows[rows["firm_id"].isin(sorted(rows["firm_id"].unique())[:40])]
    model, _, _ = load_crisis_model(uri, settings)
    expected = score_pandas(model, rows, (2022, 2023))
    got = score_spark(spark, model, rows, (2022, 2023))
    assert list(got["firm_id"]) == list(expected["firm_id"])
    assert np.abs(got["probability"].to_numpy() - expected["probability"].to_numpy()).max() <= 1e-9
    assert (got["grade"].to_numpy() == expected["grade"].to_numpy()).all()
    assert (got["reason_1"].fillna("").to_numpy() == expected["reason_1"].to_numpy()).all()


def _check_firms_in_crisis_are_set_apart(panel, out, scored, manifest, html):
    """Firms already in crisis in the as-of year are listed apart, counted and named; never scored."""
    from openpyxl import load_workbook

    financials = pd.read_csv(panel / "financials.csv", dtype={"firm_id": str, "audit_opinion": str})
    year = financials[financials["fiscal_year"] == 2023].set_index("firm_id")
    low = (year["interest_coverage"] < 1) & (year["no_interest_expense"] != 1)
    bad = year["audit_opinion"].isin(["AG", "DS", "DU", "DI"])
    expected = set(year.index[low | bad])
    listed = pd.read_csv(out / "in_crisis.csv", dtype={"firm_id": str})
    assert expected and set(listed["firm_id"]) == expected
    assert not expected & set(scored["firm_id"])  # no "may enter crisis" score for them
    assert len(scored) + len(listed) == len(year)
    counts = manifest["counts"]
    assert counts["firms_in_crisis"] == len(expected)
    assert counts["firms_in_crisis_coverage"] == int(low.sum())
    assert counts["firms_in_crisis_opinion"] == int(bad.sum())
    assert (listed["crisis_reason"] != "").all()
    assert f"이미 위기 상태 (평가 제외, 별도 목록)</td><td>{len(expected)}<" in html
    assert f"위기 상태 기업 ({len(expected)}개사" in html
    first = listed.iloc[0]
    assert f"({first['firm_id']})" in html
    sheet = load_workbook(out / "monitor.xlsx", read_only=True)["위기 상태 기업"]
    assert sum(1 for _ in sheet.iter_rows()) == len(expected) + 1


class _Boom:
    """Unpickling this runs a command: a model file must never be unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_a_model_folder_holding_a_pickle_or_code_is_refused_and_never_run(trained, tmp_path):
    import pickle

    from typer.testing import CliRunner

    from jumpup.pipelines.cli import app

    _, panel, _, _ = trained
    marker = tmp_path / "pwned"
    fake = tmp_path / "fake_mlflow_model"
    fake.mkdir()
    (fake / "model.pkl").write_bytes(pickle.dumps(_Boom(marker)))
    (fake / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n    model_path: model.pkl\n"
        "  sklearn:\n    pickled_model: model.pkl\n    serialization_format: cloudpickle\n",
        encoding="utf-8",
    )
    for model in (fake, fake / "model.pkl"):
        out = tmp_path / f"out_{model.name}"
        args = ["monitor", "--panel", str(panel), "--as-of", "2023", "--out", str(out), "--model", str(model)]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "not a crisis model" in result.output and "never run" in result.output
        assert "Traceback" not in result.output and not out.exists()
    assert not marker.exists()


def test_a_downloaded_mlflow_model_folder_is_read_as_data(trained, tmp_path):
    import mlflow

    from jumpup.pipelines.monitor import load_crisis_model

    settings, _, uri, _ = trained
    local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp_path))
    from_folder, run_id, _ = load_crisis_model(local, settings)
    from_uri, uri_run_id, version = load_crisis_model(uri, settings)
    assert run_id == uri_run_id and version.startswith("crisis-test v")
    assert from_folder.feature_names == from_uri.feature_names and from_folder.top_k == from_uri.top_k


def test_a_hostile_panel_is_quarantined_and_its_text_never_becomes_a_formula(trained, tmp_path):
    from typer.testing import CliRunner

    from jumpup.pipelines.cli import app

    _, panel, uri, _ = trained
    firms = pd.read_csv(panel / "firms.csv", dtype={"firm_id": str})
    financials = pd.read_csv(panel / "financials.csv", dtype={"firm_id": str})
    first, second = firms["firm_id"].iloc[0], firms["firm_id"].iloc[1]
    firms.loc[0, "name"] = '=HYPERLINK("http://x","y")'
    hostile = "../../escaped"  # the rows of a firm whose id would be a path
    firms = pd.concat([firms, firms[firms["firm_id"] == second].assign(firm_id=hostile)], ignore_index=True)
    extra = financials[financials["firm_id"] == second].assign(firm_id=hostile)
    financials = pd.concat([financials, extra], ignore_index=True)
    odd = tmp_path / "panel"
    odd.mkdir()
    firms.to_csv(odd / "firms.csv", index=False, encoding="cp949")  # as Korean Excel saves it
    financials.to_csv(odd / "financials.csv", index=False, encoding="cp949")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["monitor", "--panel", str(odd), "--as-of", "2023", "--out", str(out), "--model", uri]
    )
    assert result.exit_code == 0, result.output
    assert f"{1 + len(extra)} panel row(s) quarantined" in " ".join(result.output.split())
    quarantine = pd.read_csv(out / "quarantine.csv", dtype=str)
    assert set(quarantine["rule"]) == {"bad_firm_id"} and set(quarantine["value"]) == {hostile}
    assert not (tmp_path / "escaped").exists() and not list(tmp_path.parent.glob("escaped*"))
    table = pd.read_csv(out / "monitor_firms.csv", dtype=str)
    assert table.loc[table["firm_id"] == first, "name"].tolist() == ['\'=HYPERLINK("http://x","y")']
    assert hostile not in set(table["firm_id"])
    (odd / "firms.csv").write_bytes(b"")
    result = CliRunner().invoke(
        app, ["monitor", "--panel", str(odd), "--as-of", "2023", "--out", str(out), "--model", uri]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "firms.csv: the file is empty" in " ".join(result.output.split())
