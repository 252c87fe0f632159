"""Stages ``growth-path`` and ``backtest-growth``: peer-group growth paths and their rolling backtest.

``growth-path`` forecasts revenue (and, where the panel allows, headcount and operating margin)
for t+1 … t+h as quantiles, with the probabilities of high growth (> 20% a year), of reaching the
next SME Act size class and of decline; one row per firm and future year. The ids of the nearest
peers go to a separate file for the report, which shows aggregates only.

``backtest-growth`` runs every origin of the panel, reports interval coverage (80%, 50%) and
pinball loss on log revenue for every method and both baselines, with firm-bootstrap intervals,
and logs them to MLflow and a DVC metrics file.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from jumpup.features.builder import FeatureBuilder, panel_rows
from jumpup.intake.ingest import open_panel
from jumpup.models.growth_engine import evaluate, forecast_paths, history_table, run_rolling
from jumpup.provenance import code_version, frame_sha256, shown_path, skipped_firms, stage_code_version, write_json
from jumpup.safe_text import write_csv
from jumpup.settings import Settings
from jumpup.tracking import start_experiment


def _history(panel_dir: Path, settings: Settings, up_to: int | None = None) -> tuple[pd.DataFrame, dict]:
    result = open_panel(Path(panel_dir), settings.ingest)
    financials = result.tables["financials"]
    if up_to is not None:
        financials = financials[financials["fiscal_year"] <= up_to]
    rows = panel_rows(result.tables["firms"], financials)
    features = FeatureBuilder(settings.features, settings.size_class, settings.program).fit(rows).transform(rows)
    info = {
        "input_sha256": {r.table: r.sha256 for r in result.reports},
        "data_sha256": frame_sha256(rows),
        "firms": result.tables["firms"][["firm_id"]],
        "financials": financials[["firm_id", "fiscal_year"]],
        "quarantine": result.quarantine,
    }
    return history_table(features, financials, settings.growth_paths.horizon), info


def growth_paths(panel_dir: Path, as_of: int, settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Forecast every firm filing in ``as_of``; uses only data up to ``as_of``.

    The third item holds the input hashes, ``skipped``: every firm of the panel without a path,
    with the reason (``jumpup.provenance.skipped_firms``), and ``quarantine``: the input rows the
    ingest contract rejected.
    """
    history, info = _history(panel_dir, settings, up_to=as_of)
    queries = history[history["fiscal_year"] == as_of]
    paths, peers = forecast_paths(history, queries, as_of, settings)
    firms, financials = info.pop("firms"), info.pop("financials")
    info["firms_read"] = int(firms["firm_id"].nunique())
    info["skipped"] = skipped_firms(firms, financials, paths["firm_id"], as_of)
    return paths, peers, info


def write_growth_paths(panel_dir: Path, as_of: int, out_file: Path, settings: Settings) -> dict:
    started = time.perf_counter()
    paths, peers, info = growth_paths(panel_dir, as_of, settings)
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    write_csv(paths, out_file, encoding="utf-8")
    write_csv(peers, out_file.with_suffix(".peers.csv"), encoding="utf-8")
    skipped = info.pop("skipped")
    write_csv(skipped, out_file.with_suffix(".skipped.csv"), encoding="utf-8")
    quarantine = info.pop("quarantine")
    write_csv(quarantine, out_file.with_suffix(".quarantine.csv"), encoding="utf-8")
    manifest = {
        "stage": "growth_path",
        "as_of": as_of,
        "horizon": settings.growth_paths.horizon,
        "method": settings.growth_paths.method,
        "firms": int(paths["firm_id"].nunique()),
        "firms_skipped": len(skipped),
        "skipped_by_reason": skipped["reason"].value_counts().sort_index().to_dict(),
        "rows": len(paths),
        "rows_quarantined": len(quarantine),
        "code_version": code_version(),
        **info,
    }
    write_json(out_file.with_suffix(".manifest.json"), manifest)
    manifest["seconds"] = round(time.perf_counter() - started, 2)
    return manifest


