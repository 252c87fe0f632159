"""Stage ``monitor``: crisis-sign monitoring (위기징후 모니터링) of every firm of a panel in one year.

Reads an imported panel (``firms.csv``, ``financials.csv``), scores the as-of year and the year
before through the registered crisis model (``--model``, default the newest version of
``crisis.registered_model``) with the pandas or the Spark engine (``jumpup.monitor.engines``),
and writes to --out only: ``monitor_firms.csv`` (per firm: probability, grade, reasons, change
since last year, growth stage), ``migration.csv``, ``newly_flagged.csv``,
``aggregates_industry_group.csv`` / ``aggregates_region.csv`` (groups of at least
``crisis.min_group_size`` firms), ``in_crisis.csv`` (firms already in crisis in the as-of year:
interest coverage below the threshold or a 부적정 / 의견거절 opinion; set apart, not scored as
"may enter crisis", with the sign that puts them there), ``monitor_report.html`` / ``.pdf``, ``monitor.xlsx`` and
``monitor.json`` (model version, data hash, code version, counts). The run is logged to MLflow.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pandas as pd

from jumpup.features.growth_stages import growth_stages, stage_rules
from jumpup.intake.imported_panel import read_imported_panel
from jumpup.models.bundle_store import BundleError
from jumpup.models.crisis import CrisisModel, in_crisis
from jumpup.monitor.engines import score_pandas, score_spark, spark_session
from jumpup.monitor.tables import group_aggregates, migration_matrix, set_apart_in_crisis, year_over_year
from jumpup.pipelines.score import MODEL_URI
from jumpup.pipelines.train_crisis import panel_sha256
from jumpup.provenance import code_version, write_json
from jumpup.rendering.monitor_pages import write_monitor_report
from jumpup.safe_text import write_csv
from jumpup.settings import CrisisSettings, Settings
from jumpup.tracking import start_experiment

ENGINES = ("pandas", "spark")


class MonitorError(ValueError):
    """Bad monitor input (unknown year, model not found); the message is one line."""


def load_crisis_model(uri: str, settings: Settings) -> tuple[CrisisModel, str | None, str]:
    """The crisis model at ``uri`` read as data: (model, its MLflow run id or None, 'name vN').

    ``uri``: ``models:/…`` or ``runs:/…`` (the logged model is downloaded), or a local folder: a
    saved ``CrisisModel`` or an MLflow model folder. Only the data-only ``crisis_model`` directory is
    read (LightGBM text and JSON, each file checked against its sha256 manifest); the pyfunc's
    logged code is never run and no pickle is ever loaded, whatever the folder holds. Raises
    ``MonitorError`` (one line naming the URI) for anything else.
    """
    mlflow = start_experiment(settings.tracking)
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    try:
        with tempfile.TemporaryDirectory(prefix="jumpup-crisis-") as scratch:
            if MODEL_URI.match(uri):
                local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=scratch))
            else:
                local = Path(uri)
            logged = local / "artifacts" / "crisis_model"
            model = CrisisModel.load(logged if logged.is_dir() else local)
            run_id = Model.load(str(local)).run_id if (local / "MLmodel").is_file() else None
    except BundleError as exc:
        raise MonitorError(
            f"--model {uri}: not a crisis model ({exc}); MLflow model code and pickles are never run"
        ) from None
    except (MlflowException, OSError) as exc:  # a missing model, version or store
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MonitorError(
            f"--model {uri}: cannot load ({message}); run `jumpup train --target crisis` first"
        ) from None
    return model, run_id, _model_version(mlflow, uri, run_id)


def _model_version(mlflow, uri: str, run_id: str | None) -> str:
    """'name vN' of the registered version the URI resolves to (else the URI and run id)."""
    if run_id:
        try:
            versions = mlflow.MlflowClient().search_model_versions(f"run_id='{run_id}'")
        except Exception:  # a store without a registry: name the URI instead
            versions = []
        if versions:
            return f"{versions[0].name} v{versions[0].version}"
    return f"{uri} (run {run_id})" if run_id else uri


def crisis_definition(model_settings: dict, settings: Settings) -> CrisisSettings:
    """The crisis definition the model was trained with (threshold, opinions), else the run's."""
    try:
        return CrisisSettings.model_validate(model_settings)
    except ValueError:
        return settings.crisis


