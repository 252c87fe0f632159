"""Stage ``score``: a panel as of one fiscal year, scored with a model URI or a saved bundle.

``--model`` takes an MLflow URI (``models:/jumpup_growth@champion``, ``models:/jumpup_growth/3``,
``runs:/<id>/model``) or the path of a ``bundle.pkl``. Only rows up to ``as_of`` are read.
Writes ``scores.csv`` (firm_id, as_of, probability, score, grade, reasons, family points) and
``scores_manifest.json`` (model version, data hash, code version, counts).
"""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import pandas as pd

from jumpup.features.builder import panel_rows
from jumpup.models.pyfunc import complete_rows
from jumpup.pipelines.ingest import load_panel
from jumpup.pipelines.train import REGISTERED_MODEL
from jumpup.provenance import code_version, file_sha256, frame_sha256, write_json
from jumpup.settings import Settings
from jumpup.tracking import start_experiment

DEFAULT_MODEL_URI = f"models:/{REGISTERED_MODEL}@champion"


def load_scorer(model: str, settings: Settings):
    """A callable rows, as_of -> scores, and a description of the model version used."""
    path = Path(model)
    if path.exists():
        with open(path, "rb") as handle:
            bundle = pickle.load(handle)
        return (lambda rows, as_of, language: bundle.score_rows(rows, as_of, language)[0]), {
            "model": str(path),
            "model_sha256": file_sha256(path),
            **bundle.metadata,
        }
    mlflow = start_experiment(settings.tracking)
    loaded = mlflow.pyfunc.load_model(model)
    description = {"model": model, "model_run_id": loaded.metadata.run_id}
    if model.startswith("models:/"):
        client = mlflow.MlflowClient()
        name, _, ref = model.removeprefix("models:/").partition("@")
        if ref:
            description["model_version"] = str(client.get_model_version_by_alias(name, ref).version)
        else:
            description["model_version"] = model.rsplit("/", 1)[-1]
    return (
        lambda rows, as_of, language: loaded.predict(
            complete_rows(rows), params={"as_of": as_of, "language": language, "reasons": True}
        )
    ), description


def score_panel(
    panel_dir: Path, as_of: int, model: str, out_dir: Path, settings: Settings, language: str = "ko"
) -> dict:
    started = time.perf_counter()
    result = load_panel(Path(panel_dir), settings.ingest)
    rows = panel_rows(result.tables["firms"], result.tables["financials"])
    rows = rows[rows["fiscal_year"] <= as_of].reset_index(drop=True)
    scorer, description = load_scorer(model, settings)
    scores = scorer(rows, as_of, language).sort_values("firm_id", kind="stable").reset_index(drop=True)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scores.to_csv(out_dir / "scores.csv", index=False, encoding="utf-8")
    result.quarantine.to_csv(out_dir / "quarantine.csv", index=False)
    manifest = {
        "stage": "score",
        "as_of": as_of,
        "code_version": code_version(),
        "data_sha256": frame_sha256(rows),
        "input_sha256": {r.table: r.sha256 for r in result.reports},
        **description,
        "firms_scored": len(scores),
        "grades": scores["grade"].value_counts().sort_index().to_dict(),
        "scores_sha256": file_sha256(out_dir / "scores.csv"),
    }
    write_json(out_dir / "scores_manifest.json", manifest)
    manifest["seconds"] = round(time.perf_counter() - started, 2)
    return manifest


def scores_frame(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"firm_id": str})
