"""Stage: the family ablation on a panel (with and without 기술성 and 인적효율성), logged to MLflow.

Reads a panel directory (e.g. the KOSDAQ panel combined with FnGuide and DART 직원현황 by
``jumpup import combine``), builds features from rows up to the origin year only, labels the
outcome ``targets.horizon`` years later, and runs ``jumpup.models.family_ablation.ablate_families``.
Writes ``families.json`` (every AUC with its interval, the paired differences, coverage of the
family indicators, data hash, code version) and ``predictions.csv`` (out of fold) to --out.
"""

from __future__ import annotations

import time
from pathlib import Path

from jumpup.models.family_ablation import ablate_families
from jumpup.pipelines.train import _flat_params, _origin_features
from jumpup.provenance import code_version, write_json
from jumpup.settings import Settings
from jumpup.tracking import start_experiment


def run(panel: Path, out: Path, settings: Settings, origin: int, families: tuple[str, ...]) -> dict:
    """Run the ablation at ``origin`` and write its results to ``out``; returns the summary."""
    panel, out = Path(panel), Path(out)
    started = time.perf_counter()
    features, targets, data_hash = _origin_features(panel, origin, settings)
    summary, predictions = ablate_families(features, targets, origin, settings, settings.seed, families)
    summary |= {"panel": str(panel), "data_sha256": data_hash, "code_version": code_version()}
    out.mkdir(parents=True, exist_ok=True)
    predictions.to_csv(out / "predictions.csv", index=False)
    write_json(out / "families.json", summary)  # no run id or timing inside: reruns write the same bytes
    mlflow = start_experiment(settings.tracking)
    with mlflow.start_run(run_name=f"evaluate-families-o{origin}-h{settings.targets.horizon}") as active:
        mlflow.set_tags(
            {
                "stage": "evaluate_families",
                "code_version": summary["code_version"],
                "data_sha256": data_hash,
                "target": summary["target"],
                "origin": str(origin),
                "families": ",".join(families),
            }
        )
        mlflow.log_params(_flat_params(settings))
        metrics = {}
        for name, auc in summary["pooled"].items():
            metrics |= {f"auc.{name}.{k}": auc[k] for k in ("value", "ci_low", "ci_high")}
        for name, d in summary["difference"].items():
            metrics |= {f"difference.{name}.{k}": d[k] for k in ("value", "ci_low", "ci_high")}
        mlflow.log_metrics(metrics)
        mlflow.log_artifact(str(out / "families.json"), "evaluate_families")
        mlflow.log_artifact(str(out / "predictions.csv"), "evaluate_families")
        summary["mlflow_run_id"] = active.info.run_id
    summary["seconds"] = round(time.perf_counter() - started, 1)
    return summary