IN_CRISIS_COLUMNS = (
    "firm_id",
    "name",
    "industry_group",
    "region",
    "interest_coverage",
    "audit_opinion",
    "coverage_below",
    "crisis_opinion",
    "crisis_reason",
    "previous_in_crisis",
    "previous_grade",
    "previous_flagged",
)


def in_crisis_table(
    now: pd.DataFrame,
    state: pd.DataFrame,
    previous: pd.DataFrame,
    firms: pd.DataFrame,
    financials: pd.DataFrame,
    as_of: int,
) -> pd.DataFrame:
    """One row per firm in crisis in ``as_of`` (``now``): its attributes, the year's coverage and
    opinion, the sign(s) that put it there, whether it was in crisis a year before and, if it was
    scored then, its early-warning grade a year before (did the warning come first?)."""
    year = financials[financials["fiscal_year"] == as_of]
    items = [c for c in ("interest_coverage", "audit_opinion") if c in year]
    out = now[["firm_id", "coverage_below", "crisis_opinion", "crisis_reason"]].merge(
        year[["firm_id", *items]].astype({"firm_id": str}), on="firm_id", how="left", validate="one_to_one"
    )
    attributes = [c for c in ("name", "industry_group", "region") if c in firms]
    out = out.merge(firms[["firm_id", *attributes]], on="firm_id", how="left", validate="one_to_one")
    before = state[(state["fiscal_year"] == as_of - 1) & state["in_crisis"]]
    out["previous_in_crisis"] = out["firm_id"].isin(set(before["firm_id"]))
    grades = previous[["firm_id", "grade", "flagged"]].rename(
        columns={"grade": "previous_grade", "flagged": "previous_flagged"}
    )
    out = out.merge(grades, on="firm_id", how="left", validate="one_to_one")
    out["previous_flagged"] = out["previous_flagged"].astype(object)
    return out[[c for c in IN_CRISIS_COLUMNS if c in out]].sort_values("firm_id").reset_index(drop=True)


