"""Field-audit (현장실사) scores: per-firm scores from the rubric, and the quality of the panel's scoring.

A firm's audit score is the rubric-weighted mean of its items, scaled to 0-100, averaged over
evaluators who scored every item. Incomplete evaluators and firms with fewer evaluators than the
rubric requires are flagged, never silently averaged. Panel quality: each evaluator's leniency
(the evaluator effect of an additive firm-item + evaluator model, centred on the median evaluator,
with a z-score) and inter-rater
agreement as ICC(1) — evaluators differ from firm to firm, so the one-way model applies — for
single ratings and for the mean of k ratings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

AUDIT_COLUMNS = ["firm_id", "evaluator_id", "evaluator_role", "item", "score"]  # an empty audits table


def item_weights(rubric: dict) -> pd.Series:
    """Each item's weight in the total: group weight x item weight within its group (sums to 1)."""
    weights = {
        name: rubric["groups"][item["group"]]["weight"] * item["weight"] for name, item in rubric["items"].items()
    }
    series = pd.Series(weights, dtype="float64")
    return series / series.sum()


def evaluator_scores(audits: pd.DataFrame, rubric: dict) -> pd.DataFrame:
    """One row per firm and evaluator: weighted score 0-100 and whether every item was scored.

    ``audits``: one row per firm, evaluator and item (the audits contract). Rows come out sorted by
    firm and evaluator. Grouping runs on integer codes of the ids (sorted like the ids themselves),
    which is many times faster than grouping on the text at a round's size.
    """
    weights = item_weights(rubric)
    low, high = rubric["scale"]["min"], rubric["scale"]["max"]
    weight = audits["item"].map(weights).astype("float64").to_numpy()
    scaled = (audits["score"].astype("float64").to_numpy() - low) / (high - low) * 100
    firm_codes, firms = pd.factorize(audits["firm_id"], sort=True)
    evaluator_codes, evaluators = pd.factorize(audits["evaluator_id"], sort=True)
    frame = pd.DataFrame(
        {
            "firm": firm_codes,
            "evaluator": evaluator_codes,
            "evaluator_role": audits["evaluator_role"].to_numpy(),
            "item": pd.factorize(audits["item"])[0],
            "weighted": scaled * weight,
            "weight": weight,
        }
    )
    out = (
        frame.groupby(["firm", "evaluator"], sort=True)
        .agg(
            evaluator_role=("evaluator_role", "first"),
            items_scored=("item", "nunique"),
            weighted=("weighted", "sum"),
            weight=("weight", "sum"),
        )
        .reset_index()
    )
    out.insert(0, "firm_id", firms.take(out.pop("firm").to_numpy()))
    out.insert(1, "evaluator_id", evaluators.take(out.pop("evaluator").to_numpy()))
    out["weighted_score"] = out.pop("weighted") / out.pop("weight")
    out["complete"] = out["items_scored"] == len(weights)
    return out


