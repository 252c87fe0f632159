"""Family ablation: does a model gain from indicator families, on the same firms and folds?

At one origin year, firm-grouped K-fold cross-validation fits LightGBM and the WoE scorecard twice
on identical folds: once on every model feature, once without the features built from the
ablated families (by default 기술성 technology and 인적효율성 human efficiency). Everything else —
folds, nested tuning, feature selection inside each training fold, seed — is shared, so the
paired firm-bootstrap interval of the AUC difference measures what those families add. The
past-growth baseline is reported in the same run.

Features dropped for a family: its indicators (``features/registry.py``), their peer percentiles,
its family score, and the similar-group family score (``family_score_peer``), whose mean reads
the peer percentiles of the dropped indicators.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from jumpup.features.registry import FAMILIES, INDICATORS, PEER_COMPARED
from jumpup.models.metrics import bootstrap_intervals, paired_auc_difference
from jumpup.models.training import (
    _fold_numbers,
    _fold_spread,
    _origin_table,
    _out_of_fold,
    firm_folds,
    past_growth_baseline,
)
from jumpup.settings import Settings


def family_features(families: tuple[str, ...], names: list[str]) -> list[str]:
    """The model features among ``names`` built from ``families`` (see the module docstring).

    Raises ValueError for an unknown family or one that is not a firm-level family.
    """
    unknown = [f for f in families if f not in FAMILIES or f in ("peer", "industry")]
    if unknown:
        raise ValueError(f"cannot ablate {unknown}; firm-level families are management, technology, activity, human")
    indicators = {i.name for i in INDICATORS if i.family in families}
    dropped = indicators | {f"peer_pct_{n}" for n in PEER_COMPARED if n in indicators}
    dropped |= {f"family_score_{f}" for f in families} | {"family_score_peer"}
    return [n for n in names if n in dropped]


def coverage(table: pd.DataFrame, columns: list[str]) -> dict[str, float]:
    """Share of the origin's labelled firms with each column present."""
    return {c: float(table[c].notna().mean()) for c in columns if c in table}


def ablate_families(
    features: pd.DataFrame,
    targets: pd.DataFrame,
    origin: int,
    settings: Settings,
    seed: int,
    families: tuple[str, ...] = ("technology", "human"),
) -> tuple[dict, pd.DataFrame]:
    """Cross-validated AUCs with and without ``families`` at ``origin`` (outcome ``origin + horizon``).

    Shapes: ``features`` one row per firm-year (``FeatureBuilder.transform``), ``targets`` one row
    per firm and origin (``make_targets``). Returns (summary, out-of-fold predictions: one row per
    labelled firm with the fold and each model's probability). AUCs are pooled over the
    out-of-fold predictions with firm-bootstrap intervals (``validation.bootstrap``,
    ``validation.alpha``); differences have paired intervals. Raises ValueError when the origin
    has no labelled firms of both classes or a family is unknown.
    """
    table, matrix, y, groups = _origin_table(features, targets, origin)
    dropped = family_features(families, list(matrix.columns))
    reduced = matrix.drop(columns=dropped)
    splits = firm_folds(groups, settings.validation.cv_folds, 0, seed)
    with_families = _out_of_fold(matrix, y, groups, splits, settings, seed)
    without = _out_of_fold(reduced, y, groups, splits, settings, seed)
    oof = {
        "lightgbm": with_families["oof"]["lightgbm"],
        "lightgbm_without_families": without["oof"]["lightgbm"],
        "scorecard": with_families["oof"]["scorecard"],
        "scorecard_without_families": without["oof"]["scorecard"],
        "past_growth_baseline": past_growth_baseline(table, settings.targets.name),
    }
    v = settings.validation

    def paired(first: str, second: str) -> dict:
        return paired_auc_difference(y, oof[first], oof[second], groups, v.bootstrap, v.alpha, seed)

    folds = [
        {**a, **{f"{k}_without_families": b[k] for k in b}}
        for a, b in zip(with_families["folds"], without["folds"], strict=True)
    ]
    summary = {
        "origin": origin,
        "horizon": settings.targets.horizon,
        "target": settings.targets.name,
        "families": list(families),
        "firms": len(y),
        "events": int(y.sum()),
        "event_rate": float(y.mean()),
        "folds": settings.validation.cv_folds,
        "features_with_families": len(matrix.columns),
        "features_without_families": len(reduced.columns),
        "dropped_features": dropped,
        "coverage": coverage(table, [i.name for i in INDICATORS if i.family in families]),
        "pooled": {
            name: bootstrap_intervals(y, p, groups, v.bootstrap, v.alpha, seed)["auc"] for name, p in oof.items()
        },
        "fold_auc": {name: _fold_spread(folds, name) for name in folds[0]},
        "difference": {
            "lightgbm_with_minus_without": paired("lightgbm", "lightgbm_without_families"),
            "scorecard_with_minus_without": paired("scorecard", "scorecard_without_families"),
            "lightgbm_minus_scorecard": paired("lightgbm", "scorecard"),
            "lightgbm_minus_past_growth": paired("lightgbm", "past_growth_baseline"),
        },
        "chosen_params": {"with_families": with_families["chosen"], "without_families": without["chosen"]},
    }
    predictions = pd.DataFrame(
        {"firm_id": groups, "fiscal_year": origin, "target": y, "fold": _fold_numbers(splits)}
    ).assign(**{name: np.asarray(p, dtype="float64") for name, p in oof.items()})
    return summary, predictions