def run(
    panel: Path,
    as_of: int,
    out: Path,
    settings: Settings,
    model_uri: str | None = None,
    engine: str = "pandas",
    spark_master: str = "local[*]",
    report: bool = True,
) -> dict:
    """Monitor the panel's firms in ``as_of``; returns the manifest (also written to monitor.json)."""
    if engine not in ENGINES:
        raise MonitorError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    started = time.perf_counter()
    panel, out = Path(panel), Path(out)
    imported = read_imported_panel(panel)
    firms, financials, rows = imported.firms, imported.financials, imported.rows
    years = sorted(int(y) for y in financials["fiscal_year"].dropna().unique())
    if as_of not in years:
        raise MonitorError(
            f"{panel / 'financials.csv'}: no rows for --as-of {as_of} (fiscal years on file: {years[0]}-{years[-1]})"
        )
    uri = model_uri or f"models:/{settings.crisis.registered_model}/latest"
    crisis_model, model_run_id, model_version = load_crisis_model(uri, settings)
    labels = list(crisis_model.scale.labels)
    scored_years = (as_of - 1, as_of)
    if engine == "pandas":
        scores = score_pandas(crisis_model, rows, scored_years)
    else:
        spark = spark_session(spark_master)
        scores = score_spark(spark, crisis_model, rows, scored_years)
    # Firms already in crisis are past the event the model predicts: set apart in both years.
    state = in_crisis(
        financials[financials["fiscal_year"].isin(scored_years)], crisis_definition(crisis_model.settings, settings)
    )
    current, crisis_now = set_apart_in_crisis(scores[scores["as_of"] == as_of], state, as_of)
    previous, crisis_before = set_apart_in_crisis(scores[scores["as_of"] == as_of - 1], state, as_of - 1)
    in_crisis_firms = in_crisis_table(crisis_now, state, previous, firms, financials, as_of)
    table = year_over_year(current, previous, labels, crisis_before["firm_id"])
    attributes = [c for c in ("name", "industry_group", "region") if c in firms]
    table = table.merge(firms[["firm_id", *attributes]], on="firm_id", how="left")
    rules, rules_version = stage_rules()
    stages = growth_stages(rows[rows["fiscal_year"] <= as_of], rules)
    stages = stages[stages["fiscal_year"] == as_of].drop(columns="fiscal_year")
    table = table.merge(stages.rename(columns={"missing_inputs": "stage_missing_inputs"}), on="firm_id", how="left")
    migration = migration_matrix(table, labels)
    size = settings.crisis.min_group_size
    aggregates: dict[str, pd.DataFrame | None] = {}
    notes: dict[str, str] = {}
    for key in ("industry_group", "region"):
        if key not in table or table[key].isna().all():
            aggregates[key] = None
            notes[key] = f"패널에 {key} 자료가 없어 집계하지 않았습니다."
            continue
        aggregates[key], note = group_aggregates(table, key, size)
        notes[key] = (
            f"{size}개사 미만 그룹 {note['groups_pooled']}개({note['firms_pooled']}개사)를 '기타'로 통합"
            + (
                f", 통합 후에도 {size}개사 미만이라 {note['firms_withheld']}개사 비표시"
                if note["firms_withheld"]
                else ""
            )
            + "."
        )

    out.mkdir(parents=True, exist_ok=True)
    # Ids, names and group names come from the panel: written as text a spreadsheet never runs.
    write_csv(table, out / "monitor_firms.csv")
    migration.to_csv(out / "migration.csv")  # grades and counts only
    write_csv(table[table["newly_flagged"]], out / "newly_flagged.csv")
    write_csv(in_crisis_firms, out / "in_crisis.csv")
    write_csv(imported.quarantine, out / "quarantine.csv")  # panel rows left out, each with its reason
    for key, frame in aggregates.items():
        if frame is not None:
            write_csv(frame, out / f"aggregates_{key}.csv")
    manifest = {
        "stage": "monitor",
        "as_of": as_of,
        "engine": engine,
        "spark_master": spark_master if engine == "spark" else None,
        "model_uri": uri,
        "model_version": model_version,
        "model_run_id": model_run_id,
        "data_sha256": panel_sha256(financials),
        "code_version": code_version(),
        "panel": str(panel),
        "horizon": crisis_model.settings.get("horizon"),
        "cutpoints": list(crisis_model.scale.cutpoints),
        "min_group_size": size,
        "growth_stage_rules": f"growth_stages {rules_version}",
        "counts": {
            "firms_scored": len(table),
            "firms_flagged": int(table["flagged"].sum()),
            "firms_newly_flagged": int(table["newly_flagged"].sum()),
            "firms_without_previous": int((table["grade_change"] == "new").sum()),
            "firms_from_crisis": int((table["grade_change"] == "from_crisis").sum()),
            "firms_in_crisis": len(in_crisis_firms),
            "firms_in_crisis_coverage": int(in_crisis_firms["coverage_below"].sum()),
            "firms_in_crisis_opinion": int(in_crisis_firms["crisis_opinion"].sum()),
            "firms_in_crisis_new": int((~in_crisis_firms["previous_in_crisis"]).sum()),
            "grades": {g: int((table["grade"] == g).sum()) for g in labels},
            "rows_quarantined": len(imported.quarantine),
        },
        "aggregation_notes": notes,
    }
    if report:
        record = write_monitor_report(
            out,
            table,
            migration,
            aggregates,
            notes,
            manifest,
            settings.reports.pdf,
            settings.reports.browser_timeout_seconds,
            in_crisis=in_crisis_firms,
        )
        manifest["report"] = {k: (Path(v).name if isinstance(v, str) else v) for k, v in record.items()}
    write_json(out / "monitor.json", manifest)
    mlflow = start_experiment(settings.tracking)
    with mlflow.start_run(run_name=f"monitor-{as_of}-{engine}") as active:
        mlflow.set_tags(
            {
                "stage": "monitor",
                "engine": engine,
                "model_version": model_version,
                "data_sha256": manifest["data_sha256"],
                "code_version": manifest["code_version"],
            }
        )
        mlflow.log_params({"as_of": as_of, "model_uri": uri, "min_group_size": size})
        mlflow.log_metrics(
            {
                "firms_scored": len(table),
                "flagged_share": float(table["flagged"].mean()) if len(table) else 0.0,
                "newly_flagged": manifest["counts"]["firms_newly_flagged"],
                "firms_in_crisis": manifest["counts"]["firms_in_crisis"],
                "mean_probability": float(table["probability"].mean()) if len(table) else 0.0,
            }
        )
        mlflow.log_artifact(str(out / "monitor.json"))
        run_id = active.info.run_id
    return manifest | {"mlflow_run_id": run_id, "seconds": round(time.perf_counter() - started, 1)}
