"""Peer-group growth paths (AI 성장경로분석, "Biz Path").

For a firm at fiscal year t, its peers are firm-years s of the history whose outcome k years
later is already known at t (s + k <= t), in the same KSIC division (widening to the section,
then to all firms, when fewer than ``min_peers`` candidates exist; the level is recorded), and
nearest in standardised financial structure (weights in ``params.yaml``) — found with a k-d tree
per industry group, not a Python loop over firms.

The peers' realised k-year log revenue growth gives the firm's predictive distribution. Raw peer
quantiles are recalibrated (quantile recalibration, Kuleshov et al. 2018): on earlier origins,
the position u = F_peers(realised) of each outcome in its own peer distribution is collected, and
the calibrated tau-quantile is the peer quantile at level G^-1(tau), G being the empirical CDF of
those u. Probabilities get the same map. A pooled LightGBM quantile model, conformalised on the
same earlier origins (CQR), is the comparison; ``blend`` averages the two.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from jumpup.features.ratios import sort_panel
from jumpup.settings import GrowthPathSettings

MATCH_LEVELS = ("division", "section", "all")


def outcome_table(financials: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Per firm-year s: log revenue growth to s+k, employee growth, margin and revenue at s+k, k = 1..h."""
    panel = sort_panel(financials)
    base = panel[["firm_id", "fiscal_year"]].copy()
    revenue = panel["revenue"].astype("float64")
    employees = panel["employees"].astype("float64") if "employees" in panel else pd.Series(np.nan, index=panel.index)
    margin = (
        (panel["operating_income"].astype("float64") / revenue.where(revenue > 0))
        if "operating_income" in panel
        else pd.Series(np.nan, index=panel.index)
    )
    values = pd.DataFrame(
        {
            "firm_id": panel["firm_id"],
            "fiscal_year": panel["fiscal_year"],
            "revenue": revenue,
            "employees": employees,
            "margin": margin,
        }
    )
    for k in range(1, horizon + 1):
        later = values.assign(fiscal_year=values["fiscal_year"] - k)
        merged = base.merge(later, on=["firm_id", "fiscal_year"], how="left", suffixes=("", "_later"))
        with np.errstate(divide="ignore", invalid="ignore"):  # a zero later value gives -inf, replaced below
            base[f"log_growth_{k}"] = np.log(merged["revenue"].to_numpy() / revenue.where(revenue > 0).to_numpy())
            base[f"employee_log_growth_{k}"] = np.log(
                merged["employees"].to_numpy() / employees.where(employees > 0).to_numpy()
            )
        base[f"margin_{k}"] = merged["margin"].to_numpy()
        base[f"revenue_{k}"] = merged["revenue"].to_numpy()
    return base.replace([np.inf, -np.inf], np.nan)


def weighted_matrix(frame: pd.DataFrame, centre: pd.Series, scale: pd.Series, weights: dict[str, float]) -> np.ndarray:
    """Robust-standardised, weighted matching matrix; a missing value sits at the pool median (0)."""
    names = list(weights)
    z = (frame[names].astype("float64") - centre[names]) / scale[names]
    return (z.fillna(0.0).clip(-5, 5) * np.sqrt(pd.Series(weights)[names])).to_numpy()


@dataclass
class PeerDraws:
    """For each query row: the neighbours' outcomes for one horizon, and how they were found."""

    outcomes: np.ndarray  # (n_query, n_neighbours), NaN-padded
    rows: np.ndarray  # (n_query, n_neighbours) positions in the index's pool, -1-padded
    level: np.ndarray
    pool_size: np.ndarray
    index: PeerIndex

    @property
    def peer_ids(self) -> np.ndarray:
        """'firm_id:year' of every neighbour ('' where padded)."""
        return self.index.labels(self.rows)

    def values(self, column: str) -> np.ndarray:
        """The neighbours' values of a pool column kept by the index (NaN where padded)."""
        return self.index.gather(column, self.rows)


