"""``jumpup review``: the yearly progress review of a selected cohort.

Reads the cohort written by ``jumpup step2`` (selection, forecasts and scores at selection, the
statement history), ingests the firms' new statements through ``jumpup.intake`` and the
progress-review file through its contract, scores the new year with the model that selected the
cohort, calls the pure rules (``jumpup.review.progress.review_year``) and writes the continuation
decisions, the dashboard and progress pages, and the monitoring of the forecasts (also to MLflow).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from jumpup.features.builder import panel_rows
from jumpup.intake.ingest import write_outputs
from jumpup.intake.readers import InputFileError
from jumpup.intake.step2_contracts import REVIEW_INPUTS, KnownIds, ingest_statements, read_checked, review_inputs_schema
from jumpup.pipelines.score import load_bundle, unpromoted_notice
from jumpup.pipelines.step1 import decision_log_path
from jumpup.pipelines.step2 import COHORT_FILES
from jumpup.provenance import code_version, file_sha256, frame_sha256, write_json
from jumpup.rendering.cohort_pages import write_review_pages
from jumpup.review.progress import CONTINUATION, review_year
from jumpup.safe_text import guard_formulas, unguard_formulas
from jumpup.settings import Settings
from jumpup.step2.selection import SELECTION
from jumpup.tracking import start_experiment


def read_cohort(cohort_dir: Path) -> dict:
    """What ``jumpup step2`` wrote for the cohort; a clear ``InputFileError`` when a file is missing."""
    cohort_dir = Path(cohort_dir)
    needed = (*COHORT_FILES, "cohort/firms.parquet", "cohort/financials.parquet")
    missing = [name for name in needed if not (cohort_dir / name).exists()]
    if missing:
        raise InputFileError(
            f"{cohort_dir}: not the output of 'jumpup step2' (missing {', '.join(missing)}); run 'jumpup step2' first"
        )
    selection = pd.read_csv(cohort_dir / "selection.csv", dtype={"firm_id": str, "round_id": str})
    selection["firm_id"] = unguard_formulas(selection["firm_id"])
    try:
        SELECTION.validate(selection)
    except pa.errors.SchemaError as exc:
        raise InputFileError(f"{cohort_dir / 'selection.csv'}: not a valid selection: {exc}") from None
    return {
        "selection": selection,
        "manifest": json.loads((cohort_dir / "manifest.json").read_text(encoding="utf-8")),
        "paths": pd.read_csv(cohort_dir / "cohort" / "growth_paths.csv", dtype={"firm_id": str}),
        "scores": pd.read_csv(cohort_dir / "cohort" / "scores.csv", dtype={"firm_id": str}),
        "firms": pd.read_parquet(cohort_dir / "cohort" / "firms.parquet"),
        "financials": pd.read_parquet(cohort_dir / "cohort" / "financials.parquet"),
    }


def run_review(
    cohort_dir: Path,
    statements_dir: Path,
    year: int,
    out_dir: Path,
    settings: Settings,
    inputs_path: Path | None = None,
    model: str | None = None,
    track: bool = True,
    log_path: Path | None = None,
) -> dict:
    """One progress-review year of the cohort in ``cohort_dir``; returns the manifest.

    Raises ``InputFileError`` when a file is missing, unreadable or lacks a required column, and
    ``ValueError`` for a review year that is not after the selection's as-of year. Rows for firms
    outside the cohort, and rows that break a contract, are quarantined (``quarantine.csv``).
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    cohort = read_cohort(cohort_dir)
    selection = cohort["selection"]
    as_of = int(cohort["manifest"]["as_of"])
    if year <= as_of:
        raise ValueError(f"--year {year}: a review year must be after the selection's as-of year {as_of}")
    if selection.empty:
        raise ValueError(f"{Path(cohort_dir) / 'selection.csv'}: the cohort has no selected firm; nothing to review")
    members = frozenset(selection["firm_id"])
    ingest_settings = settings.ingest
    if ingest_settings.max_fiscal_year is not None and ingest_settings.max_fiscal_year < year:
        ingest_settings = ingest_settings.model_copy(update={"max_fiscal_year": year})
    statements = ingest_statements(statements_dir, ingest_settings, members)
    ingest_report = write_outputs(statements, out_dir / "ingested")
    quarantine = [statements.quarantine]
    files = list(ingest_report["files"])
    if inputs_path is not None:
        checked = read_checked(
            inputs_path,
            REVIEW_INPUTS,
            review_inputs_schema(),
            (KnownIds("firm_id", members, "unknown_firm", "firm_id is not a firm of this cohort"),),
        )
        inputs = checked.frame
        quarantine.append(checked.quarantine)
        files.append(checked.report.__dict__)
    else:
        inputs = pd.DataFrame(columns=["firm_id", "fiscal_year", *REVIEW_INPUTS.counts, *REVIEW_INPUTS.amounts])

    model_ref = model or cohort["manifest"].get("model", {}).get("model")
    if not model_ref:
        raise InputFileError(f"{cohort_dir}/manifest.json: no model recorded; name one with --model")
    bundle, model_info = load_bundle(model_ref, settings)
    new_rows = statements.tables["financials"]
    new_rows = new_rows[(new_rows["fiscal_year"] > as_of) & (new_rows["fiscal_year"] <= year)]
    financials = pd.concat([cohort["financials"], new_rows], ignore_index=True)
    financials = financials.drop_duplicates(["firm_id", "fiscal_year"], keep="first")
    rows = panel_rows(cohort["firms"], financials.sort_values(["firm_id", "fiscal_year"]).reset_index(drop=True))
    features = bundle.builder.transform(rows)
    before = features[features["fiscal_year"] == as_of].reset_index(drop=True)
    after = features[features["fiscal_year"] == year].reset_index(drop=True)
    scored_before = _scored(bundle, before, cohort["scores"])
    scored_after = _scored(bundle, after, None)
    labels = tuple(bundle.scale.labels)
    result = review_year(selection, cohort["paths"], scored_before, scored_after, inputs, year, settings.review, labels)

    CONTINUATION.validate(result.decisions)
    out_dir.mkdir(parents=True, exist_ok=True)
    quarantine_table = (
        pd.concat([q for q in quarantine if len(q)], ignore_index=True)
        if any(len(q) for q in quarantine)
        else statements.quarantine
    )
    guard_formulas(quarantine_table).to_csv(out_dir / "quarantine.csv", index=False, encoding="utf-8")
    guard_formulas(result.progress).to_csv(out_dir / "progress.csv", index=False, encoding="utf-8", float_format="%.6g")
    guard_formulas(result.decisions).to_csv(
        out_dir / "continuation.csv", index=False, encoding="utf-8", float_format="%.6g"
    )
    guard_formulas(result.dropped[["firm_id", "program_year", "reasons"]]).to_csv(
        out_dir / "dropped.csv", index=False, encoding="utf-8"
    )
    result.grade_migration.to_csv(out_dir / "grade_migration.csv", encoding="utf-8")
    result.size_migration.to_csv(out_dir / "size_migration.csv", encoding="utf-8")
    write_json(out_dir / "monitoring.json", result.monitoring)
    warnings = list(ingest_report["warnings"]) + list(result.warnings)
    unpromoted = unpromoted_notice(model_info)
    if unpromoted:
        warnings.insert(0, unpromoted)
    counts = {
        "cohort": len(selection),
        "with_statements": int(result.progress["has_statement"].sum()),
        **{status: int((result.decisions["status"] == status).sum()) for status in ("continue", "drop", "completed")},
        "quarantined_rows": len(quarantine_table),
    }
    manifest = {
        "stage": "review",
        "round_id": cohort["manifest"].get("round_id"),
        "as_of": as_of,
        "year": year,
        "model": model_info,
        "code_version": code_version(),
        "statements_sha256": frame_sha256(new_rows.reset_index(drop=True)),
        "cohort_sha256": {name: file_sha256(Path(cohort_dir) / name) for name in COHORT_FILES},
        "files": files,
        "params": {"review": settings.review.model_dump(mode="json")},
        "counts": counts,
        "next_year_vouchers_won": float(result.decisions["next_year_voucher_won"].sum()),
        "monitoring": result.monitoring,
        "outputs_sha256": {
            name: file_sha256(out_dir / name)
            for name in ("progress.csv", "continuation.csv", "dropped.csv", "quarantine.csv", "monitoring.json")
        },
        "warnings": warnings,
        "warnings_ko": [getattr(w, "ko", str(w)) for w in warnings],
    }
    manifest["reports"] = write_review_pages(
        result,
        selection,
        cohort["financials"][cohort["financials"]["fiscal_year"] <= as_of],
        cohort["paths"],
        manifest,
        out_dir / "reports",
    )
    if track:
        manifest["mlflow_run_id"] = _track(manifest, out_dir, settings)
    write_json(out_dir / "manifest.json", {k: v for k, v in manifest.items() if k != "mlflow_run_id"})
    _log(log_path or decision_log_path(settings, out_dir, "review"), manifest, result.decisions)
    manifest["seconds"] = round(time.perf_counter() - started, 2)
    return manifest


