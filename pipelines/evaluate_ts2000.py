"""Stage: the out-of-time evaluation on an imported TS-2000 panel, logged to MLflow.

Reads the panel written by ``jumpup import ts2000`` (firms.csv, financials.csv), runs
``jumpup.models.ts2000_evaluation.evaluate`` and writes ``evaluation.json`` (every figure with its
interval, the design, data hash and code version), ``predictions.csv`` (test firms) and
``quarantine.csv`` (panel rows left out, ``jumpup.intake.imported_panel``) to --out.
"""

from __future__ import annotations

import time
from pathlib import Path

from jumpup.intake.imported_panel import read_imported_panel
from jumpup.models.ts2000_evaluation import Design, evaluate
from jumpup.provenance import code_version, frame_sha256, write_json
from jumpup.safe_text import write_csv
from jumpup.settings import Settings
from jumpup.tracking import start_experiment


def run(panel: Path, out: Path, settings: Settings, n_boot: int = 500) -> dict:
    panel, out = Path(panel), Path(out)
    started = time.perf_counter()
    imported = read_imported_panel(panel)
    firms, financials = imported.firms, imported.financials
    if "industry_group" not in firms:
        raise ValueError(f"{panel}/firms.csv has no industry_group column; is this a TS-2000 import?")
    design = Design(seed=settings.seed, n_boot=n_boot, marginal_years=settings.features.marginal_firm_years)
    results, predictions = evaluate(firms, financials, design, settings)
    results["data_sha256"] = frame_sha256(financials)
    results["code_version"] = code_version()
    results["rows_quarantined"] = len(imported.quarantine)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "evaluation.json", results)
    write_csv(predictions, out / "predictions.csv")
    write_csv(imported.quarantine, out / "quarantine.csv")  # panel rows left out, each with its reason
    mlflow = start_experiment(settings.tracking)
    with mlflow.start_run(run_name="evaluate_ts2000") as active:
        mlflow.log_params({f"design.{k}": v for k, v in design.__dict__.items()})
        mlflow.log_params({f"chosen.{k}": str(v["params"]) for k, v in results["chosen_params"].items()})
        mlflow.set_tags({"data_sha256": results["data_sha256"], "code_version": results["code_version"]})
        metrics = {"test_rows": results["test_rows"], "fit_rows": results["fit_rows"]}
        for name, entry in results["chosen_params"].items():
            for key in ("origin", "cross_firm", "mean"):
                metrics[f"validation.{name}.{key}"] = entry["chosen"][key]
        for name, entry in results["auc"].items():
            for key, value in entry.items():
                metrics[f"auc.{name}.{key}"] = value
        quantiles = results["growth_quantiles"]
        metrics["growth.pinball_ratio"] = quantiles["pinball_ratio"]
        metrics["growth.pinball_ratio.ci_low"], metrics["growth.pinball_ratio.ci_high"] = quantiles["pinball_ratio_ci"]
        metrics["growth.pinball_ratio_uncalibrated"] = quantiles["pinball_ratio_uncalibrated"]
        metrics["growth.shrinkage_weight"] = quantiles["shrinkage_weight"]
        metrics.update({f"growth.coverage.{k}": v for k, v in quantiles["coverage"].items()})
        engine = results["growth_engine"]
        metrics["growth_engine.pinball_ratio"] = engine["pinball_ratio"]
        metrics["growth_engine.pinball_ratio.ci_low"], metrics["growth_engine.pinball_ratio.ci_high"] = engine[
            "pinball_ratio_ci"
        ]
        metrics["growth_engine.coverage_50"] = engine["coverage_50"]
        metrics["growth_engine.coverage_80"] = engine["coverage_80"]
        mlflow.log_metrics(metrics)
        mlflow.log_artifact(str(out / "evaluation.json"))
        results["mlflow_run_id"] = active.info.run_id
    results["seconds"] = round(time.perf_counter() - started, 1)
    return results
