"""The model bundle is stored as data and loading it runs nothing from the files."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from jumpup.models.bundle_store import (
    BundleError,
    load_bundle_dir,
    load_feature_reference,
    save_bundle,
    save_feature_reference,
)
from jumpup.pipelines.cli import app
from jumpup.pipelines.score import load_bundle
from tests.conftest import quick_settings

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small synthetic panel and a bundle trained on it, in memory."""
    from jumpup.features.builder import FeatureBuilder, panel_rows
    from jumpup.intake.ingest import open_panel
    from jumpup.models.growth_engine import GrowthPathModel, history_table
    from jumpup.models.targets import make_targets
    from jumpup.models.training import train_and_validate
    from jumpup.pipelines import synth

    root = tmp_path_factory.mktemp("bundle")
    settings = quick_settings(firms=700, applicants=30)
    synth.run(settings, root / "data", seed=5)
    result = open_panel(root / "data" / "history", settings.ingest)
    rows = panel_rows(result.tables["firms"], result.tables["financials"])
    builder = FeatureBuilder(settings.features, settings.size_class, settings.program).fit(rows)
    features = builder.transform(rows)
    targets = make_targets(
        result.tables["financials"], features[["firm_id", "fiscal_year", "size_class"]], settings.targets
    )
    bundle = train_and_validate(features, targets, builder, settings, settings.seed).bundle
    bundle.history = history_table(features, result.tables["financials"], settings.growth_paths.horizon)
    bundle.growth_model = GrowthPathModel(settings.growth_paths, settings.seed).fit(bundle.history)
    return settings, root, bundle, rows


class Boom:
    """Unpickling this runs code: it writes a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_saved_and_loaded_bundle_scores_exactly_as_in_memory(trained, tmp_path):
    settings, _, bundle, rows = trained
    loaded = load_bundle_dir(save_bundle(bundle, tmp_path / "b"))
    as_of = int(rows["fiscal_year"].max())
    before, before_features = bundle.score_rows(rows, as_of)
    after, after_features = loaded.score_rows(rows, as_of)
    pd.testing.assert_frame_equal(before, after, check_exact=True)
    pd.testing.assert_frame_equal(before_features, after_features, check_exact=True)
    pd.testing.assert_frame_equal(bundle.builder.reference_, loaded.builder.reference_, check_exact=True)
    pd.testing.assert_frame_equal(bundle.history, loaded.history, check_exact=True)
    assert loaded.growth_model.serves(as_of, settings.growth_paths, settings.seed)
    from jumpup.models.growth_engine import forecast_paths

    queries = before_features.assign(
        log_revenue=np.log(before_features["revenue"].where(before_features["revenue"] > 0))
    )
    fresh = forecast_paths(bundle.history, queries, as_of, settings, model=bundle.growth_model)
    stored = forecast_paths(loaded.history, queries, as_of, settings, model=loaded.growth_model)
    pd.testing.assert_frame_equal(fresh[0], stored[0], check_exact=True)
    pd.testing.assert_frame_equal(fresh[1], stored[1], check_exact=True)
    assert not any(p.suffix in (".pkl", ".pickle") for p in (tmp_path / "b").rglob("*"))


def test_train_writes_a_bundle_directory_and_mlflow_model_from_code_without_pickles(trained, tmp_path):
    settings, root, _, _ = trained
    from jumpup.pipelines.train import train_panel

    trained_run = train_panel(root / "data" / "history", tmp_path / "m", settings, register=True)
    bundle_dir = tmp_path / "m" / "bundle"
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    assert manifest["kind"] == "model_bundle" and "classifier.txt" in manifest["files"]
    assert (bundle_dir / "classifier.txt").read_text().startswith("tree")
    assert not any(p.suffix in (".pkl", ".pickle") for p in (tmp_path / "m").rglob("*"))
    from jumpup.tracking import start_experiment

    mlflow = start_experiment(settings.tracking)
    local = mlflow.artifacts.download_artifacts(artifact_uri=trained_run["model_uri"], dst_path=str(tmp_path / "dl"))
    files = [p.name for p in (tmp_path / "dl").rglob("*") if p.is_file()]
    assert "python_model.pkl" not in files and not any(n.endswith((".pkl", ".pickle")) for n in files), files
    assert "pyfunc_model.py" in files
    bundle, info = load_bundle(trained_run["model_uri"], settings)
    assert info["model_version"] == "1" and len(info["model_sha256"]) == 64
    model = mlflow.pyfunc.load_model(local)  # the pyfunc itself reads the same data-only artifact
    assert model.unwrap_python_model().bundle.feature_names == bundle.feature_names


def test_a_pickle_given_as_model_is_refused_and_never_run(trained, tmp_path):
    settings, root, _, _ = trained
    marker = tmp_path / "pwned"
    evil = tmp_path / "bundle.pkl"
    evil.write_bytes(pickle.dumps(Boom(marker)))
    with pytest.raises(BundleError, match="pickle files are never loaded"):
        load_bundle(str(evil), settings)
    assert not marker.exists()
    out = tmp_path / "out"
    for command in (
        [
            "score",
            "--panel",
            str(root / "data" / "history"),
            "--as-of",
            "2022",
            "--out",
            str(out),
            "--model",
            str(evil),
        ],
        ["round", str(root / "data" / "round"), "--out", str(out), "--model", str(evil)],
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, result.output
        assert "pickle files are never loaded" in result.output and "Traceback" not in result.output
        assert str(evil.name) in result.output
    assert not marker.exists()


def test_a_file_named_like_the_default_uri_in_the_working_directory_is_not_read(trained, tmp_path, monkeypatch):
    settings, _, _, _ = trained
    marker = tmp_path / "pwned"
    (tmp_path / "models:").mkdir()
    (tmp_path / "models:" / "jumpup_growth@champion").write_bytes(pickle.dumps(Boom(marker)))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BundleError, match="MLflow"):
        load_bundle("models:/jumpup_growth@champion", settings)  # an empty store: no such model
    assert not marker.exists()


def test_a_changed_torn_or_escaping_bundle_is_refused(trained, tmp_path):
    _, _, bundle, _ = trained
    good = save_bundle(bundle, tmp_path / "good")
    for case in ("changed", "missing", "escape", "no_manifest"):
        copy = tmp_path / case
        shutil.copytree(good, copy)
        manifest = json.loads((copy / "manifest.json").read_text())
        if case == "changed":
            (copy / "classifier.txt").write_text((copy / "classifier.txt").read_text().replace("tree", "tree ", 1))
            match = "sha256 does not match"
        elif case == "missing":
            (copy / "history.parquet").unlink()
            match = "missing"
        elif case == "escape":
            manifest["files"]["../outside.txt"] = "0" * 64
            (copy / "manifest.json").write_text(json.dumps(manifest))
            match = "outside the bundle"
        else:
            (copy / "manifest.json").unlink()
            match = "manifest.json is missing"
        with pytest.raises(BundleError, match=match):
            load_bundle_dir(copy)


def test_feature_reference_round_trips_as_data(trained, tmp_path):
    _, _, bundle, rows = trained
    loaded = load_feature_reference(save_feature_reference(bundle.builder, tmp_path / "ref"))
    pd.testing.assert_frame_equal(bundle.builder.transform(rows), loaded.transform(rows), check_exact=True)
    (tmp_path / "ref.pkl").write_bytes(pickle.dumps(bundle.builder))
    with pytest.raises(BundleError, match="pickle"):
        load_feature_reference(tmp_path / "ref.pkl")