class PeerIndex:
    """Nearest-neighbour search over the pool rows with a known outcome, one k-d tree per industry group.

    Fitted once per origin and horizon; a round then pays only for the tree queries. Trees are
    built on first use and are not pickled (they are rebuilt, identically, from the stored matrix).
    """

    def __init__(self, pool: pd.DataFrame, outcome: str, settings: GrowthPathSettings, keep: tuple[str, ...] = ()):
        pool = pool[pool[outcome].notna()]
        self.neighbours = settings.neighbours
        self.min_peers = settings.min_peers
        self.workers = settings.workers
        self.parallel_query_rows = settings.parallel_query_rows
        self.weights = dict(settings.weights)
        names = list(self.weights)
        self.centre = pool[names].median()
        self.spread = (pool[names].quantile(0.75) - pool[names].quantile(0.25)).replace(0, np.nan).fillna(1.0)
        self.matrix = weighted_matrix(pool, self.centre, self.spread, self.weights)
        self.firm_ids = pool["firm_id"].astype(str).to_numpy()
        self.years = pool["fiscal_year"].to_numpy(dtype="int64")
        self.columns = {outcome: pool[outcome].to_numpy(dtype="float64")}
        for column in keep:
            if column in pool:
                self.columns[column] = pool[column].to_numpy(dtype="float64")
        self.outcome = outcome
        self.group_keys = {name: keys.astype(str) for name, keys in _level_keys(pool["ksic_division"]).items()}
        self.group_sizes = {name: pd.Series(keys).value_counts() for name, keys in self.group_keys.items()}
        self._trees: dict = {}

    def __len__(self) -> int:
        return len(self.firm_ids)

    def to_data(self) -> tuple[dict, pd.DataFrame]:
        """The index as data: its settings (JSON-ready) and one row per pool member with the
        matching matrix (``match_0``..), the kept outcome columns and the industry key."""
        names = list(self.weights)
        settings = {
            "neighbours": self.neighbours,
            "min_peers": self.min_peers,
            "workers": self.workers,
            "parallel_query_rows": self.parallel_query_rows,
            "weights": [[name, float(weight)] for name, weight in self.weights.items()],  # ordered
            "outcome": self.outcome,
            "columns": list(self.columns),
            # a column the pool never has gives a missing centre: null in JSON
            "centre": [None if np.isnan(self.centre[n]) else float(self.centre[n]) for n in names],
            "spread": [None if np.isnan(self.spread[n]) else float(self.spread[n]) for n in names],
        }
        frame = pd.DataFrame(
            {"firm_id": self.firm_ids, "fiscal_year": self.years, "division": self.group_keys["division"]}
        )
        for j in range(self.matrix.shape[1]):
            frame[f"match_{j}"] = self.matrix[:, j]
        for column, values in self.columns.items():
            frame[f"value_{column}"] = values
        return settings, frame

    @classmethod
    def from_data(cls, settings: dict, frame: pd.DataFrame) -> PeerIndex:
        """The index back from ``to_data``'s output; the k-d trees are rebuilt on first use."""
        index = cls.__new__(cls)
        index.neighbours = int(settings["neighbours"])
        index.min_peers = int(settings["min_peers"])
        index.workers = int(settings["workers"])
        index.parallel_query_rows = int(settings["parallel_query_rows"])
        index.weights = {str(name): float(weight) for name, weight in settings["weights"]}
        names = list(index.weights)
        index.centre = pd.Series([np.nan if v is None else v for v in settings["centre"]], index=names, dtype="float64")
        index.spread = pd.Series([np.nan if v is None else v for v in settings["spread"]], index=names, dtype="float64")
        index.matrix = (
            frame[[f"match_{j}" for j in range(len(names))]].to_numpy(dtype="float64").reshape(len(frame), -1)
        )
        index.firm_ids = frame["firm_id"].astype(str).to_numpy(dtype=object)
        index.years = frame["fiscal_year"].to_numpy(dtype="int64")
        index.columns = {c: frame[f"value_{c}"].to_numpy(dtype="float64") for c in settings["columns"]}
        index.outcome = str(settings["outcome"])
        division = frame["division"].astype(str)
        index.group_keys = {name: keys.astype(str) for name, keys in _level_keys(division).items()}
        index.group_sizes = {name: pd.Series(keys).value_counts() for name, keys in index.group_keys.items()}
        index._trees = {}
        return index

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_trees"] = {}
        state.pop("_labels", None)
        return state

    def _tree(self, level: str, group: str) -> tuple[np.ndarray, NearestNeighbors]:
        key = (level, group)
        if key not in self._trees:
            members = np.flatnonzero(self.group_keys[level] == group)
            m = min(self.neighbours, len(members))
            self._trees[key] = (
                members,
                NearestNeighbors(n_neighbors=m, algorithm="kd_tree").fit(self.matrix[members]),
            )
        return self._trees[key]

    def query(self, queries: pd.DataFrame, workers: int | None = None) -> PeerDraws:
        """The nearest pool rows of each query row (``PeerDraws``), searched in ``workers`` threads
        (the index's own count when None; the neighbours found never depend on it)."""
        n, k = len(queries), self.neighbours
        workers = self.workers if workers is None else workers
        rows = np.full((n, k), -1, dtype=np.int64)
        level = np.full(n, "none", dtype=object)
        pool_size = np.zeros(n, dtype=np.int64)
        if len(self) and n:
            query_matrix = weighted_matrix(queries, self.centre, self.spread, self.weights)
            query_keys = {name: keys.astype(str) for name, keys in _level_keys(queries["ksic_division"]).items()}
            decided = np.zeros(n, dtype=bool)
            for name in MATCH_LEVELS:
                available = pd.Series(query_keys[name]).map(self.group_sizes[name]).fillna(0).to_numpy()
                take = ~decided & (available > 0) & ((available >= self.min_peers) | (name == "all"))
                decided |= take
                for group in np.unique(query_keys[name][take]):
                    chosen = np.flatnonzero(take & (query_keys[name] == group))
                    members, tree = self._tree(name, group)
                    # threads pay off only on large query sets; the answer is the same either way
                    tree.set_params(n_jobs=workers if len(chosen) >= self.parallel_query_rows else None)
                    _, neighbours = tree.kneighbors(query_matrix[chosen])
                    rows[chosen, : neighbours.shape[1]] = members[neighbours]
                    level[chosen] = name
                    pool_size[chosen] = len(members)
        return PeerDraws(self.gather(self.outcome, rows), rows, level, pool_size, self)

    def gather(self, column: str, rows: np.ndarray) -> np.ndarray:
        """The pool column's value at each position of ``rows`` (any shape; NaN where -1 or not kept)."""
        values = self.columns.get(column)
        if values is None or not len(values):
            return np.full(rows.shape, np.nan)
        taken = values.take(rows, mode="clip")  # a padded -1 reads position 0, made missing below
        padded = rows < 0
        if padded.any():
            taken[padded] = np.nan
        return taken

    def labels(self, rows: np.ndarray) -> np.ndarray:
        """'firm_id:year' of each pool position in ``rows`` (any shape; '' where -1)."""
        out = np.full(rows.shape, "", dtype=object)
        used = rows >= 0
        if used.any():
            if getattr(self, "_labels", None) is None:  # one label per pool member, made on first use
                self._labels = (
                    pd.Series(self.firm_ids, dtype=object).str.cat(pd.Series(self.years).astype(str), sep=":")
                ).to_numpy(dtype=object)
            out[used] = self._labels[rows[used]]
        return out


