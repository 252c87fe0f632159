"""Rolling-origin growth-path engine: honest calibration, method choice, forecasts and backtest.

At every origin t and horizon k, calibration data (PIT values of peer draws, pooled-model errors)
and the method choice come only from origins t' <= t - k, whose outcomes were known at t. The same
machinery produces the backtest (evaluated on each origin's realised outcomes) and the
production forecast (the final origin, whose outcomes are not known yet).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from jumpup.models.growth_paths import (
    Recalibration,
    apply_widths,
    conformal_widths,
    find_peers,
    outcome_table,
    peer_quantiles,
    pinball,
    pooled_quantile_models,
    position_in,
    probability_above,
)
from jumpup.settings import GrowthPathSettings

METHODS = ("peers", "pooled", "blend")
BASELINES = ("baseline_pooled_history", "baseline_industry_median")


def history_table(features: pd.DataFrame, financials: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Feature rows joined with their realised outcomes up to ``horizon`` years later."""
    outcomes = outcome_table(financials, horizon)
    frame = features.merge(outcomes, on=["firm_id", "fiscal_year"], how="left", validate="one_to_one")
    revenue = frame["revenue"].astype("float64")
    frame["log_revenue"] = np.log(revenue.where(revenue > 0))
    return frame


def _baseline_quantiles(pool: pd.DataFrame, queries: pd.DataFrame, outcome: str, quantiles, min_peers: int) -> dict:
    known = pool[pool[outcome].notna()]
    pooled = np.quantile(known[outcome], quantiles) if len(known) else np.full(len(quantiles), np.nan)
    by_division = known.groupby("ksic_division")[outcome]
    industry_q = by_division.quantile(list(quantiles)).unstack() if len(known) else pd.DataFrame()
    counts = by_division.size() if len(known) else pd.Series(dtype=int)
    industry = np.tile(pooled, (len(queries), 1))
    division = queries["ksic_division"].astype(str).to_numpy()
    for d in np.unique(division):
        if counts.get(d, 0) >= min_peers:
            industry[division == d] = industry_q.loc[d].to_numpy()
    # (b) is the industry's median growth as the centre, with the industry spread around it
    return {"baseline_pooled_history": np.tile(pooled, (len(queries), 1)), "baseline_industry_median": industry}


@dataclass
class OriginResult:
    origin: int
    horizon: int
    frame: pd.DataFrame  # one row per query firm with every method's quantiles and the outcome
    pit: np.ndarray = field(default_factory=lambda: np.empty(0))
    pooled_raw: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))


