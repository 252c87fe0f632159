"""Stage ``score``: a panel as of one fiscal year, scored with a model URI or a saved bundle.

``--model`` takes an MLflow URI (``models:/jumpup_growth@champion``, ``models:/jumpup_growth/3``,
``runs:/<id>/model``) or the path of a ``bundle.pkl``. Only rows up to ``as_of`` are read.
Writes ``scores.csv`` (firm_id, as_of, probability, score, grade, reasons, family points),
``skipped.csv`` (every firm of the panel not scored, with the reason: read = scored + skipped) and
``scores_manifest.json`` (model version, data hash, code version, counts).
"""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import pandas as pd

from jumpup.features.builder import panel_rows
from jumpup.intake.ingest import open_panel
from jumpup.locks import out_dir_lock
from jumpup.models.bundle import GrowthModelBundle
from jumpup.provenance import code_version, file_sha256, frame_sha256, skipped_firms, write_json
from jumpup.settings import Settings
from jumpup.tracking import start_experiment, track_use


class ModelNotFoundError(ValueError):
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


def load_bundle(model: str, settings: Settings) -> tuple[GrowthModelBundle, dict]:
    """The model bundle from a ``bundle.pkl`` path or an MLflow URI, and which version it is."""
    path = Path(model)
    if path.exists():
        with open(path, "rb") as handle:
            bundle = pickle.load(handle)
        digest = file_sha256(path)
        return bundle, {
            "model": str(path),
            "model_sha256": digest,
            "model_version": f"file {digest[:12]}",
            **bundle.metadata,
        }
    mlflow = start_experiment(settings.tracking)
    try:
        loaded = mlflow.pyfunc.load_model(model)
    except Exception:  # a missing alias, version, run or a mistyped URI: MLflow raises many kinds
        raise model_lookup_error(model, settings) from None
    description = {"model": model, "model_run_id": loaded.metadata.run_id, "model_version": model}
    if model.startswith("models:/"):
        name, _, alias = model.removeprefix("models:/").partition("@")
        if alias:
            version = mlflow.MlflowClient().get_model_version_by_alias(name, alias).version
            description.update({"model_version": str(version), "model_alias": alias})
        else:
            description["model_version"] = name.rsplit("/", 1)[-1]
    return loaded.unwrap_python_model().bundle, description


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
    scores.to_csv(out_dir / "scores.csv", index=False, encoding="utf-8")
    result.quarantine.to_csv(out_dir / "quarantine.csv", index=False)
    firms = result.tables["firms"]
    skipped = skipped_firms(firms, result.tables["financials"], scores["firm_id"], as_of)
    skipped.to_csv(out_dir / "skipped.csv", index=False, encoding="utf-8")
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
