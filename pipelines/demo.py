"""``jumpup demo``: the one command a newcomer runs.

Generates a synthetic history and application round, ingests both with quarantine accounting,
builds features, trains and registers the graded model in the embedded MLflow store, then scores
the round end to end (`jumpup round`: grades, growth paths, STEP 1 decisions, reports) and prints
where every output is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from jumpup.intake.ingest import ingest_directory, write_outputs
from jumpup.pipelines import features_stage
from jumpup.pipelines import synth as synth_stage
from jumpup.pipelines.console import print_ingest_summary
from jumpup.pipelines.round import run_round
from jumpup.pipelines.train import train_panel
from jumpup.provenance import code_version, write_json
from jumpup.settings import PROJECT_ROOT, Settings
from jumpup.tracking import start_experiment, tracking_uri


def run_demo(settings: Settings, out: Path | None, console: Console, progress_factory: Callable[[], Progress]) -> dict:
    out = Path(out) if out else PROJECT_ROOT / "data" / "demo"
    timings: dict[str, float] = {}
    reports: dict[str, dict] = {}
    with progress_factory() as progress:
        steps = progress.add_task("demo", total=7)
        started = time.perf_counter()
        progress.update(
            steps, description=f"synth {settings.synth.firms:,} firms + {settings.synth.applicants:,} applicants"
        )
        manifest = synth_stage.run(settings, out / "synthetic", settings.seed)
        timings["synth"] = time.perf_counter() - started
        progress.advance(steps)

        for name, round_mode in (("history", False), ("round", True)):
            started = time.perf_counter()
            progress.update(steps, description=f"ingest {name}")
            result = ingest_directory(out / "synthetic" / name, settings.ingest, round_mode=round_mode)
            reports[name] = write_outputs(result, out / "ingested" / name, started)
            timings[f"ingest_{name}"] = time.perf_counter() - started
            progress.advance(steps)

        started = time.perf_counter()
        progress.update(steps, description="features (reference = history)")
        features_manifest = features_stage.run(
            out / "ingested" / "history",
            out / "features" / "history_features.parquet",
            settings,
            save_reference=out / "features" / "feature_reference",
        )
        round_manifest = features_stage.run(
            out / "ingested" / "round",
            out / "features" / "round_features.parquet",
            settings,
            reference=out / "features" / "feature_reference",
        )
        timings["features"] = time.perf_counter() - started
        progress.advance(steps)

        started = time.perf_counter()
        progress.update(steps, description="train the graded model (MLflow)")
        trained = train_panel(out / "ingested" / "history", out / "model", settings)
        timings["train"] = time.perf_counter() - started
        progress.advance(steps)

        started = time.perf_counter()
        progress.update(steps, description="score the round: grades, growth paths, STEP 1, reports")
        round_result = run_round(
            out / "ingested" / "round",
            out / "round",
            settings,
            trained["model_uri"],
            log_path=out / "step1_decision_log.jsonl",
        )
        timings["round"] = time.perf_counter() - started
        progress.advance(steps)

        progress.update(steps, description="record run in MLflow")
        mlflow = start_experiment(settings.tracking)
        with mlflow.start_run(run_name="demo") as run:
            mlflow.set_tags({"stage": "demo", "code_version": code_version(), "seed": str(settings.seed)})
            mlflow.log_params(
                {
                    "synth.firms": settings.synth.firms,
                    "synth.applicants": settings.synth.applicants,
                    "seed": settings.seed,
                }
            )
            for name, report in reports.items():
                for f in report["files"]:
                    mlflow.log_metric(f"{name}.{f['table']}.accepted", f["accepted"])
                    mlflow.log_metric(f"{name}.{f['table']}.quarantined", f["quarantined"])
            mlflow.log_metrics({f"seconds.{k}": round(v, 3) for k, v in timings.items()})
            mlflow.log_metric("features.history.firm_years", features_manifest["firm_years"])
            run_id = run.info.run_id
        progress.advance(steps)

    for name, report in reports.items():
        print_ingest_summary(report, out / "ingested" / name)
    summary = {
        "synthetic_inputs": str(out / "synthetic"),
        "ingested": {name: str(out / "ingested" / name) for name in reports},
        "quarantine": {name: str(out / "ingested" / name / "quarantine.csv") for name in reports},
        "features": {
            "history": str(out / "features" / "history_features.parquet"),
            "round": str(out / "features" / "round_features.parquet"),
        },
        "feature_rows": {"history": features_manifest["firm_years"], "round": round_manifest["firm_years"]},
        "model_uri": trained["model_uri"],
        "validation_report": str(out / "model" / "validation_report.html"),
        "round": str(out / "round"),
        "reports": str(out / "round" / "reports" / "index.html"),
        "round_counts": round_result["counts"],
        "mlflow_tracking_uri": tracking_uri(settings.tracking),
        "mlflow_run_id": run_id,
        "firms": manifest["firms"],
        "firm_years": manifest["firm_years"],
        "applicants": manifest["applicants"],
    }
    write_json(out / "demo_summary.json", summary)
    console.print("\n[bold green]demo finished.[/bold green] Outputs:")
    console.print(f"  synthetic inputs : {summary['synthetic_inputs']}")
    for name, path in summary["ingested"].items():
        console.print(f"  ingested {name:<8}: {path}  (quarantine: {summary['quarantine'][name]})")
    console.print(f"  features         : {summary['features']['history']} (round: {summary['features']['round']})")
    console.print(f"  model            : {summary['model_uri']} (validation: {summary['validation_report']})")
    counts = summary["round_counts"]
    console.print(
        f"  round            : {summary['round']} — {counts['applicants']} applicants, {counts['passed']} pass STEP 1"
    )
    console.print(f"  reports          : {summary['reports']}")
    console.print(f"  MLflow run       : {run_id} in {summary['mlflow_tracking_uri']}")
    console.print(f"  summary          : {out / 'demo_summary.json'}")
    return summary
