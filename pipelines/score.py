"""Stage ``score``: a panel as of one fiscal year, scored with a model URI or a saved bundle.

``--model`` takes an MLflow URI (``models:/jumpup_growth@champion``, ``models:/jumpup_growth/3``,
``runs:/<id>/model``) or the path of a bundle directory (``train`` writes ``<out>/bundle``); a
pickle is refused (docs/trust_model.md). Only rows up to ``as_of`` are read.
Writes ``scores.csv`` (firm_id, as_of, probability, score, grade, reasons, family points) and
``scores_manifest.json`` (model version, data hash, code version, counts).
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

from jumpup.features.builder import panel_rows
from jumpup.intake.ingest import open_panel
from jumpup.models.bundle import GrowthModelBundle
from jumpup.models.bundle_store import BundleError, bundle_sha256, is_bundle_dir, load_bundle_dir
from jumpup.provenance import code_version, file_sha256, frame_sha256, write_json
from jumpup.safe_text import write_csv
from jumpup.settings import Settings
from jumpup.tracking import start_experiment

MODEL_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/")


def load_bundle(model: str, settings: Settings) -> tuple[GrowthModelBundle, dict]:
    """The model bundle from a bundle directory or an MLflow URI, and which version it is.

    A string with a URI scheme (``models:/``, ``runs:/``, ...) is always an MLflow URI, so nothing
    in the working directory is read by a name that looks like one. Anything else is a path that
    must be a bundle directory (``jumpup.models.bundle_store``); a pickle or any other file is
    refused with ``BundleError``. From MLflow the logged bundle artifact is downloaded and read
    the same way, as data: the logged code file is not run.
    """
    if not MODEL_URI.match(model):
        path = Path(model)
        bundle = load_bundle_dir(path)
        digest = bundle_sha256(path)
        return bundle, {
            "model": str(path),
            "model_sha256": digest,
            "model_version": f"bundle {digest[:12]}",
            **bundle.metadata,
        }
    mlflow = start_experiment(settings.tracking)
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    try:
        with tempfile.TemporaryDirectory(prefix="jumpup-model-") as scratch:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model, dst_path=scratch))
            run_id = Model.load(str(local)).run_id
            bundle_dir = local / "artifacts" / "bundle"
            if not is_bundle_dir(bundle_dir):
                raise BundleError(
                    f"{model}: the logged model has no data-only bundle (an older pickled format, "
                    "which is not loaded); train again with `jumpup train`"
                )
            bundle = load_bundle_dir(bundle_dir)
            digest = bundle_sha256(bundle_dir)
        description = {"model": model, "model_run_id": run_id, "model_version": model, "model_sha256": digest}
        if model.startswith("models:/"):
            name, _, alias = model.removeprefix("models:/").partition("@")
            if alias:
                version = mlflow.MlflowClient().get_model_version_by_alias(name, alias).version
                description.update({"model_version": str(version), "model_alias": alias})
            else:
                description["model_version"] = name.rsplit("/", 1)[-1]
    except (MlflowException, OSError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise BundleError(f"--model {model}: cannot be loaded from MLflow ({first})") from None
    return bundle, description


def score_panel(
    panel_dir: Path, as_of: int, model: str, out_dir: Path, settings: Settings, language: str = "ko"
) -> dict:
    started = time.perf_counter()
    result = open_panel(Path(panel_dir), settings.ingest)
    rows = panel_rows(result.tables["firms"], result.tables["financials"])
    rows = rows[rows["fiscal_year"] <= as_of].reset_index(drop=True)
    bundle, description = load_bundle(model, settings)
    scores = bundle.score_rows(rows, as_of, language)[0].sort_values("firm_id", kind="stable").reset_index(drop=True)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(scores, out_dir / "scores.csv", encoding="utf-8")
    write_csv(result.quarantine, out_dir / "quarantine.csv")
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