def _level_keys(division: pd.Series) -> dict[str, np.ndarray]:
    text = division.astype(str)
    return {
        "division": text.to_numpy(),
        "section": text.str.slice(0, 1).to_numpy(),
        "all": np.full(len(text), "*", dtype=object),
    }


def find_peers(pool: pd.DataFrame, queries: pd.DataFrame, outcome: str, settings: GrowthPathSettings) -> PeerDraws:
    """Nearest peers of each query among pool rows with a known ``outcome``, by industry level."""
    return PeerIndex(pool, outcome, settings).query(queries.reset_index(drop=True))


def row_quantiles(draws: np.ndarray, levels: list[float]) -> np.ndarray:
    """Per-row quantiles ignoring NaN, with numpy's linear interpolation (= np.nanquantile, vectorised)."""
    ordered = np.sort(draws, axis=1)  # NaN sort last
    n = (~np.isnan(draws)).sum(axis=1)
    out = np.full((draws.shape[0], len(levels)), np.nan)
    has = n > 0
    rows = np.flatnonzero(has)
    for j, level in enumerate(levels):
        position = level * (n[has] - 1)
        low = np.floor(position).astype(np.int64)
        high = np.minimum(low + 1, n[has] - 1)
        weight = position - low
        out[rows, j] = ordered[rows, low] * (1 - weight) + ordered[rows, high] * weight
    return out


