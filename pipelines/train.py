"""Stage ``train``: panel -> features -> targets -> graded model, validated and tracked in MLflow.

Writes ``<out>/bundle/`` (the self-contained model as data: LightGBM text, JSON and Parquet with a
manifest of sha256 hashes, see ``jumpup.models.bundle_store``), ``predictions.parquet`` (every labelled
row with its split), ``validation_report.json`` / ``.html`` and ``metrics.json`` (the DVC metrics
file), logs params, metrics, the report, the feature list with its hash and the pyfunc model to
MLflow, and registers the model with a description and tags (target, horizon, data hash, code
version, validation outcome). Every version starts as ``challenger``; the champion alias moves
only through the promotion gates (``jumpup promote``), which a first version also has to pass.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pandas as pd

from jumpup.features.builder import FeatureBuilder, panel_rows
from jumpup.features.size_class import classify_size
from jumpup.intake.ingest import open_panel
from jumpup.models import pyfunc
from jumpup.models.bundle_store import bundle_sha256, save_bundle
from jumpup.models.growth_engine import GrowthPathModel, history_table
from jumpup.models.pyfunc import complete_rows, contract_columns
from jumpup.models.targets import TARGET_KO, make_targets
from jumpup.models.training import CrossValidation, cross_validate_origin, train_and_validate
from jumpup.provenance import code_version, frame_sha256, shown_path, stage_code_version, write_json
from jumpup.rendering.validation_report import render_validation_html
from jumpup.settings import PROJECT_ROOT, Settings, load_settings
from jumpup.tracking import REGISTERED_MODEL, log_model_from_code, model_signature, start_experiment

PIP_REQUIREMENTS = [f"-r {PROJECT_ROOT / 'requirements.lock'}"]
# MLflow "models from code": the logged python_model is this file of the package, not a pickle.
PYFUNC_CODE = Path(pyfunc.__file__).with_name("pyfunc_model.py")


def headline_metrics(report: dict) -> dict[str, float]:
    """Flat metrics for MLflow and DVC; also what promotion gates read."""
    metrics: dict[str, float] = {}
    for name, split in report["splits"].items():
        if "discrimination" not in split:
            continue
        for key, value in split["discrimination"].items():
            metrics[f"{name}.{key}"] = round(value["value"], 6)
            metrics[f"{name}.{key}_ci_low"] = round(value["ci_low"], 6)
            metrics[f"{name}.{key}_ci_high"] = round(value["ci_high"], 6)
        metrics[f"{name}.brier"] = round(split["calibration"]["brier"], 6)
        metrics[f"{name}.ece"] = round(split["calibration"]["ece"], 6)
        metrics[f"{name}.hhi"] = round(split["concentration"]["hhi"], 6)
        metrics[f"{name}.max_grade_share"] = round(split["concentration"]["max_share"], 6)
        metrics[f"{name}.failed_grade_tests"] = split["failed_grade_tests"]
        metrics[f"{name}.failed_grade_tests_share"] = round(
            split["failed_grade_tests"] / max(split["monotonicity"]["grades_populated"], 1), 6
        )
        metrics[f"{name}.grade_inversions"] = split["monotonicity"]["inversions"]
    for name, comparison in report["comparison"].items():
        metrics[f"{name}.scorecard_auc"] = round(comparison["scorecard"]["auc"]["value"], 6)
        metrics[f"{name}.baseline_auc"] = round(comparison["past_growth_baseline"]["auc"]["value"], 6)
    metrics["monotone_violations"] = sum(m["violating_rows"] for m in report["monotone_constraints"].values())
    metrics["monotone_input_violations"] = sum(m["violating_rows"] for m in report.get("monotone_inputs", {}).values())
    return metrics


def _flat_params(settings: Settings) -> dict[str, str]:
    flat = {}
    for section in ("targets", "model", "scorecard", "grade_scale", "validation", "features", "size_class"):
        for key, value in getattr(settings, section).model_dump().items():
            flat[f"{section}.{key}"] = json.dumps(value, default=str)[:500]
    flat["seed"] = str(settings.seed)
    return flat


def panel_sha256(rows: pd.DataFrame) -> str:
    """Hash of the panel rows in firm-year order, whatever order the files held them in."""
    return frame_sha256(rows.sort_values(["firm_id", "fiscal_year"]).reset_index(drop=True))


def train_panel(panel_dir: Path, out_dir: Path, settings: Settings, register: bool = True) -> dict:
    """Train on a panel directory; returns run id, model URI, version, alias and headline metrics."""
    started = time.perf_counter()
    result = open_panel(Path(panel_dir), settings.ingest)
    firms, financials = result.tables["firms"], result.tables["financials"]
    rows = panel_rows(firms, financials)
    builder = FeatureBuilder(settings.features, settings.size_class, settings.program).fit(rows)
    features = builder.transform(rows)
    targets = make_targets(financials, features[["firm_id", "fiscal_year", "size_class"]], settings.targets)
    training = train_and_validate(features, targets, builder, settings, settings.seed, rows=rows)
    data_hash = panel_sha256(rows)
    feature_hash = hashlib.sha256("\n".join(training.bundle.feature_names).encode()).hexdigest()
    training.bundle.history = history_table(features, financials, settings.growth_paths.horizon)
    # The growth-path engine is fitted once here, so a round pays only for its firms' forecasts.
    training.bundle.growth_model = GrowthPathModel(settings.growth_paths, settings.seed).fit(training.bundle.history)
    training.bundle.metadata = {
        "data_sha256": data_hash,
        "code_version": code_version(),
        "feature_sha256": feature_hash,
        "panel": shown_path(panel_dir),
        "trained_rows": training.report["rows"],
    }

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bundle_path = save_bundle(training.bundle, out_dir / "bundle")
    training.predictions.to_parquet(out_dir / "predictions.parquet", index=False)
    metrics = headline_metrics(training.report)
    write_json(out_dir / "metrics.json", metrics)
    write_json(out_dir / "validation_report.json", training.report)
    write_json(out_dir / "features.json", {"features": training.bundle.feature_names, "sha256": feature_hash})

    bundle_digest = bundle_sha256(bundle_path)
    run_name = f"train-{settings.targets.name}-h{settings.targets.horizon}-data{data_hash[:8]}"
    # The files in out_dir depend on the inputs, params, seed and code only (a DVC stage's outputs):
    # the MLflow run id and registry version, which depend on the store, go to MLflow and the summary.
    file_meta = {
        "run_id": run_name,
        "run_name": run_name,
        "code_version": code_version(),
        "data_sha256": data_hash,
        "model_version": f"bundle {bundle_digest[:12]}",
        "target_ko": TARGET_KO[settings.targets.name],
    }
    (out_dir / "validation_report.html").write_text(render_validation_html(training.report, file_meta), "utf-8")
    write_json(
        out_dir / "train_run.json",
        {
            "run_name": run_name,
            "registered_model": REGISTERED_MODEL if register else None,
            "bundle_sha256": bundle_digest,
            "code_version": code_version(),
            "data_sha256": data_hash,
            "metrics": metrics,
        },
    )

    mlflow = start_experiment(settings.tracking)

    with mlflow.start_run(run_name=run_name) as run:
        mlflow.set_tags(
            {
                "stage": "train",
                "code_version": code_version(),
                "data_sha256": data_hash,
                "bundle_sha256": bundle_digest,
                "target": settings.targets.name,
                "panel": shown_path(panel_dir),
            }
        )
        mlflow.log_params(_flat_params(settings))
        mlflow.log_metrics(metrics)
        meta = {
            "run_id": run.info.run_id,
            "run_name": run.info.run_name,
            "code_version": code_version(),
            "data_sha256": data_hash,
            "model_version": "unregistered",
            "target_ko": TARGET_KO[settings.targets.name],
        }
        example = complete_rows(rows[rows["firm_id"].isin(rows["firm_id"].unique()[:5])]).reset_index(drop=True)
        example = example[[c for c in contract_columns() if c in example]]
        output = training.bundle.score_rows(example)[0]
        signature = model_signature(example, output, params={"as_of": 0, "language": "ko", "reasons": True})
        info = log_model_from_code(
            mlflow,
            name="model",
            python_model=str(PYFUNC_CODE),  # models from code: no cloudpickle is written
            artifacts={"bundle": str(bundle_path)},
            signature=signature,
            pip_requirements=PIP_REQUIREMENTS,
            registered_model_name=REGISTERED_MODEL if register else None,
        )
        version = getattr(info, "registered_model_version", None)
        alias = None
        if register and version is not None:
            describe_version(mlflow, str(version), settings, metrics, data_hash)
            alias = assign_initial_alias(mlflow, REGISTERED_MODEL, str(version), settings)
            meta["model_version"] = f"{REGISTERED_MODEL} v{version} ({alias})"
        # MLflow's copy of the report names the run and the registered version.
        mlflow.log_text(render_validation_html(training.report, meta), "validation/validation_report.html")
        for name in ("validation_report.json", "features.json", "metrics.json", "train_run.json"):
            mlflow.log_artifact(str(out_dir / name), artifact_path="validation")
        run_id = run.info.run_id
    summary = {
        "run_id": run_id,
        "model_uri": f"models:/{REGISTERED_MODEL}/{version}" if version is not None else f"runs:/{run_id}/model",
        "registered_model": REGISTERED_MODEL if register else None,
        "version": int(version) if version is not None else None,
        "alias": alias,
        "metrics": metrics,
        "data_sha256": data_hash,
        "bundle_sha256": bundle_digest,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return summary


def describe_version(mlflow_module, version: str, settings: Settings, metrics: dict, data_hash: str) -> None:
    """Give a registered version a description and the tags people filter on.

    Tags: target, horizon, data hash, code version and the validation outcome (the promotion
    gates' verdict on its own figures: ``passed`` or ``failed: <gates>``).
    """
    from jumpup.pipelines.promote import gate_results

    failed = [g["gate"] for g in gate_results(metrics, None, settings.promotion) if not g["passed"]]
    outcome = "passed" if not failed else "failed: " + ", ".join(failed)
    client = mlflow_module.MlflowClient()
    tags = {
        "target": settings.targets.name,
        "horizon": str(settings.targets.horizon),
        "data_sha256": data_hash,
        "code_version": code_version(),
        "validation": outcome,
    }
    for key, value in tags.items():
        client.set_model_version_tag(REGISTERED_MODEL, version, key, value)
    client.update_model_version(
        REGISTERED_MODEL,
        version,
        description=(
            f"{TARGET_KO[settings.targets.name]} ({settings.targets.name}), {settings.targets.horizon}-year horizon; "
            f"data {data_hash[:12]}, code {code_version()}; validation gates {outcome}."
        ),
    )


def assign_initial_alias(mlflow_module, name: str, version: str, settings: Settings) -> str:
    """Every new version is the challenger; with no champion yet, the promotion gates decide.

    A model becomes champion only through the gates, the first one included: a first version that
    fails them stays challenger and the registry has no champion until one passes (or an operator
    forces it with ``jumpup promote --force``, which the promotion log records).
    """
    from jumpup.pipelines.promote import promote

    client = mlflow_module.MlflowClient()
    client.set_registered_model_alias(name, "challenger", version)
    try:
        client.get_model_version_by_alias(name, "champion")
    except Exception:  # no champion yet: MLflow raises when an alias is unset
        record = promote(version, settings)
        return "champion" if record["decision"] == "promoted" else "challenger"
    return "challenger"


def _origin_features(panel_dir: Path, origin: int, settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Features from panel rows up to the origin (nothing later is read), the targets and a data hash."""
    result = open_panel(Path(panel_dir), settings.ingest)
    firms, financials = result.tables["firms"], result.tables["financials"]
    every_year = panel_rows(firms, financials)
    rows = every_year[every_year["fiscal_year"] <= origin].reset_index(drop=True)  # nothing after the origin
    builder = FeatureBuilder(settings.features, settings.size_class, settings.program).fit(rows)
    data_hash = panel_sha256(every_year)
    # Labels look ahead by design; size_upgrade needs the size class of every later year.
    size_classes = (
        classify_size(financials, firms, settings.size_class) if settings.targets.name == "size_upgrade" else None
    )
    return builder.transform(rows), make_targets(financials, size_classes, settings.targets), data_hash


def cross_validate_panel(
    panel_dir: Path,
    origin: int,
    settings: Settings,
    repeats: int | None = None,
    learning_curve: bool = False,
    log_mlflow: bool = True,
) -> CrossValidation:
    """Firm-grouped CV at one origin (features as of ``origin``, outcome ``origin + horizon``).

    With ``learning_curve`` the same test folds are rerun with training folds cut to
    ``validation.learning_curve_fractions``. The summary records the panel's data hash and the
    code version, and the run is logged to MLflow with the out-of-fold predictions.
    """
    features, targets, data_hash = _origin_features(panel_dir, origin, settings)
    repeats = settings.validation.cv_repeats if repeats is None else repeats
    fractions = settings.validation.learning_curve_fractions if learning_curve else ()
    cv = cross_validate_origin(features, targets, origin, settings, settings.seed, repeats, fractions)
    cv.summary |= {
        "panel": shown_path(panel_dir),
        "target": settings.targets.name,
        "data_sha256": data_hash,
        "code_version": code_version(),
    }
    if log_mlflow:
        cv.summary["run_id"] = _log_cross_validation(cv, settings)
    return cv


def _log_cross_validation(cv: CrossValidation, settings: Settings) -> str:
    """One MLflow run per cross-validation: settings, pooled and per-fold AUCs, the curve, predictions."""
    summary = cv.summary
    metrics: dict[str, float] = {}
    for name, pooled in summary["pooled"].items():
        for key in ("value", "ci_low", "ci_high"):
            metrics[f"cv.{name}.auc{'' if key == 'value' else '.' + key}"] = pooled["auc"][key]
        metrics[f"cv.{name}.ks"] = pooled["ks"]["value"]
    for name, spread in summary["fold_auc"].items():
        metrics[f"cv.{name}.fold_auc_mean"] = spread["mean"]
        metrics[f"cv.{name}.fold_auc_sd"] = spread["sd"]
    for name, spread in summary.get("repeats", {}).get("pooled_auc", {}).items():
        metrics |= {f"cv.{name}.repeats_auc_{k}": v for k, v in spread.items()}
    mlflow = start_experiment(settings.tracking)
    with mlflow.start_run(run_name=f"cross-validate-o{summary['origin']}-h{summary['horizon']}") as run:
        mlflow.set_tags(
            {
                "stage": "cross_validate",
                "code_version": summary["code_version"],
                "data_sha256": summary["data_sha256"],
                "target": summary["target"],
                "panel": summary["panel"],
                "origin": str(summary["origin"]),
            }
        )
        mlflow.log_params(_flat_params(settings))
        mlflow.log_metrics(metrics)
        for row in summary.get("learning_curve", []):
            for name, auc in row["pooled"].items():
                mlflow.log_metric(f"learning_curve.{name}.auc", auc["value"], step=round(100 * row["fraction"]))
        mlflow.log_dict(summary, "cross_validation/summary.json")
        mlflow.log_text(cv.predictions.to_csv(index=False), "cross_validation/out_of_fold.csv")
        return run.info.run_id


def main() -> None:
    """DVC entry point: train on the ingested synthetic history."""
    settings = load_settings()
    root = settings.paths.resolve(Path("data"))
    with stage_code_version("train"):
        summary = train_panel(settings.paths.resolve(settings.paths.ingested_dir), root / "models", settings)
    print(json.dumps({k: summary[k] for k in ("run_id", "model_uri", "alias")}))


if __name__ == "__main__":
    main()