def backtest(panel_dir: Path, settings: Settings, metrics_file: Path | None = None, log_mlflow: bool = True) -> dict:
    started = time.perf_counter()
    g = settings.growth_paths
    history, info = _history(panel_dir, settings)
    for table_only in ("firms", "financials"):
        info.pop(table_only)
    info["rows_quarantined"] = len(info.pop("quarantine"))
    results = run_rolling(history, g, seed=settings.seed)
    if not results:
        raise ValueError(f"{panel_dir}: no origin has both peers with known outcomes and realised outcomes to test")
    table = evaluate(results, g.quantiles, settings.validation.bootstrap, settings.seed)
    by_horizon = {
        int(k): evaluate([r for r in results if r.horizon == k], g.quantiles, 50, settings.seed)
        .set_index("method")[["coverage_80", "coverage_50", "pinball"]]
        .round(4)
        .to_dict("index")
        for k in sorted({r.horizon for r in results})
    }
    summary = {
        "panel": shown_path(panel_dir),
        "origins": sorted({r.origin for r in results}),
        "horizon": g.horizon,
        "rows": int(sum(len(r.frame) for r in results)),
        "methods": table.round(5).to_dict("records"),
        "by_horizon": by_horizon,
        "code_version": code_version(),
        **info,
    }
    metrics = {
        f"{row['method']}.{m}": round(row[m], 5)
        for row in summary["methods"]
        for m in ("coverage_80", "coverage_50", "pinball", "pinball_vs_pooled_history")
    }
    if metrics_file is not None:
        write_json(Path(metrics_file), metrics)
        write_json(Path(metrics_file).with_name("growth_backtest.json"), summary)
    if log_mlflow:
        mlflow = start_experiment(settings.tracking)
        with mlflow.start_run(run_name="backtest-growth") as run:
            mlflow.set_tags({"stage": "backtest_growth", "code_version": code_version(), "panel": str(panel_dir)})
            mlflow.log_params({f"growth_paths.{k}": str(v)[:250] for k, v in g.model_dump().items()})
            mlflow.log_metrics(metrics)
            mlflow.log_dict(summary, "growth_backtest.json")
            summary["run_id"] = run.info.run_id
    summary["seconds"] = round(time.perf_counter() - started, 1)
    return summary


def main() -> None:
    """DVC entry point: backtest the growth paths on the synthetic history."""
    from jumpup.settings import load_settings

    settings = load_settings()
    root = settings.paths.resolve(Path("data"))
    with stage_code_version("backtest_growth"):
        panel = settings.paths.resolve(settings.paths.ingested_dir)
        summary = backtest(panel, settings, root / "growth" / "metrics.json")
    print(f"backtest_growth: {summary['rows']} rows in {summary['seconds']} s (MLflow run {summary.get('run_id')})")


if __name__ == "__main__":
    main()


def high_growth_auc(panel_dir: Path, origin: int, settings: Settings) -> dict:
    """AUC of the peer high-growth probability at one origin, firm folds (see cross_section_high_growth)."""
    from jumpup.models.growth_engine import cross_section_high_growth
    from jumpup.models.metrics import bootstrap_intervals

    result = open_panel(Path(panel_dir), settings.ingest)
    rows = panel_rows(result.tables["firms"], result.tables["financials"])
    features_rows = rows[rows["fiscal_year"] <= origin]
    features = (
        FeatureBuilder(settings.features, settings.size_class, settings.program)
        .fit(features_rows)
        .transform(features_rows)
    )
    history = history_table(features, result.tables["financials"], settings.growth_paths.horizon)
    scored = cross_section_high_growth(
        history, origin, settings.growth_paths, settings.validation.cv_folds, settings.seed
    )
    valid = scored["p_high_growth"].notna()
    intervals = bootstrap_intervals(
        scored.loc[valid, "realised"],
        scored.loc[valid, "p_high_growth"],
        scored.loc[valid, "firm_id"],
        settings.validation.bootstrap,
        seed=settings.seed,
    )
    return {
        "origin": origin,
        "firms": int(valid.sum()),
        "event_rate": float(scored.loc[valid, "realised"].mean()),
        "auc": intervals["auc"],
    }