def run_rolling(
    history: pd.DataFrame,
    settings: GrowthPathSettings,
    final_origin: int | None = None,
    final_queries: pd.DataFrame | None = None,
    seed: int = 0,
    calibration_origins: int | None = None,
) -> tuple[list[OriginResult], dict]:
    """Evaluate every origin with known outcomes; optionally forecast ``final_queries`` at ``final_origin``.

    ``calibration_origins`` keeps only that many of the latest origins usable for the final forecast,
    which bounds the cost of forecasting a round (the backtest uses every origin).
    """
    quantiles = tuple(settings.quantiles)
    # The pooled model reads every indicator the history has; peers are matched on the weighted few.
    from jumpup.models.bundle import model_feature_names

    features = [c for c in model_feature_names() if c in history and history[c].notna().any()]
    first_year, last_year = int(history["fiscal_year"].min()), int(history["fiscal_year"].max())
    results: list[OriginResult] = []
    forecasts: dict[int, dict] = {}
    for k in range(1, settings.horizon + 1):
        outcome = f"log_growth_{k}"
        past: list[OriginResult] = []
        origins = list(range(first_year + k, last_year - k + 1))
        if final_origin is not None and calibration_origins is not None:
            usable = [t for t in origins if t <= final_origin - k]
            origins = usable[-calibration_origins:]
        targets = [(t, history[(history["fiscal_year"] == t) & history[outcome].notna()], False) for t in origins]
        if final_origin is not None and final_queries is not None:
            targets.append((final_origin, final_queries, True))
        for t, queries, is_final in targets:
            queries = queries.reset_index(drop=True)
            pool = history[history["fiscal_year"] <= t - k]
            if pool[outcome].notna().sum() < settings.min_peers or queries.empty:
                continue
            known = [r for r in past if r.origin <= t - k]  # calibration known at t
            draws = find_peers(pool, queries, outcome, settings)
            pit = np.concatenate([r.pit for r in known]) if known else np.empty(0)
            recalibration = Recalibration(pit if len(pit) >= settings.recalibration_min_rows else np.empty(0))
            peers_q = peer_quantiles(draws.outcomes, quantiles, recalibration)
            models = pooled_quantile_models(
                pool, outcome, features, quantiles, settings.pooled_estimators, seed, settings.pooled_max_rows
            )
            raw_pooled = np.column_stack(
                [models[q].predict(queries[features].to_numpy(dtype="float64")) for q in quantiles]
            )
            calibration_rows = [(r.pooled_raw, r.frame["actual"].to_numpy()) for r in known if len(r.pooled_raw)]
            if calibration_rows and sum(len(a) for _, a in calibration_rows) >= settings.recalibration_min_rows:
                widths = conformal_widths(
                    np.vstack([p for p, _ in calibration_rows]),
                    np.concatenate([a for _, a in calibration_rows]),
                    quantiles,
                )
            else:
                widths = {}
            pooled_q = apply_widths(raw_pooled, widths, quantiles)
            blend_q = np.sort((np.nan_to_num(peers_q, nan=np.nan) + pooled_q) / 2, axis=1)
            blend_q = np.where(np.isnan(blend_q), pooled_q, blend_q)
            frame = queries[["firm_id", "fiscal_year", "ksic_division", "revenue"]].copy()
            frame["horizon"] = k
            frame["peer_level"] = draws.level
            frame["peer_pool_size"] = draws.pool_size
            frame["peer_count"] = (~np.isnan(draws.outcomes)).sum(axis=1)
            frame["recalibrated"] = len(recalibration.pit) > 0
            frame["nearest_peers"] = [";".join(p for p in row[:10] if p) for row in draws.peer_ids]
            for name, values in {
                "peers": peers_q,
                "pooled": pooled_q,
                "blend": blend_q,
                **_baseline_quantiles(pool, queries, outcome, quantiles, settings.min_peers),
            }.items():
                for i, q in enumerate(quantiles):
                    frame[f"{name}_q{round(q * 100):02d}"] = values[:, i]
            frame["auto_method"] = _choose_method(known, quantiles)
            threshold = k * np.log(1 + settings.high_growth_rate)
            frame["p_high_growth"] = probability_above(draws.outcomes, threshold, recalibration)
            frame["p_decline"] = 1 - probability_above(draws.outcomes, 0.0, recalibration)
            frame["employee_growth_q50"] = _row_median(_peer_values(pool, draws, f"employee_log_growth_{k}"))
            frame["margin_q50"] = _row_median(_peer_values(pool, draws, f"margin_{k}"))
            if not is_final:
                actual = queries[outcome].to_numpy(dtype="float64")
                frame["actual"] = actual
                result = OriginResult(t, k, frame, position_in(draws.outcomes, actual), raw_pooled)
                past.append(result)
                results.append(result)
            else:
                forecasts[k] = {"frame": frame, "draws": draws}
    return results, forecasts


def _row_median(values: np.ndarray) -> np.ndarray:
    """Median of each row's peer values; missing (not a warning) when no peer has the value."""
    out = np.full(values.shape[0], np.nan)
    present = ~np.isnan(values).all(axis=1)
    out[present] = np.nanmedian(values[present], axis=1)
    return out


def cross_section_high_growth(
    history: pd.DataFrame, origin: int, settings: GrowthPathSettings, folds: int, seed: int
) -> pd.DataFrame:
    """P(high growth over the horizon) at one origin with peers from the other firm folds.

    For a panel too short for out-of-time peers (KOSDAQ: 2017-2021, origin 2018, outcome 2021),
    firms are split into folds and each fold's peers come from the others at the same origin —
    the same firm-grouped design as the graded model's cross-validation, so the two AUCs compare.
    """
    h = settings.horizon
    outcome = f"log_growth_{h}"
    rows = history[(history["fiscal_year"] == origin) & history[outcome].notna()].reset_index(drop=True)
    fold = np.random.default_rng(seed).permutation(len(rows)) % folds
    probability = np.full(len(rows), np.nan)
    threshold = h * np.log(1 + settings.high_growth_rate)
    for f in range(folds):
        test = fold == f
        draws = find_peers(rows[~test], rows[test].reset_index(drop=True), outcome, settings)
        probability[test] = probability_above(draws.outcomes, threshold, Recalibration(np.empty(0)))
    return rows[["firm_id", "fiscal_year"]].assign(
        p_high_growth=probability, realised=(rows[outcome] > threshold).astype(int)
    )


