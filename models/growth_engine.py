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

from jumpup.features.size_class import EOK
from jumpup.models.growth_peers import (
    PeerDraws,
    PeerIndex,
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
from jumpup.settings import GrowthPathSettings, Settings

METHODS = ("peers", "pooled", "blend")
BASELINES = ("baseline_pooled_history", "baseline_industry_median")
# Candidate weights of the quantile model against the pooled forecast (``fit_quantile_calibration``).
SHRINKAGE_GRID = tuple(round(w / 10, 1) for w in range(11))


@dataclass(frozen=True)
class QuantileCalibration:
    """How a quantile model's forecast is corrected: shrinkage toward the pooled forecast, then CQR widths.

    ``weight`` in [0, 1] is the quantile model's share (1 = the model alone, 0 = the pooled
    forecast alone); ``widths`` maps a central band (low, high) to how far each side moves out
    (log growth units, negative when the band was too wide).
    """

    weight: float = 1.0
    widths: dict = field(default_factory=dict)


def shrink_quantiles(predicted: np.ndarray, reference: np.ndarray, weight: float) -> np.ndarray:
    """``weight`` × model + (1 − ``weight``) × pooled, quantile by quantile, kept non-crossing.

    ``predicted``: (rows, quantiles); ``reference``: (quantiles,) or (rows, quantiles), the pooled
    forecast. Rows with a missing model quantile take the pooled forecast.
    """
    reference = np.broadcast_to(np.asarray(reference, dtype="float64"), predicted.shape)
    model = np.where(np.isnan(predicted), reference, predicted)
    return np.sort(weight * model + (1 - weight) * reference, axis=1)


def fit_quantile_calibration(
    predicted: np.ndarray, reference: np.ndarray, actual: np.ndarray, quantiles, weights=SHRINKAGE_GRID
) -> QuantileCalibration:
    """Shrinkage weight and band widths from calibration rows whose outcomes are known.

    The weight is the candidate with the lowest mean pinball loss of the shrunk forecast (ties go
    to the smaller weight, i.e. toward the pooled forecast); the widths are the conformalised
    quantile regression widths (Romano et al. 2019) of the shrunk forecast. ``predicted`` and
    ``reference`` as in ``shrink_quantiles``; ``actual`` (rows,). Raises ValueError without rows.
    """
    actual = np.asarray(actual, dtype="float64")
    known = ~np.isnan(actual)
    if not known.any():
        raise ValueError("quantile calibration needs at least one row with a known outcome")
    reference = np.broadcast_to(np.asarray(reference, dtype="float64"), predicted.shape)
    predicted, reference, actual = predicted[known], reference[known], actual[known]
    losses = [float(np.mean(pinball(actual, shrink_quantiles(predicted, reference, w), quantiles))) for w in weights]
    weight = float(weights[int(np.argmin(losses))])
    widths = conformal_widths(shrink_quantiles(predicted, reference, weight), actual, quantiles)
    return QuantileCalibration(weight, widths)


def apply_quantile_calibration(
    predicted: np.ndarray, reference: np.ndarray, calibration: QuantileCalibration, quantiles
) -> np.ndarray:
    """The calibrated forecast: ``shrink_quantiles`` with the fitted weight, then the CQR widths."""
    return apply_widths(shrink_quantiles(predicted, reference, calibration.weight), calibration.widths, quantiles)


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


def quantile_columns(name: str, quantiles) -> list[str]:
    """Column names of a method's (or a quantity's) quantiles: ``blend_q10``, ``revenue_q90``, ..."""
    return [f"{name}_q{round(q * 100):02d}" for q in quantiles]


@dataclass
class OriginResult:
    origin: int
    horizon: int
    frame: pd.DataFrame  # one row per query firm with every method's quantiles and the outcome
    pit: np.ndarray = field(default_factory=lambda: np.empty(0))
    pooled_raw: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    reference: np.ndarray = field(default_factory=lambda: np.empty(0))  # the pool's unconditional quantiles


@dataclass
class HorizonModel:
    """Everything fitted for one horizon k at one origin t, from data known at t only.

    The peer index over firm-years s <= t - k, the quantile recalibration, the pooled quantile
    models with their shrinkage toward the pool's unconditional quantiles (``reference``) and CQR
    widths, both fitted on earlier origins, and the method ``auto`` picks. Forecasting a firm is
    then a k-d tree query and a few tree-model predictions.
    """

    horizon: int
    origin: int
    quantiles: tuple[float, ...]
    index: PeerIndex
    recalibration: Recalibration
    pooled: dict
    features: list[str]
    widths: dict
    auto_method: str
    high_growth_rate: float
    shrinkage: float = 1.0  # the quantile models' weight against ``reference`` (1 = no shrinkage)
    reference: np.ndarray = field(default_factory=lambda: np.empty(0))

    def forecast(
        self, queries: pd.DataFrame, workers: int | None = None, with_peer_ids: bool = True
    ) -> tuple[pd.DataFrame, PeerDraws, np.ndarray]:
        """(one row per query with every method's quantiles and the probabilities, the peer draws, raw pooled).

        ``workers``: threads for the peer queries and quantile predictions (the index's own count
        when None); rows are forecast independently, so the count never changes a result.
        ``with_peer_ids``: the frame's ``nearest_peers`` column ('firm_id:year' of the ten nearest,
        ';'-joined; about 1.5 s per 100,000 firms and horizon); without it the column is absent.
        """
        k, quantiles = self.horizon, self.quantiles
        queries = queries.reset_index(drop=True)
        threads = self.index.workers if workers is None else workers
        draws = self.index.query(queries, threads)
        peers_q = peer_quantiles(draws.outcomes, quantiles, self.recalibration)
        matrix = queries.reindex(columns=self.features).to_numpy(dtype="float64")
        raw_pooled = np.column_stack([self.pooled[q].predict(matrix, num_threads=threads) for q in quantiles])
        reference = self.reference if len(self.reference) else raw_pooled
        pooled_q = apply_quantile_calibration(
            raw_pooled, reference, QuantileCalibration(self.shrinkage, self.widths), quantiles
        )
        blend_q = np.sort((peers_q + pooled_q) / 2, axis=1)
        blend_q = np.where(np.isnan(blend_q), pooled_q, blend_q)
        frame = queries[["firm_id", "fiscal_year", "ksic_division", "revenue"]].copy()
        frame["horizon"] = k
        frame["peer_level"] = draws.level
        frame["peer_pool_size"] = draws.pool_size
        frame["peer_count"] = (draws.rows >= 0).sum(axis=1)
        frame["recalibrated"] = len(self.recalibration.pit) > 0
        if with_peer_ids:
            frame["nearest_peers"] = [";".join(p for p in row if p) for row in draws.index.labels(draws.rows[:, :10])]
        columns = {}
        for name, values in {"peers": peers_q, "pooled": pooled_q, "blend": blend_q}.items():
            columns.update(zip(quantile_columns(name, quantiles), values.T, strict=True))
        frame = pd.concat([frame, pd.DataFrame(columns)], axis=1)
        frame["auto_method"] = self.auto_method
        threshold = k * np.log(1 + self.high_growth_rate)
        frame["p_high_growth"] = probability_above(draws.outcomes, threshold, self.recalibration)
        frame["p_decline"] = 1 - probability_above(draws.outcomes, 0.0, self.recalibration)
        frame["employee_growth_q50"] = _row_median(draws.values(f"employee_log_growth_{k}"))
        frame["margin_q50"] = _row_median(draws.values(f"margin_{k}"))
        return frame, draws, raw_pooled


def fit_horizon(
    pool: pd.DataFrame,
    horizon: int,
    origin: int,
    known: list[OriginResult],
    features: list[str],
    settings: GrowthPathSettings,
    seed: int,
) -> HorizonModel:
    """Fit the state for horizon k at origin t; ``known`` are earlier origins with t' <= t - k."""
    quantiles = tuple(settings.quantiles)
    outcome = f"log_growth_{horizon}"
    pit = np.concatenate([r.pit for r in known]) if known else np.empty(0)
    recalibration = Recalibration(pit if len(pit) >= settings.recalibration_min_rows else np.empty(0))
    calibration_rows = [r for r in known if len(r.pooled_raw) and len(r.reference)]
    calibration = QuantileCalibration()
    if calibration_rows and sum(len(r.pooled_raw) for r in calibration_rows) >= settings.recalibration_min_rows:
        calibration = fit_quantile_calibration(
            np.vstack([r.pooled_raw for r in calibration_rows]),
            np.vstack([np.tile(r.reference, (len(r.pooled_raw), 1)) for r in calibration_rows]),
            np.concatenate([r.frame["actual"].to_numpy() for r in calibration_rows]),
            quantiles,
        )
    known_outcomes = pool[outcome].dropna().to_numpy(dtype="float64")
    reference = np.quantile(known_outcomes, quantiles) if len(known_outcomes) else np.empty(0)
    keep = (f"employee_log_growth_{horizon}", f"margin_{horizon}")
    return HorizonModel(
        horizon=horizon,
        origin=origin,
        quantiles=quantiles,
        index=PeerIndex(pool, outcome, settings, keep=keep),
        recalibration=recalibration,
        pooled=pooled_quantile_models(
            pool,
            outcome,
            features,
            quantiles,
            settings.pooled_estimators,
            seed,
            settings.pooled_max_rows,
            settings.workers,
        ),
        features=features,
        widths=calibration.widths,
        auto_method=_choose_method(known, quantiles),
        high_growth_rate=settings.high_growth_rate,
        shrinkage=calibration.weight,
        reference=reference,
    )


def _pooled_features(history: pd.DataFrame) -> list[str]:
    """The pooled model reads every indicator the history has; peers are matched on the weighted few."""
    from jumpup.models.bundle import model_feature_names

    return [c for c in model_feature_names() if c in history and history[c].notna().any()]


def _rolling_origins(
    history: pd.DataFrame,
    horizon: int,
    origins: list[int],
    features: list[str],
    settings: GrowthPathSettings,
    seed: int,
    with_baselines: bool,
    max_queries: int | None = None,
) -> list[OriginResult]:
    """Forecast each origin's firms from the state fitted at that origin, and score them on the outcome."""
    outcome = f"log_growth_{horizon}"
    quantiles = tuple(settings.quantiles)
    past: list[OriginResult] = []
    for t in origins:
        queries = history[(history["fiscal_year"] == t) & history[outcome].notna()]
        if max_queries is not None and len(queries) > max_queries:  # a fixed-seed sample bounds calibration cost
            queries = queries.sample(n=max_queries, random_state=seed + t)
        queries = queries.reset_index(drop=True)
        pool = history[history["fiscal_year"] <= t - horizon]
        if pool[outcome].notna().sum() < settings.min_peers or queries.empty:
            continue
        known = [r for r in past if r.origin <= t - horizon]  # calibration known at t
        model = fit_horizon(pool, horizon, t, known, features, settings, seed)
        frame, draws, raw_pooled = model.forecast(queries)
        if with_baselines:
            baselines = _baseline_quantiles(pool, queries, outcome, quantiles, settings.min_peers)
            for name, values in baselines.items():
                frame[quantile_columns(name, quantiles)] = values
        actual = queries[outcome].to_numpy(dtype="float64")
        frame["actual"] = actual
        past.append(OriginResult(t, horizon, frame, position_in(draws.outcomes, actual), raw_pooled, model.reference))
    return past


def run_rolling(history: pd.DataFrame, settings: GrowthPathSettings, seed: int = 0) -> list[OriginResult]:
    """The backtest: every origin with known outcomes, each forecast only from what was known then."""
    features = _pooled_features(history)
    first_year, last_year = int(history["fiscal_year"].min()), int(history["fiscal_year"].max())
    results: list[OriginResult] = []
    for k in range(1, settings.horizon + 1):
        origins = list(range(first_year + k, last_year - k + 1))
        results += _rolling_origins(history, k, origins, features, settings, seed, with_baselines=True)
    return results


def _results_settings(settings: GrowthPathSettings) -> dict:
    """The settings a forecast depends on (the thread and process settings change only the speed)."""
    return settings.model_dump(exclude={"workers", "parallel_query_rows", "process_min_firms"})


class GrowthPathModel:
    """The fitted growth-path engine at one origin: one ``HorizonModel`` per horizon.

    ``fit`` does the costly part once (calibration over the latest earlier origins, pooled models,
    peer pools); ``predict`` forecasts any number of firms at that origin. A model fitted on a
    history ending in year H serves every as-of year >= H identically, because no outcome after H
    is known either way; an earlier as-of year needs a model fitted on the history cut at it.
    """

    def __init__(self, settings: GrowthPathSettings, seed: int = 0):
        self.settings = settings
        self.seed = seed

    def fit(self, history: pd.DataFrame, as_of: int | None = None) -> GrowthPathModel:
        g = self.settings
        last_year = int(history["fiscal_year"].max())
        as_of = last_year if as_of is None else min(int(as_of), last_year)
        history = history[history["fiscal_year"] <= as_of]
        first_year = int(history["fiscal_year"].min())
        features = _pooled_features(history)
        self.horizons_: dict[int, HorizonModel] = {}
        for k in range(1, g.horizon + 1):
            outcome = f"log_growth_{k}"
            origins = list(range(first_year + k, as_of - k + 1))[-g.round_calibration_origins :]
            known = _rolling_origins(
                history, k, origins, features, g, self.seed, with_baselines=False, max_queries=g.calibration_max_firms
            )
            pool = history[history["fiscal_year"] <= as_of - k]
            if pool[outcome].notna().sum() < g.min_peers:
                continue
            self.horizons_[k] = fit_horizon(pool, k, as_of, known, features, g, self.seed)
        self.as_of_ = as_of
        self.history_last_year_ = last_year
        return self

    @classmethod
    def from_fitted(
        cls,
        settings: GrowthPathSettings,
        seed: int,
        horizons: dict[int, HorizonModel],
        as_of: int,
        history_last_year: int,
    ) -> GrowthPathModel:
        """A fitted engine from its stored state (one ``HorizonModel`` per horizon)."""
        model = cls(settings, seed)
        model.horizons_ = dict(horizons)
        model.as_of_ = as_of
        model.history_last_year_ = history_last_year
        return model

    def serves(self, as_of: int, settings: GrowthPathSettings, seed: int) -> bool:
        """Whether forecasts at ``as_of`` with these settings equal those of a model fitted afresh."""
        fitted = getattr(self, "as_of_", None)
        if fitted is None or seed != self.seed or _results_settings(settings) != _results_settings(self.settings):
            return False
        return as_of >= fitted if fitted == self.history_last_year_ else as_of == fitted

    def predict(
        self, queries: pd.DataFrame, with_draws: bool = True, workers: int | None = None, with_peer_ids: bool = True
    ) -> dict[int, dict]:
        """Per horizon: the forecast frame and (``with_draws``) the peer draws of each query firm.

        ``workers``: threads per horizon's forecast (``HorizonModel.forecast``), the fitted count when None.
        ``with_peer_ids``: whether the frames carry the nearest peers' ids (``HorizonModel.forecast``).

        Without the draws (ids and outcomes of every peer of every firm, about 100 MB per horizon
        at 100,000 firms) only the frames are kept.
        """
        forecasts = {}
        if queries.empty:
            return forecasts
        for k, model in self.horizons_.items():
            frame, draws, _ = model.forecast(queries, workers, with_peer_ids)
            forecasts[k] = {"frame": frame, "draws": draws} if with_draws else {"frame": frame}
        return forecasts


def probability_above_quantiles(quantile_values: np.ndarray, levels, threshold: np.ndarray | float) -> np.ndarray:
    """P(outcome > threshold) read off each row's quantile function, the distribution a path draws.

    ``quantile_values``: (rows, len(levels)) values at the probability ``levels`` (ascending), e.g.
    the q10–q90 log-growth quantiles of the method a report plots. The CDF is linear between the
    given quantiles and continues with the slope of the outermost segment beyond them, clipped to
    [0, 1]. Because the probabilities come from the drawn quantiles, a median above the threshold
    always gives a probability above one half. Rows with a missing quantile give NaN.
    """
    values = np.asarray(quantile_values, dtype="float64")
    levels = np.asarray(levels, dtype="float64")
    n = values.shape[1] if values.ndim == 2 else 0
    threshold = np.broadcast_to(np.asarray(threshold, dtype="float64"), (values.shape[0],))
    out = np.full(values.shape[0], np.nan)
    usable = ~(np.isnan(values).any(axis=1) | np.isnan(threshold))
    if not usable.any():
        return out
    rows = np.maximum.accumulate(values[usable], axis=1)
    t = threshold[usable]
    low, high = rows[:, 0], rows[:, -1]
    cdf = np.empty(len(rows))
    point = high - low <= 0  # a degenerate (point) distribution
    below = ~point & (t <= low)
    above = ~point & ~below & (t >= high)
    inside = ~(point | below | above)
    picked = np.arange(len(rows))
    with np.errstate(divide="ignore", invalid="ignore"):  # degenerate rows are set below
        # Below the first quantile: the slope to the first value above it, continued.
        j = np.argmax(rows > low[:, None], axis=1)
        slope = (levels[j] - levels[0]) / (rows[picked, j] - low)
        cdf[below] = (levels[0] - slope * (low - t))[below]
        # Above the last quantile: the slope from the last value below it, continued.
        j = n - 1 - np.argmax(rows[:, ::-1] < high[:, None], axis=1)
        slope = (levels[-1] - levels[j]) / (high - rows[picked, j])
        cdf[above] = (levels[-1] + slope * (t - high))[above]
        # Between two quantiles: linear, as numpy.interp computes it.
        j = np.clip((rows <= t[:, None]).sum(axis=1) - 1, 0, n - 2)
        x0, x1 = rows[picked, j], rows[picked, j + 1]
        slope = (levels[j + 1] - levels[j]) / (x1 - x0)
        cdf[inside] = (slope * (t - x0) + levels[j])[inside]
    probability = 1.0 - np.clip(cdf, 0.0, 1.0)
    probability[point] = (t < low)[point].astype("float64")
    out[usable] = probability
    return out


def _row_median(values: np.ndarray) -> np.ndarray:
    """Median of each row's peer values; missing (not a warning) when no peer has the value.

    ``values``: (rows, peers), NaN where a peer lacks the value. Equal to ``numpy.nanmedian`` per
    row (the mean of the two middle values for an even count), from one sort of the whole array.
    """
    out = np.full(values.shape[0], np.nan)
    count = (~np.isnan(values)).sum(axis=1)
    present = np.flatnonzero(count)
    if len(present):
        ordered = np.sort(values[present], axis=1)  # NaN sorts last
        c = count[present]
        rows = np.arange(len(present))
        out[present] = (ordered[rows, (c - 1) // 2] + ordered[rows, c // 2]) / 2
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


def _choose_method(known: list[OriginResult], quantiles) -> str:
    """The method with the lowest mean pinball loss on origins already known; peers when none are."""
    if not known:
        return "peers"
    frame = pd.concat([r.frame for r in known], ignore_index=True)
    actual = frame["actual"].to_numpy()
    losses = {}
    for method in METHODS:
        predicted = method_quantiles(frame, method, quantiles)
        valid = ~np.isnan(predicted).any(axis=1)
        losses[method] = float(np.mean(pinball(actual[valid], predicted[valid], quantiles))) if valid.any() else np.inf
    return min(losses, key=losses.get)


def method_quantiles(frame: pd.DataFrame, method: str, quantiles) -> np.ndarray:
    if method == "auto":
        out = np.full((len(frame), len(quantiles)), np.nan)
        for chosen in METHODS:
            rows = (frame["auto_method"] == chosen).to_numpy()
            out[rows] = frame.loc[rows, quantile_columns(chosen, quantiles)].to_numpy()
        return out
    return frame[quantile_columns(method, quantiles)].to_numpy()


def evaluate(results: list[OriginResult], quantiles, n_boot: int = 200, seed: int = 0) -> pd.DataFrame:
    """Coverage of the 80% and 50% bands and mean pinball loss on log revenue, with firm-bootstrap CIs.

    ``pinball_vs_pooled_history`` is the pinball loss relative to baseline (a), the pooled
    historical growth distribution, minus one; ``pinball_ratio_ci_low``/``_high`` bound the ratio
    of the two losses over the same firm-bootstrap draws (paired).
    """
    frame = pd.concat([r.frame for r in results], ignore_index=True)
    actual = frame["actual"].to_numpy()
    firms, codes = np.unique(frame["firm_id"], return_inverse=True)
    rng = np.random.default_rng(seed)
    members = pd.Series(np.arange(len(frame))).groupby(codes).apply(np.array).to_list()
    draws = [np.concatenate([members[g] for g in rng.integers(0, len(firms), len(firms))]) for _ in range(n_boot)]
    index = {q: i for i, q in enumerate(quantiles)}
    rows, pinball_draws = [], {}
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
            if name == "pinball":
                pinball_draws[method] = np.asarray(boot, dtype="float64")
        rows.append(row)
    table = pd.DataFrame(rows)
    base = table.set_index("method").loc["baseline_pooled_history", "pinball"]
    table["pinball_vs_pooled_history"] = table["pinball"] / base - 1
    ratios = [pinball_draws[m] / pinball_draws["baseline_pooled_history"] for m in table["method"]]
    table["pinball_ratio_ci_low"] = [float(np.quantile(r, 0.025)) if len(r) else np.nan for r in ratios]
    table["pinball_ratio_ci_high"] = [float(np.quantile(r, 0.975)) if len(r) else np.nan for r in ratios]
    return table


NEXT_CLASS_FLOOR = {"small": "small_max_eok", "medium": "candidate_min_eok", "midsize_candidate": "medium_max_eok"}


def fit_growth_model(history: pd.DataFrame, settings: Settings, as_of: int | None = None) -> GrowthPathModel:
    """The growth-path engine fitted on ``history`` at ``as_of`` (default: the history's last year)."""
    return GrowthPathModel(settings.growth_paths, settings.seed).fit(history, as_of)


def growth_path_table(
    history: pd.DataFrame,
    queries: pd.DataFrame,
    as_of: int,
    settings: Settings,
    model: GrowthPathModel | None = None,
    workers: int | None = None,
) -> pd.DataFrame:
    """The growth-path table of ``forecast_paths`` alone (one row per firm and future year); the
    peers' ids are never looked up."""
    return forecast_paths(history, queries, as_of, settings, model=model, workers=workers, with_peers=False)[0]


def forecast_paths(
    history: pd.DataFrame,
    queries: pd.DataFrame,
    as_of: int,
    settings: Settings,
    model: GrowthPathModel | None = None,
    workers: int | None = None,
    with_peers: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Growth paths of ``queries`` (feature rows at ``as_of``) against a peer ``history``.

    One row per firm and future year: revenue quantiles (won), peer count and level, the method
    used, and the probabilities of high growth, decline and of reaching the next size class's
    revenue floor, all read off the plotted quantiles (``probability_above_quantiles``), so a rising
    median never comes with a decline probability above one half. The second frame keeps the nearest
    peers' ids for the report, which shows aggregates only. A fitted ``model`` that serves
    ``as_of`` is used as it is; otherwise one is fitted on ``history`` here. ``workers``: threads
    for the forecast (the model's own count when None; results never depend on it). Without
    ``with_peers`` the second frame is empty and no peer id is looked up.
    """
    g = settings.growth_paths
    queries = queries.reset_index(drop=True)
    if model is None or not model.serves(as_of, g, settings.seed):
        model = fit_growth_model(history, settings, as_of)
    # the paths read the frames only
    forecasts = model.predict(queries, with_draws=False, workers=workers, with_peer_ids=with_peers)
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
        frame = forecast["frame"]
        q = method_quantiles(frame, g.method, quantiles)
        out = frame[["firm_id", "fiscal_year", "horizon", "peer_count", "peer_level", "peer_pool_size"]].copy()
        out = out.rename(columns={"fiscal_year": "as_of"})
        out["year"] = out["as_of"] + k
        out["method"] = frame["auto_method"] if g.method == "auto" else g.method
        revenue = frame["revenue"].to_numpy(dtype="float64")
        out[quantile_columns("revenue", quantiles)] = np.round(revenue[:, None] * np.exp(q))
        # every probability is read off the quantiles the path plots, so the text never contradicts the chart
        high = k * np.log(1 + g.high_growth_rate)
        out["p_high_growth"] = probability_above_quantiles(q, quantiles, high).round(4)
        out["p_decline"] = (1 - probability_above_quantiles(q, quantiles, 0.0)).round(4)
        with np.errstate(invalid="ignore", divide="ignore"):
            needed = np.log(floor_won.reindex(out["firm_id"]).to_numpy() / revenue)
        reach = probability_above_quantiles(q, quantiles, np.nan_to_num(needed, nan=0.0))
        out["p_next_size_class"] = np.where(np.isnan(needed), np.nan, reach).round(4)
        out["employees_growth_q50"] = np.round(np.exp(frame["employee_growth_q50"].to_numpy(dtype="float64")) - 1, 4)
        out["operating_margin_q50"] = frame["margin_q50"].round(4)
        rows.append(out)
        if with_peers:
            peers.append(frame[["firm_id", "horizon", "nearest_peers"]])
    if not rows:
        return pd.DataFrame(columns=["firm_id", "horizon", "year"]), pd.DataFrame(columns=["firm_id", "horizon"])
    paths = pd.concat(rows, ignore_index=True).sort_values(["firm_id", "horizon"], kind="stable").reset_index(drop=True)
    if not peers:
        return paths, pd.DataFrame(columns=["firm_id", "horizon", "nearest_peers"])
    return paths, pd.concat(peers, ignore_index=True)