def _scored(bundle, features: pd.DataFrame, at_selection: pd.DataFrame | None) -> pd.DataFrame:
    """Features with the model's probability, score and grade; at selection, the grades of record."""
    if features.empty:
        return features.assign(probability=pd.Series(dtype=float), score=pd.Series(dtype=float), grade=None)
    scored = bundle.score_features(features, "ko", with_reasons=False)[["firm_id", "probability", "score", "grade"]]
    if at_selection is not None and len(at_selection):
        record = at_selection.drop_duplicates("firm_id").set_index("firm_id")
        for column in ("probability", "score", "grade"):
            scored[column] = (
                scored["firm_id"].map(record[column]).where(scored["firm_id"].isin(record.index), scored[column])
            )
    drop = [c for c in ("probability", "score", "grade") if c in features]
    return features.drop(columns=drop).merge(scored, on="firm_id", how="left")


def _track(manifest: dict, out_dir: Path, settings: Settings) -> str:
    """Log the review's monitoring to MLflow: band coverage and grade-wise realised rates."""
    mlflow = start_experiment(settings.tracking)
    coverage = manifest["monitoring"]["band_coverage"]
    with mlflow.start_run(run_name=f"review-{manifest['year']}") as run:
        mlflow.set_tags(
            {
                "stage": "review",
                "cohort": ",".join(map(str, manifest["round_id"] or [])),
                "year": str(manifest["year"]),
                "code_version": manifest["code_version"],
                "model_version": str(manifest["model"].get("model_version")),
            }
        )
        mlflow.log_params({f"review.{k}": v for k, v in manifest["params"]["review"].items()})
        metrics = {f"counts.{k}": v for k, v in manifest["counts"].items()}
        metrics["band.firms"] = coverage["firms"]
        for key in ("coverage_80", "below_q10", "above_q90", "below_median"):
            if coverage["firms"]:
                metrics[f"band.{key}"] = coverage[key]
                metrics[f"band.{key}_ci_low"], metrics[f"band.{key}_ci_high"] = coverage[f"{key}_ci"]
        for row in manifest["monitoring"]["grades"]:
            metrics[f"grade.{row['grade']}.firms"] = row["firms"]
            metrics[f"grade.{row['grade']}.high_growth_rate"] = row["high_growth_rate"]
            metrics[f"grade.{row['grade']}.above_median_rate"] = row["above_median_rate"]
        mlflow.log_metrics(metrics)
        mlflow.log_artifact(str(out_dir / "monitoring.json"))
        mlflow.log_artifact(str(out_dir / "continuation.csv"))
        return run.info.run_id


def _log(log_path: Path, manifest: dict, decisions: pd.DataFrame) -> None:
    """Append one record per review: inputs, counts and every firm's continuation decision."""
    record = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "stage": "review",
        "round_id": manifest["round_id"],
        "year": manifest["year"],
        "model": {k: manifest["model"].get(k) for k in ("model", "model_version", "model_run_id", "model_sha256")},
        "inputs_sha256": {f["table"]: f["sha256"] for f in manifest["files"]} | manifest["cohort_sha256"],
        "params": manifest["params"],
        "counts": manifest["counts"],
        "decisions": [
            {
                "firm_id": r.firm_id,
                "program_year": int(r.program_year),
                "status": r.status,
                "next_year_voucher_won": float(r.next_year_voucher_won),
                "reasons": r.reasons,
            }
            for r in decisions.itertuples(index=False)
        ],
        "outputs_sha256": manifest["outputs_sha256"],
        "code_version": manifest["code_version"],
    }
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
