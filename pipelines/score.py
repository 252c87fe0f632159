"""Stage ``score``: a panel as of one fiscal year, scored with a model URI or a saved bundle.

``--model`` takes an MLflow URI (``models:/jumpup_growth@champion``, ``models:/jumpup_growth/3``,
``runs:/<id>/model``) or the path of a bundle directory (``train`` writes ``<out>/bundle``); a
pickle is refused (docs/trust_model.md). Only rows up to ``as_of`` are read.
Writes ``scores.csv`` (firm_id, as_of, probability, score, grade, reasons, family points),
``skipped.csv`` (every firm of the panel not scored, with the reason: read = scored + skipped) and
``scores_manifest.json`` (model version, data hash, code version, counts).
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import pandas as pd

from jumpup.features.builder import panel_rows
from jumpup.intake.ingest import open_panel
from jumpup.locks import out_dir_lock
from jumpup.models.bundle import GrowthModelBundle
from jumpup.models.bundle_store import BundleError, bundle_sha256, is_bundle_dir, load_bundle_dir
from jumpup.provenance import code_version, file_sha256, frame_sha256, skipped_firms, write_json
from jumpup.safe_text import write_csv
from jumpup.settings import Settings
from jumpup.tracking import start_experiment, track_use


class ModelNotFoundError(BundleError):
    """A ``--model`` that is neither a file nor a model in the tracking store (one line for the user)."""


def model_lookup_error(model: str, settings: Settings) -> ModelNotFoundError:
    """One line naming the URI, the store, the registered models with their aliases, and the fix."""
    from jumpup.tracking import tracking_uri

    try:
        import mlflow

        known = []
        for registered in mlflow.MlflowClient().search_registered_models():
            aliases = registered.aliases or {}
            named = ", ".join(f"@{alias} = v{version}" for alias, version in sorted(aliases.items()))
            known.append(f"{registered.name} ({named or 'no aliases'})")
    except Exception:  # the store itself cannot be read: say so instead of listing
        known = []
    listing = "; ".join(known) if known else "no registered models"
    return ModelNotFoundError(
        f"model {model!r} not found: no such file, and not in the MLflow store {tracking_uri(settings.tracking)} "
        f"({listing}). Run `jumpup train` to register one, or pass --model with a bundle path, "
        f"models:/<name>/<version> or models:/<name>@<alias>."
    )


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
    except (MlflowException, OSError):  # a missing alias, version, run or a mistyped URI
        raise model_lookup_error(model, settings) from None
    return bundle, description


def missing_input_summary(scores: pd.DataFrame, as_of: int) -> dict:
    """Counts for the manifest and a warning when firms were graded with optional inputs missing."""
    lacking = scores[scores["missing_inputs"].fillna("") != ""]
    by_input = lacking["missing_inputs"].str.split(";").explode().value_counts().sort_index()
    summary: dict = {
        "firms_with_missing_inputs": len(lacking),
        "missing_inputs_by_input": {str(k): int(v) for k, v in by_input.items()},
        "warnings": [],
    }
    if len(lacking):
        common = ", ".join(f"{k} ({v})" for k, v in by_input.sort_values(ascending=False, kind="stable").items())
        summary["warnings"].append(
            f"{len(lacking)} of {len(scores)} firm(s) lack optional inputs in {as_of}: {common}; they are graded "
            f"with those inputs missing, on fewer facts. See missing_inputs and missing_features in scores.csv."
        )
    return summary


def score_panel(
    panel_dir: Path, as_of: int, model: str, out_dir: Path, settings: Settings, language: str = "ko"
) -> dict:
    with out_dir_lock(Path(out_dir), "score"):
        return _score_panel(panel_dir, as_of, model, Path(out_dir), settings, language)


def _score_panel(panel_dir: Path, as_of: int, model: str, out_dir: Path, settings: Settings, language: str) -> dict:
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
    firms = result.tables["firms"]
    skipped = skipped_firms(firms, result.tables["financials"], scores["firm_id"], as_of)
    write_csv(skipped, out_dir / "skipped.csv", encoding="utf-8")
    manifest = {
        "stage": "score",
        "as_of": as_of,
        "code_version": code_version(),
        "data_sha256": frame_sha256(rows),
        "input_sha256": {r.table: r.sha256 for r in result.reports},
        **description,
        "firms_read": int(firms["firm_id"].nunique()),
        "firms_scored": len(scores),
        "firms_skipped": len(skipped),
        "skipped_by_reason": skipped["reason"].value_counts().sort_index().to_dict(),
        "grades": scores["grade"].value_counts().sort_index().to_dict(),
        "scores_sha256": file_sha256(out_dir / "scores.csv"),
    }
    manifest.update(missing_input_summary(scores, as_of))
    manifest["mlflow_run_id"] = track_use(settings.tracking, "score", manifest, {"firms_scored": len(scores)})
    write_json(out_dir / "scores_manifest.json", manifest)
    manifest["seconds"] = round(time.perf_counter() - started, 2)
    return manifest