def position_in(draws: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Mid-rank position of each value in its row of peer draws (the PIT value u)."""
    valid = ~np.isnan(draws)
    n = valid.sum(axis=1)
    below = (valid & (draws < value[:, None])).sum(axis=1)
    equal = (valid & (draws == value[:, None])).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (below + 0.5 * equal) / n, np.nan)


@dataclass
class Recalibration:
    """Empirical CDF G of PIT values from earlier origins; identity when too few."""

    pit: np.ndarray

    def level(self, tau: float) -> float:
        return float(np.quantile(self.pit, tau)) if len(self.pit) else tau

    def cdf(self, u: np.ndarray) -> np.ndarray:
        if not len(self.pit):
            return u
        ordered = np.sort(self.pit)
        return np.searchsorted(ordered, u, side="right") / len(ordered)


def peer_quantiles(draws: np.ndarray, quantiles: tuple[float, ...], recalibration: Recalibration) -> np.ndarray:
    levels = [min(max(recalibration.level(q), 0.0), 1.0) for q in quantiles]
    return row_quantiles(draws, levels)


def probability_above(draws: np.ndarray, threshold: np.ndarray | float, recalibration: Recalibration) -> np.ndarray:
    """Calibrated P(outcome > threshold) from peer draws."""
    threshold = np.broadcast_to(np.asarray(threshold, dtype="float64"), (draws.shape[0],))
    valid = ~np.isnan(draws)
    n = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.where(n > 0, (valid & (draws <= threshold[:, None])).sum(axis=1) / n, np.nan)
    return 1 - recalibration.cdf(raw)


def pooled_quantile_models(
    pool: pd.DataFrame,
    outcome: str,
    features: list[str],
    quantiles,
    estimators: int,
    seed: int,
    max_rows: int | None = None,
    workers: int = 1,
) -> dict[float, lgb.Booster]:
    """One LightGBM quantile model (its booster) per level, fitted side by side in ``workers`` threads.

    Each model is single-threaded, so the result does not depend on ``workers``.
    """
    data = pool[pool[outcome].notna()]
    if max_rows is not None and len(data) > max_rows:  # a fixed-seed sample bounds the cost on large pools
        data = data.sample(n=max_rows, random_state=seed)
    matrix = data[features].to_numpy(dtype="float64")
    target = data[outcome].to_numpy(dtype="float64")

    def fit(q: float) -> lgb.Booster:
        model = lgb.LGBMRegressor(
            objective="quantile",
            alpha=q,
            n_estimators=estimators,
            learning_rate=0.05,
            num_leaves=15,
            min_child_samples=30,
            random_state=seed,
            deterministic=True,
            force_row_wise=True,
            n_jobs=1,
            verbose=-1,
        )
        return model.fit(matrix, target).booster_

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool_of_threads:  # LightGBM releases the GIL
        return dict(zip(quantiles, pool_of_threads.map(fit, quantiles), strict=True))


def conformal_widths(predicted: np.ndarray, actual: np.ndarray, quantiles, pairs=((0.1, 0.9), (0.25, 0.75))) -> dict:
    """CQR: how far each symmetric interval must widen to cover its nominal share on calibration rows."""
    index = {q: i for i, q in enumerate(quantiles)}
    widths = {}
    for low, high in pairs:
        scores = np.maximum(predicted[:, index[low]] - actual, actual - predicted[:, index[high]])
        scores = scores[~np.isnan(scores)]
        level = min(1.0, (high - low) * (1 + 1 / max(len(scores), 1)))
        widths[(low, high)] = float(np.quantile(scores, level)) if len(scores) else 0.0
    return widths


def apply_widths(predicted: np.ndarray, widths: dict, quantiles) -> np.ndarray:
    out = predicted.copy()
    index = {q: i for i, q in enumerate(quantiles)}
    for (low, high), width in widths.items():
        out[:, index[low]] -= width
        out[:, index[high]] += width
    return np.sort(out, axis=1)  # no crossing quantiles


def pinball(actual: np.ndarray, predicted: np.ndarray, quantiles) -> np.ndarray:
    """Mean pinball loss over the quantile levels, per row."""
    losses = []
    for i, q in enumerate(quantiles):
        diff = actual - predicted[:, i]
        losses.append(np.maximum(q * diff, (q - 1) * diff))
    return np.mean(losses, axis=0)
