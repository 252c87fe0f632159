"""Stage ``train --target crisis``: audited-firm panel -> crisis indicators -> early-warning model.

Reads a panel written by ``jumpup import ts2000`` (``firms.csv``, ``financials.csv``; any panel
with those files and columns), builds ``jumpup.features.crisis_signals`` and
``jumpup.models.crisis.crisis_targets``, fits and evaluates the model (``train_crisis``) and
writes to --out: ``crisis_model/`` (the model as data with a sha256 manifest),
``validation_report.json`` (validation pack per split, tuning, the held-out evaluation with
baselines) and its Korean page ``validation_report.html``, ``metrics.json``, ``predictions.csv``
(held-out firms at the test origin), ``quarantine.csv`` (panel rows left out) and
``train_run.json``. Logs the run to MLflow and registers the pyfunc under
``crisis.registered_model`` as ``challenger`` (the growth model's registry name is untouched).
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from jumpup.features.crisis_signals import crisis_signals
from jumpup.intake.imported_panel import read_imported_panel
from jumpup.models import crisis_pyfunc
from jumpup.models.bundle_store import bundle_sha256
from jumpup.models.crisis import crisis_targets, headline_metrics, train_crisis
from jumpup.provenance import code_version, frame_sha256, write_json
from jumpup.rendering.crisis_validation import render_crisis_validation_html
from jumpup.safe_text import write_csv
from jumpup.settings import PROJECT_ROOT, Settings
from jumpup.tracking import log_model_from_code, model_signature, start_experiment

PYFUNC_CODE = Path(crisis_pyfunc.__file__).with_name("crisis_pyfunc_model.py")
PIP_REQUIREMENTS = [f"-r {PROJECT_ROOT / 'requirements.lock'}"]


def panel_sha256(financials: pd.DataFrame) -> str:
    """Hash of the panel's financial rows in firm-year order."""
    return frame_sha256(financials.sort_values(["firm_id", "fiscal_year"]).reset_index(drop=True))


def run(panel: Path, out: Path, settings: Settings, register: bool = True) -> dict:
    """Train, evaluate and (optionally) register the crisis model; returns the run summary."""
    started = time.perf_counter()
    panel, out = Path(panel), Path(out)
    imported = read_imported_panel(panel)
    financials, rows = imported.financials, imported.rows
    features = crisis_signals(rows, settings.features.marginal_firm_years)
    targets = crisis_targets(financials, settings.crisis)
    training = train_crisis(features, targets, settings.crisis, settings.seed)
    data_hash = panel_sha256(financials)
    training.model.metadata = {"data_sha256": data_hash, "code_version": code_version(), "panel": str(panel)}
    training.report |= {"data_sha256": data_hash, "code_version": code_version(), "panel": str(panel)}
    training.report["label_status"] = {
        k: int(v) for k, v in targets["label_status"].value_counts().sort_index().items()
    }

    out.mkdir(parents=True, exist_ok=True)
    model_dir = training.model.save(out / "crisis_model")
    metrics = headline_metrics(training.report)
    write_json(out / "metrics.json", metrics)
    write_json(out / "validation_report.json", training.report)
    write_csv(training.predictions, out / "predictions.csv")
    write_csv(imported.quarantine, out / "quarantine.csv")  # panel rows left out, each with its reason
    run_name = f"train-crisis-h{settings.crisis.horizon}-data{data_hash[:8]}"
    # the page depends on the inputs, params, seed and code only: the model is named by its manifest hash
    page_meta = {
        "run_name": run_name,
        "model_version": f"crisis_model {bundle_sha256(model_dir)[:12]}",
        "code_version": code_version(),
        "data_sha256": data_hash,
    }
    (out / "validation_report.html").write_text(render_crisis_validation_html(training.report, page_meta), "utf-8")

    mlflow = start_experiment(settings.tracking)

    name = settings.crisis.registered_model
    with mlflow.start_run(run_name=run_name) as active:
        mlflow.set_tags(
            {"stage": "train", "target": "crisis", "code_version": code_version(), "data_sha256": data_hash}
        )
        mlflow.log_params({f"crisis.{k}": str(v)[:500] for k, v in settings.crisis.model_dump().items()})
        mlflow.log_metrics(metrics)
        for artifact in ("validation_report.json", "validation_report.html", "metrics.json"):
            mlflow.log_artifact(str(out / artifact), artifact_path="validation")
        example = features[features["fiscal_year"] == features["fiscal_year"].max()].head(5).reset_index(drop=True)
        example = example[["firm_id", "fiscal_year", *training.model.feature_names]]
        signature = model_signature(example, training.model.score_features(example), params={"reasons": True})
        info = log_model_from_code(
            mlflow,
            name="model",
            python_model=str(PYFUNC_CODE),
            signature=signature,
            artifacts={"crisis_model": str(model_dir)},
            pip_requirements=PIP_REQUIREMENTS,
            registered_model_name=name if register else None,
        )
        version = getattr(info, "registered_model_version", None)
        run_id = active.info.run_id
    if register and version is not None:
        client = mlflow.MlflowClient()
        client.set_registered_model_alias(name, "challenger", str(version))
        evaluation = training.report["evaluation"]["auc"]
        for key, value in {
            "target": "crisis",
            "horizon": str(settings.crisis.horizon),
            "data_sha256": data_hash,
            "code_version": code_version(),
            "held_out_auc": f"{evaluation['crisis_model']['auc']:.4f}",
        }.items():
            client.set_model_version_tag(name, str(version), key, value)
    summary = {
        "run_id": run_id,
        "model_uri": f"models:/{name}/{version}" if version is not None else f"runs:/{run_id}/model",
        "registered_model": name if register else None,
        "version": int(version) if version is not None else None,
        "metrics": metrics,
        "evaluation": training.report["evaluation"],
        "data_sha256": data_hash,
        "rows_quarantined": len(imported.quarantine),
    }
    write_json(out / "train_run.json", {k: v for k, v in summary.items() if k != "evaluation"})
    summary["seconds"] = round(time.perf_counter() - started, 1)
    return summary