def _peer_values(pool: pd.DataFrame, draws, column: str) -> np.ndarray:
    """Values of ``column`` for each query's peers (looked up by 'firm:year' id)."""
    if column not in pool:
        return np.full(draws.outcomes.shape, np.nan)
    lookup = pd.Series(
        pool[column].to_numpy(dtype="float64"),
        index=pool["firm_id"].astype(str) + ":" + pool["fiscal_year"].astype(str),
    )
    lookup = lookup[~lookup.index.duplicated()]
    flat = pd.Series(draws.peer_ids.reshape(-1)).map(lookup).to_numpy(dtype="float64")
    with np.errstate(all="ignore"):
        return flat.reshape(draws.peer_ids.shape)


def _choose_method(known: list[OriginResult], quantiles) -> str:
    """The method with the lowest mean pinball loss on origins already known; peers when none are."""
    if not known:
        return "peers"
    frame = pd.concat([r.frame for r in known], ignore_index=True)
    actual = frame["actual"].to_numpy()
    losses = {}
    for method in METHODS:
        predicted = frame[[f"{method}_q{round(q * 100):02d}" for q in quantiles]].to_numpy()
        valid = ~np.isnan(predicted).any(axis=1)
        losses[method] = float(np.mean(pinball(actual[valid], predicted[valid], quantiles))) if valid.any() else np.inf
    return min(losses, key=losses.get)


def method_quantiles(frame: pd.DataFrame, method: str, quantiles) -> np.ndarray:
    if method == "auto":
        out = np.full((len(frame), len(quantiles)), np.nan)
        for chosen in METHODS:
            rows = (frame["auto_method"] == chosen).to_numpy()
            out[rows] = frame.loc[rows, [f"{chosen}_q{round(q * 100):02d}" for q in quantiles]].to_numpy()
        return out
    return frame[[f"{method}_q{round(q * 100):02d}" for q in quantiles]].to_numpy()


def evaluate(results: list[OriginResult], quantiles, n_boot: int = 200, seed: int = 0) -> pd.DataFrame:
    """Coverage of the 80% and 50% bands and mean pinball loss on log revenue, with firm-bootstrap CIs."""
    frame = pd.concat([r.frame for r in results], ignore_index=True)
    actual = frame["actual"].to_numpy()
    firms, codes = np.unique(frame["firm_id"], return_inverse=True)
    rng = np.random.default_rng(seed)
    members = pd.Series(np.arange(len(frame))).groupby(codes).apply(np.array).to_list()
    draws = [np.concatenate([members[g] for g in rng.integers(0, len(firms), len(firms))]) for _ in range(n_boot)]
    index = {q: i for i, q in enumerate(quantiles)}
    rows = []
    for method in (*METHODS, "auto", *BASELINES):
        predicted = method_quantiles(frame, method, quantiles)
        valid = ~np.isnan(predicted).any(axis=1)
        cover80 = (predicted[:, index[0.1]] <= actual) & (actual <= predicted[:, index[0.9]])
        cover50 = (predicted[:, index[0.25]] <= actual) & (actual <= predicted[:, index[0.75]])
        loss = pinball(actual, predicted, quantiles)
        stats = {"coverage_80": cover80, "coverage_50": cover50, "pinball": loss}
        row = {"method": method, "rows": int(valid.sum())}
        for name, values in stats.items():
            values = np.where(valid, values, np.nan).astype("float64")
            row[name] = float(np.nanmean(values))
            boot = [np.nanmean(values[d]) for d in draws]
            row[f"{name}_ci_low"], row[f"{name}_ci_high"] = (
                float(np.quantile(boot, 0.025)),
                float(np.quantile(boot, 0.975)),
            )
        rows.append(row)
    table = pd.DataFrame(rows)
    base = table.set_index("method").loc["baseline_pooled_history", "pinball"]
    table["pinball_vs_pooled_history"] = table["pinball"] / base - 1
    return table