def firm_audit_summary(
    audits: pd.DataFrame, applicants: pd.Series, rubric: dict, per_evaluator: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per applicant: audit score (complete evaluators only), evaluator counts, item and role means, flags.

    ``per_evaluator`` is ``evaluator_scores(audits, rubric)`` when the caller has it already.
    """
    required = int(rubric.get("min_evaluators", 1))
    if per_evaluator is None and len(audits):
        per_evaluator = evaluator_scores(audits, rubric)
    per_evaluator = (
        per_evaluator
        if per_evaluator is not None
        else pd.DataFrame(
            columns=["firm_id", "evaluator_id", "evaluator_role", "items_scored", "weighted_score", "complete"]
        )
    )
    complete = per_evaluator[per_evaluator["complete"].astype(bool)]
    summary = pd.DataFrame({"firm_id": pd.unique(applicants)})
    counts = per_evaluator.groupby("firm_id").size()
    complete_counts = complete.groupby("firm_id").size()
    summary["evaluators"] = summary["firm_id"].map(counts).fillna(0).astype(int)
    summary["complete_evaluators"] = summary["firm_id"].map(complete_counts).fillna(0).astype(int)
    score = complete.groupby("firm_id")["weighted_score"].mean()
    enough = summary["complete_evaluators"] >= required
    summary["audit_score"] = summary["firm_id"].map(score).where(enough)
    summary["audit_score_spread"] = summary["firm_id"].map(complete.groupby("firm_id")["weighted_score"].std())
    summary["audit_flag"] = np.select(
        [
            summary["evaluators"] == 0,
            summary["complete_evaluators"] < required,
            summary["complete_evaluators"] < summary["evaluators"],
        ],
        ["no_audit", f"fewer_than_{required}_complete_evaluators", "incomplete_evaluator_excluded"],
        default="",
    )
    if len(audits):
        item_means = audits.pivot_table(index="firm_id", columns="item", values="score", aggfunc="mean")
        item_means.columns = [f"audit_item_{c}" for c in item_means.columns]
        role_means = complete.pivot_table(
            index="firm_id", columns="evaluator_role", values="weighted_score", aggfunc="mean"
        )
        role_means.columns = [f"audit_role_{c}" for c in role_means.columns]
        summary = summary.merge(item_means, left_on="firm_id", right_index=True, how="left")
        summary = summary.merge(role_means, left_on="firm_id", right_index=True, how="left")
    return summary


def icc_one_way(ratings: pd.DataFrame) -> dict:
    """ICC(1) and ICC(1,k) from a firm x rating table (one-way random effects, unbalanced allowed).

    ``ratings``: one row per firm, one column per rater, NaN where a rater did not rate the firm.
    Firms with fewer than two ratings are left out. Source: Shrout & Fleiss (1979), ICC(1) and
    ICC(1,k), with the unbalanced-design k0 of Donner (1986).
    """
    values = ratings.to_numpy(dtype="float64") if len(ratings) else np.empty((0, 0))
    rows, _ = np.nonzero(~np.isnan(values))
    return icc_long(rows, values[~np.isnan(values)])


def icc_long(firms: np.ndarray, scores: np.ndarray) -> dict:
    """``icc_one_way`` from long data: one rating per element, ``firms`` its firm's integer code.

    The same statistics without building the firm x rater table, which costs far more than the
    sums at a round's size. Ratings that are NaN are ignored.
    """
    firms = np.asarray(firms, dtype="int64")
    scores = np.asarray(scores, dtype="float64")
    present = ~np.isnan(scores)
    firms, scores = firms[present], scores[present]
    counts = np.bincount(firms) if len(firms) else np.zeros(0, dtype="int64")
    keep = counts >= 2
    if keep.sum() < 2:
        return {"icc1": float("nan"), "icc1k": float("nan"), "firms": int(keep.sum())}
    rated = keep[firms]
    firms, scores = np.unique(firms[rated], return_inverse=True)[1], scores[rated]
    counts = np.bincount(firms)
    means = np.bincount(firms, scores) / counts
    n_total = counts.sum()
    grand = scores.sum() / n_total
    a = len(counts)
    ms_between = float((counts * (means - grand) ** 2).sum() / (a - 1))
    ms_within = float(((scores - means[firms]) ** 2).sum() / (n_total - a))
    k0 = (n_total - (counts**2).sum() / n_total) / (a - 1)
    denominator = ms_between + (k0 - 1) * ms_within
    icc1 = (ms_between - ms_within) / denominator if denominator else float("nan")
    icc1k = (ms_between - ms_within) / ms_between if ms_between else float("nan")
    return {"icc1": float(icc1), "icc1k": float(icc1k), "firms": a, "mean_raters": float(n_total / a)}


def evaluator_effects(frame: pd.DataFrame, iterations: int = 50) -> pd.Series:
    """Evaluator effects from the additive model score = firm-item effect + evaluator effect.

    Fitted by alternating means (evaluators differ from firm to firm, so plain deviations from the
    other evaluators would blame the fair members of a panel for one lenient colleague). Effects are
    centred on the median evaluator, the panel's norm. Adds ``_firm_item_effect`` and ``_residual``
    columns to ``frame`` in place.
    """
    firm_codes, _ = pd.factorize(frame["firm_id"])
    item_codes, items = pd.factorize(frame["item"])
    firm_item, _ = pd.factorize(firm_codes * max(len(items), 1) + item_codes)
    evaluator, evaluators = pd.factorize(frame["evaluator_id"])
    score = frame["score"].to_numpy(dtype="float64")
    firm_item_count = np.bincount(firm_item)
    evaluator_count = np.bincount(evaluator)
    effect = np.zeros(len(evaluators))
    for _ in range(iterations):  # sums over integer codes: the same means as groupby, without its overhead
        firm_item_mean = np.bincount(firm_item, score - effect[evaluator]) / firm_item_count
        updated = np.bincount(evaluator, score - firm_item_mean[firm_item]) / evaluator_count
        updated = updated - np.median(updated)
        converged = np.allclose(updated, effect, atol=1e-10)
        effect = updated
        if converged:
            break
    firm_item_mean = np.bincount(firm_item, score - effect[evaluator]) / firm_item_count
    frame["_firm_item_effect"] = firm_item_mean[firm_item]
    frame["_residual"] = score - frame["_firm_item_effect"].to_numpy() - effect[evaluator]
    return pd.Series(effect, index=pd.Index(evaluators))


ASSESSMENT_KO = {
    "lenient": "관대",
    "severe": "엄격",
    "slightly lenient": "관대 경향 (편차가 기준 미만)",
    "slightly severe": "엄격 경향 (편차가 기준 미만)",
    "in line": "보통",
    "undetermined": "판정 불가 (채점 부족)",
}
FLAGGED = ("lenient", "severe")


def leniency_assessment(z: pd.Series, deviation: pd.Series, leniency_z: float, min_deviation: float) -> pd.Series:
    """Each evaluator's label, always on the side of its z-score.

    ``z``: the evaluator effect over its standard error; ``deviation``: the effect in scale points.
    Beyond ``leniency_z`` (params.yaml ``step1.leniency_z``) the label follows the sign of z:
    lenient above, severe below; it is flagged only when the effect is also at least
    ``min_deviation`` points (``step1.leniency_min_deviation``), otherwise it reads "slightly".
    Within the band it is "in line"; without a z (too few scores) "undetermined".
    """
    material = deviation.abs() >= min_deviation
    labels = np.select(
        [z.isna(), (z > leniency_z) & material, z > leniency_z, (z < -leniency_z) & material, z < -leniency_z],
        ["undetermined", "lenient", "slightly lenient", "severe", "slightly severe"],
        default="in line",
    )
    return pd.Series(labels, index=z.index)


def audit_quality(
    audits: pd.DataFrame,
    rubric: dict,
    leniency_z: float,
    min_deviation: float = 0.0,
    per_evaluator: pd.DataFrame | None = None,
) -> dict:
    """Evaluator leniency/severity and inter-rater agreement for one round.

    ``audits``: one row per firm, evaluator and rubric item (the audits contract). Pass
    ``per_evaluator`` (``evaluator_scores`` of the same audits) when it is already computed.
    Returns the per-evaluator table (records), ICC of the total score and ICC by item.
    """
    if audits.empty:
        return {"evaluators": [], "icc_total": icc_one_way(pd.DataFrame()), "icc_by_item": {}}
    frame = audits.copy()
    frame["score"] = frame["score"].astype("float64")
    effect = evaluator_effects(frame)
    frame["deviation"] = frame["score"] - frame["_firm_item_effect"]
    per = (
        frame.groupby(["evaluator_id", "evaluator_role"])
        .agg(
            scores=("score", "size"),
            firms=("firm_id", "nunique"),
            mean_score=("score", "mean"),
            residual_sd=("_residual", "std"),
        )
        .reset_index()
    )
    per["mean_deviation"] = per["evaluator_id"].map(effect)
    standard_error = per["residual_sd"] / np.sqrt(per["scores"].clip(lower=1))
    per["leniency_z"] = (per["mean_deviation"] / standard_error).replace([np.inf, -np.inf], np.nan)
    per["assessment"] = leniency_assessment(per["leniency_z"], per["mean_deviation"], leniency_z, min_deviation)
    totals = evaluator_scores(audits, rubric) if per_evaluator is None else per_evaluator
    firm_codes = pd.factorize(frame["firm_id"])[0]
    item_codes, items = pd.factorize(frame["item"], sort=True)
    score = frame["score"].to_numpy()
    by_item = {item: icc_long(firm_codes[item_codes == k], score[item_codes == k]) for k, item in enumerate(items)}
    return {
        "evaluators": per.round(4).to_dict("records"),
        "icc_total": icc_long(pd.factorize(totals["firm_id"])[0], totals["weighted_score"].to_numpy()),
        "icc_by_item": by_item,
        "flagged_evaluators": per.loc[per["assessment"].isin(FLAGGED), "evaluator_id"].tolist(),
    }


@dataclass(frozen=True)
class ScoredAudits:
    """The field audit of one round, scored: what STEP 1's rules read, and the panel's quality.

    ``summary``: one row per applicant (``firm_audit_summary``); ``quality``: ``audit_quality``'s
    record; ``per_evaluator``: one row per firm and evaluator (None without audit rows).
    """

    summary: pd.DataFrame
    quality: dict
    per_evaluator: pd.DataFrame | None


def score_audits(
    audits: pd.DataFrame | None, applicants: pd.Series, rubric: dict, leniency_z: float, min_deviation: float
) -> ScoredAudits:
    """Score a round's field audit once: per evaluator, per applicant, and the panel's quality.

    ``audits``: the ingested audits table (one row per firm, evaluator and item) or None;
    ``applicants``: the round's firm ids. ``leniency_z`` and ``min_deviation`` are
    ``params.yaml`` ``step1.leniency_z`` and ``step1.leniency_min_deviation``.
    """
    audits = audits if audits is not None else pd.DataFrame(columns=AUDIT_COLUMNS)
    per_evaluator = evaluator_scores(audits, rubric) if len(audits) else None
    return ScoredAudits(
        firm_audit_summary(audits, applicants, rubric, per_evaluator),
        audit_quality(audits, rubric, leniency_z, min_deviation, per_evaluator),
        per_evaluator,
    )
