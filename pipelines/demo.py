"""``jumpup demo``: the one command a newcomer runs.

Generates a synthetic history and application round, ingests both with quarantine accounting,
builds features, trains and registers the graded model in the embedded MLflow store, then scores
the round end to end (`jumpup round`: grades, growth paths, STEP 1 decisions, reports), runs
STEP 2 and the final selection on the firms that passed (`jumpup step2`) and one progress review
of the selected cohort (`jumpup review`), and prints where every output is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.progress import Progress

from jumpup.intake.ingest import ingest_directory, write_outputs
from jumpup.notices import in_language
from jumpup.pipelines import features_stage
from jumpup.pipelines import synth as synth_stage
from jumpup.pipelines.console import plain, print_ingest_summary
from jumpup.pipelines.review import run_review
from jumpup.pipelines.round import run_round
from jumpup.pipelines.step2 import run_step2
from jumpup.pipelines.train import train_panel
from jumpup.provenance import code_version, write_json
from jumpup.settings import PROJECT_ROOT, Settings
from jumpup.tracking import start_experiment, tracking_uri


def run_demo(settings: Settings, out: Path | None, console: Console, progress_factory: Callable[[], Progress]) -> dict:
    out = Path(out) if out else PROJECT_ROOT / "data" / "demo"
    timings: dict[str, float] = {}
    reports: dict[str, dict] = {}
    with progress_factory() as progress:
        steps = progress.add_task("demo", total=9)
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

        started = time.perf_counter()
        progress.update(steps, description="STEP 2 committees and the final selection")
        passed = pd.read_csv(out / "round" / "step1_decisions.csv", dtype={"firm_id": str})
        passed_ids = set(passed.loc[passed["decision"] == "pass", "firm_id"])
        evaluations = _keep_firms(out / "synthetic" / "step2" / "evaluations.csv", passed_ids, out / "step2_inputs")
        step2_result = run_step2(
            out / "round",
            evaluations,
            out / "cohort",
            settings,
            evaluators_path=out / "synthetic" / "step2" / "evaluators.csv",
            log_path=out / "step2_decision_log.jsonl",
        )
        timings["step2"] = time.perf_counter() - started
        progress.advance(steps)

        started = time.perf_counter()
        review_year = settings.synth.last_fiscal_year + 1
        progress.update(steps, description=f"progress review {review_year}")
        cohort_ids = set(pd.read_csv(out / "cohort" / "selection.csv", dtype={"firm_id": str})["firm_id"])
        synthetic_review = out / "synthetic" / "review"
        for name in ("firms", "financials"):
            _keep_firms(
                synthetic_review / "statements" / f"{name}.csv", cohort_ids, out / "review_inputs" / "statements"
            )
        review_inputs = _keep_firms(synthetic_review / "review_inputs.csv", cohort_ids, out / "review_inputs")
        review_result = run_review(
            out / "cohort",
            out / "review_inputs" / "statements",
            review_year,
            out / "review",
            settings,
            inputs_path=review_inputs,
            model=trained["model_uri"],
            log_path=out / "review_decision_log.jsonl",
        )
        timings["review"] = time.perf_counter() - started
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
        "reports": str(out / "round" / "reports" / "round_summary.html"),
        "operator_index": str(out / "round" / "operator" / "index.html"),
        "round_counts": round_result["counts"],
        "cohort": str(out / "cohort"),
        "selection": str(out / "cohort" / "selection.csv"),
        "selection_page": step2_result["reports"]["selection"],
        "step2_counts": step2_result["counts"],
        "step2_decision_log": str(out / "step2_decision_log.jsonl"),
        "review": str(out / "review"),
        "review_year": review_year,
        "review_counts": review_result["counts"],
        "review_dashboard": review_result["reports"]["dashboard"],
        "review_mlflow_run_id": review_result.get("mlflow_run_id"),
        "mlflow_tracking_uri": tracking_uri(settings.tracking),
        "mlflow_run_id": run_id,
        "firms": manifest["firms"],
        "firm_years": manifest["firm_years"],
        "applicants": manifest["applicants"],
    }
    write_json(out / "demo_summary.json", summary)
    console.print("\n[bold green]demo finished.[/bold green] Outputs:")
    console.print(f"  synthetic inputs : {plain(summary['synthetic_inputs'])}")
    for name, path in summary["ingested"].items():
        console.print(f"  ingested {name:<8}: {plain(path)}  (quarantine: {summary['quarantine'][name]})")
    console.print(
        f"  features         : {plain(summary['features']['history'])} (round: {plain(summary['features']['round'])})"
    )
    console.print(
        f"  model            : {plain(summary['model_uri'])} (validation: {plain(summary['validation_report'])})"
    )
    if trained.get("alias") != "champion":
        console.print(
            "  [yellow]the model failed a promotion gate and is not champion[/yellow]: the demo scores with "
            f"{plain(summary['model_uri'])}; see `jumpup promote` and the version's 'validation' tag"
        )
    counts = summary["round_counts"]
    console.print(
        f"  round            : {plain(summary['round'])} — {counts['applicants']} applicants, "
        f"{counts['passed']} pass STEP 1"
    )
    console.print(
        f"  reports          : {plain(summary['reports'])} (operator index: {plain(summary['operator_index'])})"
    )
    s2 = summary["step2_counts"]
    console.print(
        f"  STEP 2           : {plain(summary['cohort'])} — {s2['passed_step1']} evaluated, "
        f"{s2['unanimous_select']} unanimous select, {s2['split']} split, {s2['selected']} selected "
        f"(page: {plain(summary['selection_page'])})"
    )
    console.print(
        f"  selection        : {plain(summary['selection'])} (decision log: {plain(summary['step2_decision_log'])})"
    )
    rc = summary["review_counts"]
    console.print(
        f"  review {summary['review_year']}      : {plain(summary['review'])} — {rc['continue']} continue, "
        f"{rc['drop']} dropped, {rc['completed']} completed (dashboard: {plain(summary['review_dashboard'])})"
    )
    console.print(f"  MLflow run       : {run_id} in {plain(summary['mlflow_tracking_uri'])}")
    console.print(f"  summary          : {plain(out / 'demo_summary.json')}")
    recorded = demo_warnings(reports, round_result, step2_result, review_result)
    for step, warning in recorded:
        console.print(f"[yellow]warning ({step}):[/yellow] {plain(warning)}", highlight=False, soft_wrap=True)
    if any("Chromium" in w or "Korean font" in w for _, w in recorded):
        console.print(
            "  PDFs and the Korean font need system packages: sudo apt-get install -y chromium fonts-noto-cjk "
            "(see README, 'System packages')"
        )
    return summary


def demo_warnings(ingest_reports: dict[str, dict], *manifests: dict) -> list[tuple[str, str]]:
    """Every warning the demo's steps recorded, in English, as (step, text), in the order of the steps.

    ``ingest_reports``: the ingest report of each input (history, round); ``manifests``: the round,
    STEP 2 and review manifests, each with its ``warnings`` (what they also write to their
    ``manifest.json``). Nothing is dropped: the console shows what the manifests hold (a text that
    two steps recorded, such as the round's ingest warnings, once).
    """
    found = [(f"ingest {name}", str(w)) for name, report in ingest_reports.items() for w in report.get("warnings", [])]
    for step, manifest in zip(("round", "STEP 2", "review"), manifests, strict=False):
        found += [(step, w) for w in in_language(manifest.get("warnings", []), "en")]
    seen: set[str] = set()
    return [(step, w) for step, w in found if not (w in seen or seen.add(w))]  # a warning once, at its first step


def _keep_firms(source: Path, firm_ids: set[str], out_dir: Path) -> Path:
    """A copy of a synthetic input holding only the rows of ``firm_ids`` (the firms that reach that step).

    The synthetic program writes STEP 2 and review inputs for every applicant; in the program only
    firms that passed STEP 1 meet a committee, and only the selected cohort is reviewed.
    """
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / source.name
    frame[frame["firm_id"].isin(firm_ids)].to_csv(target, index=False, encoding="utf-8")
    return target
