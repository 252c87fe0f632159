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

import numpy as np
import pandas as pd

from jumpup.features.builder import FeatureBuilder, panel_rows
from jumpup.features.size_class import EOK
from jumpup.models.growth_engine import (
    GrowthPathModel,
    evaluate,
    history_table,
    method_quantiles,
    quantile_columns,
    run_rolling,
)
from jumpup.models.growth_paths import Recalibration, probability_above
from jumpup.pipelines.ingest import load_panel
from jumpup.provenance import code_version, frame_sha256, write_json
from jumpup.settings import Settings
from jumpup.tracking import start_experiment

NEXT_CLASS_FLOOR = {"small": "small_max_eok", "medium": "candidate_min_eok", "midsize_candidate": "medium_max_eok"}


def _history(panel_dir: Path, settings: Settings, up_to: int | None = None) -> tuple[pd.DataFrame, dict]:
    result = load_panel(Path(panel_dir), settings.ingest)
    financials = result.tables["financials"]
    if up_to is not None:
        financials = financials[financials["fiscal_year"] <= up_to]
    rows = panel_rows(result.tables["firms"], financials)
    features = FeatureBuilder(settings.features, settings.size_class, settings.program).fit(rows).transform(rows)
    info = {"input_sha256": {r.table: r.sha256 for r in result.reports}, "data_sha256": frame_sha256(rows)}
    return history_table(features, financials, settings.growth_paths.horizon), info


def fit_growth_model(history: pd.DataFrame, settings: Settings, as_of: int | None = None) -> GrowthPathModel:
    """The growth-path engine fitted on ``history`` at ``as_of`` (default: the history's last year)."""
    return GrowthPathModel(settings.growth_paths, settings.seed).fit(history, as_of)


def forecast_paths(
    history: pd.DataFrame,
    queries: pd.DataFrame,
    as_of: int,
    settings: Settings,
    model: GrowthPathModel | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Growth paths of ``queries`` (feature rows at ``as_of``) against a peer ``history``.

    One row per firm and future year: revenue quantiles (won), peer count and level, the method
    used, and the probabilities of high growth, decline (both recalibrated) and of reaching the
    next size class's revenue floor (the peers' raw share). The second frame keeps the nearest
    peers' ids for the report, which shows aggregates only. A fitted ``model`` that serves
    ``as_of`` is used as it is; otherwise one is fitted on ``history`` here.
    """
    g = settings.growth_paths
    queries = queries.reset_index(drop=True)
    if model is None or not model.serves(as_of, g, settings.seed):
        model = fit_growth_model(history, settings, as_of)
    forecasts = model.predict(queries)
    size_class = queries["size_class"].astype("object")
    floor_eok = np.select(
        [size_class == name for name in NEXT_CLASS_FLOOR],
        [queries[column].astype("float64") for column in NEXT_CLASS_FLOOR.values()],
        default=np.nan,
    )
    floor_won = pd.Series(floor_eok * EOK, index=queries["firm_id"])
    rows, peers = [], []
    quantiles = tuple(g.quantiles)
    for k, forecast in sorted(forecasts.items()):
        frame, draws = forecast["frame"], forecast["draws"]
        q = method_quantiles(frame, g.method, quantiles)
        out = frame[["firm_id", "fiscal_year", "horizon", "peer_count", "peer_level", "peer_pool_size"]].copy()
        out = out.rename(columns={"fiscal_year": "as_of"})
        out["year"] = out["as_of"] + k
        out["method"] = frame["auto_method"] if g.method == "auto" else g.method
        revenue = frame["revenue"].to_numpy(dtype="float64")
        out[quantile_columns("revenue", quantiles)] = np.round(revenue[:, None] * np.exp(q))
        out["p_high_growth"] = frame["p_high_growth"].round(4)
        out["p_decline"] = frame["p_decline"].round(4)
        with np.errstate(invalid="ignore", divide="ignore"):
            needed = np.log(floor_won.reindex(out["firm_id"]).to_numpy() / revenue)
        reach = probability_above(draws.outcomes, np.nan_to_num(needed, nan=0.0), Recalibration(np.empty(0)))
        out["p_next_size_class"] = np.where(np.isnan(needed), np.nan, reach).round(4)
        out["employees_growth_q50"] = np.round(np.exp(frame["employee_growth_q50"].to_numpy(dtype="float64")) - 1, 4)
        out["operating_margin_q50"] = frame["margin_q50"].round(4)
        rows.append(out)
        peers.append(frame[["firm_id", "horizon", "nearest_peers"]])
    if not rows:
        return pd.DataFrame(columns=["firm_id", "horizon", "year"]), pd.DataFrame(columns=["firm_id", "horizon"])
    paths = pd.concat(rows, ignore_index=True).sort_values(["firm_id", "horizon"], kind="stable").reset_index(drop=True)
    return paths, pd.concat(peers, ignore_index=True)


def growth_paths(panel_dir: Path, as_of: int, settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Forecast every firm filing in ``as_of``; uses only data up to ``as_of``."""
    history, info = _history(panel_dir, settings, up_to=as_of)
    queries = history[history["fiscal_year"] == as_of]
    paths, peers = forecast_paths(history, queries, as_of, settings)
    return paths, peers, info


def write_growth_paths(panel_dir: Path, as_of: int, out_file: Path, settings: Settings) -> dict:
    started = time.perf_counter()
    paths, peers, info = growth_paths(panel_dir, as_of, settings)
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    paths.to_csv(out_file, index=False, encoding="utf-8")
    peers.to_csv(out_file.with_suffix(".peers.csv"), index=False, encoding="utf-8")
    manifest = {
        "stage": "growth_path",
        "as_of": as_of,
        "horizon": settings.growth_paths.horizon,
        "method": settings.growth_paths.method,
        "firms": int(paths["firm_id"].nunique()),
        "rows": len(paths),
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
        "panel": str(panel_dir),
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
    backtest(root / "synthetic" / "history", settings, root / "growth" / "metrics.json")


if __name__ == "__main__":
    main()


def high_growth_auc(panel_dir: Path, origin: int, settings: Settings) -> dict:
    """AUC of the peer high-growth probability at one origin, firm folds (see cross_section_high_growth)."""
    from jumpup.models.growth_engine import cross_section_high_growth
    from jumpup.models.validation import bootstrap_intervals

    result = load_panel(Path(panel_dir), settings.ingest)
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
