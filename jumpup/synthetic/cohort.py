"""Synthetic inputs after STEP 1: STEP 2 evaluations, the evaluator registry, progress-review inputs
and the statements of the first program year, for every applicant of a synthetic round.

The same latent firm quality that drives the round's growth and audit scores drives the STEP 2
members' votes, milestones met, voucher spending and next year's growth, so the selection and the
review have something real to find. Members are independent voters around a firm-level
impression, so some committees split; investor members are drawn from the same investor names
that recommend firms, so some are conflicts of interest, as in a real round. Written for every
applicant: STEP 2 keeps the rows of firms that passed STEP 1 (the rest are quarantined as
``not_passed_step1``), the review keeps those of the selected cohort.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from jumpup.intake.step2_contracts import STEP2_ITEMS, STEP2_ROLES
from jumpup.reference import audit_rubric
from jumpup.settings import ReviewSettings, SynthSettings
from jumpup.synthetic.generator import _INVESTOR_NAMES, SyntheticData, _t_shocks, write_csv

MEMBERS_PER_ROLE = 6  # committee pool per member kind
_UNIVERSITIES = np.array(
    ["한국과학기술원", "서울공대", "포항공대", "한국기계연구원", "전자통신연구원", "생명공학연구원"]
)
_COMPANIES = np.array(["대한중공업", "한울전자", "세계화학", "동방자동차", "미래통신", "한누리바이오"])
_FOUNDERS = np.array(["벤처창업가협회", "스타트업얼라이언스", "한빛랩스", "누리소프트", "가온로보틱스", "새솔에너지"])
_AGENCY = "중소벤처기업진흥공단"


@dataclass(frozen=True)
class CohortInputs:
    """What the synthetic program produces after STEP 1 (see the module docstring)."""

    evaluators: pd.DataFrame
    step2_evaluations: pd.DataFrame
    review_inputs: pd.DataFrame
    statements_firms: pd.DataFrame
    statements_financials: pd.DataFrame


def _registry(seed: np.random.SeedSequence, audit_pool: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rubric_roles = list(audit_rubric()["roles"])
    audit_roles = np.array(rubric_roles)[np.arange(audit_pool) % len(rubric_roles)]
    audit_affiliation = np.where(
        audit_roles == "technology_expert",
        _UNIVERSITIES[rng.integers(0, len(_UNIVERSITIES), audit_pool)],
        np.where(
            audit_roles == "growth_expert", _INVESTOR_NAMES[rng.integers(0, len(_INVESTOR_NAMES), audit_pool)], _AGENCY
        ),
    )
    audit = pd.DataFrame(
        {
            "evaluator_id": np.char.add("E", np.char.zfill(np.arange(1, audit_pool + 1).astype(str), 3)),
            "evaluator_role": audit_roles,
            "affiliation": audit_affiliation,
        }
    )
    pools = {
        "technology_expert": _UNIVERSITIES,
        "investor": _INVESTOR_NAMES,
        "industry_executive": _COMPANIES,
        "founder": _FOUNDERS,
    }
    rows = []
    for r, (role, names) in enumerate(pools.items()):
        for k in range(MEMBERS_PER_ROLE):
            rows.append(
                {
                    "evaluator_id": f"C{r + 1}{k + 1:02d}",
                    "evaluator_role": role,
                    "affiliation": names[rng.integers(0, len(names))],
                }
            )
    return pd.concat([audit, pd.DataFrame(rows)], ignore_index=True)


def _evaluations(
    seed: np.random.SeedSequence, data: SyntheticData, quality: np.ndarray, registry: pd.DataFrame, score_range
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    applicants = data.applications["firm_id"].to_numpy()
    firm_q = pd.Series(quality, index=data.round_firms["firm_id"]).reindex(applicants).to_numpy()
    division = data.round_firms.set_index("firm_id")["ksic_division"].reindex(applicants).to_numpy()
    # One committee per industry: its members are the same for every firm of the division.
    codes = pd.factorize(division, sort=True)[0]
    impression = firm_q + 0.8 * rng.standard_normal(len(applicants))
    members = registry[registry["evaluator_id"].str.startswith("C")]
    low, high = score_range
    frames = []
    for role in STEP2_ROLES:
        pool = members.loc[members["evaluator_role"] == role, "evaluator_id"].to_numpy()
        member = pool[codes % len(pool)]
        view = impression + 0.25 * rng.standard_normal(len(applicants))
        vote = np.where(view > 0.3, "select", "reject")
        for item in STEP2_ITEMS:
            score = np.clip(np.round(3.2 + 0.8 * view + 0.4 * rng.standard_normal(len(applicants))), low, high)
            frames.append(
                pd.DataFrame(
                    {
                        "firm_id": applicants,
                        "evaluator_id": member,
                        "evaluator_role": role,
                        "item": item,
                        "score": score.astype(np.int64),
                        "vote": vote,
                    }
                )
            )
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["firm_id", "evaluator_id", "item"], kind="stable").reset_index(drop=True)


def _next_year(
    seed: np.random.SeedSequence, settings: SynthSettings, data: SyntheticData, quality: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Statements of the first program year: last year's firm continued one step, some firms gone."""
    rng = np.random.default_rng(seed)
    last = settings.last_fiscal_year
    fin = data.round_financials
    applicants = data.applications["firm_id"].to_numpy()
    latest = fin[fin["fiscal_year"] == last].set_index("firm_id").reindex(applicants)
    before = fin[fin["fiscal_year"] == last - 2].set_index("firm_id")["revenue"].reindex(applicants)
    q = pd.Series(quality, index=data.round_firms["firm_id"]).reindex(applicants).to_numpy()
    revenue = latest["revenue"].astype("float64").to_numpy()
    past = np.log(revenue / before.astype("float64").to_numpy()) / 2
    persistent = settings.growth_firm_mean + settings.growth_firm_sd * settings.growth_quality_weight * q
    growth = 0.5 * np.nan_to_num(past) + 0.5 * persistent
    growth += settings.growth_shock_sd * _t_shocks(rng, (len(applicants),), settings.growth_shock_df)
    new_revenue = revenue * np.exp(growth)
    ratio = new_revenue / revenue

    def scaled(column: str, noise: float) -> np.ndarray:
        values = latest[column].astype("float64").to_numpy()
        return values * ratio * np.exp(noise * rng.standard_normal(len(applicants)))

    margin = latest["operating_income"].astype("float64").to_numpy() / revenue
    margin = np.clip(margin + 0.15 * (growth - persistent) + 0.04 * rng.standard_normal(len(applicants)), -1.5, 0.6)
    operating_income = margin * new_revenue
    pretax = operating_income + new_revenue * 0.03 * rng.standard_normal(len(applicants))
    net_income = np.where(pretax > 0, pretax * 0.8, pretax)
    total_assets = scaled("total_assets", 0.05)
    last_equity = latest["total_equity"].astype("float64").to_numpy()
    last_ratio = last_equity / latest["total_assets"].astype("float64").to_numpy()
    total_equity = total_assets * np.clip(last_ratio + net_income / total_assets, -0.5, 0.98)
    employees = latest["employees"].astype("float64").to_numpy() * np.exp(0.7 * growth)
    equity_ratio = total_equity / total_assets
    distress = (equity_ratio < settings.distress_equity_ratio) & (net_income < 0)
    files = (rng.random(len(applicants)) > settings.exit_base_hazard * 2) & np.isfinite(new_revenue)

    def won(values: np.ndarray) -> pd.array:
        return pd.array(np.round(np.nan_to_num(values) / 1000).astype(np.int64) * 1000, dtype="Int64")

    financials = pd.DataFrame(
        {
            "firm_id": applicants,
            "fiscal_year": last + 1,
            "revenue": won(new_revenue),
            "operating_income": won(operating_income),
            "net_income": won(net_income),
            "pretax_income": won(pretax),
            "operating_cash_flow": won(operating_income + new_revenue * 0.02),
            "total_assets": won(total_assets),
            "total_equity": won(total_equity),
            "total_liabilities": None,
            "employees": pd.array(
                np.where(np.isfinite(employees), np.round(np.maximum(employees, 1)), np.nan), dtype="Int64"
            ),
            "rd_expense": won(scaled("rd_expense", 0.1)),
            "export_revenue": won(np.minimum(scaled("export_revenue", 0.1), new_revenue)),
            "investment_raised": won(
                np.where(rng.random(len(applicants)) < 0.1 * np.exp(0.5 * q), new_revenue * 0.3, 0)
            ),
            "personnel_expense": won(scaled("personnel_expense", 0.05)),
            "patents_granted": rng.poisson(0.6 * np.nan_to_num(scaled("rd_expense", 0.1)) / 1e9).astype(np.int64),
            "certifications": latest["certifications"].to_numpy(),
            "patent_disclosed": 0,
            "lawsuit_disclosed": (rng.random(len(applicants)) < 0.03).astype(np.int64),
            "administrative_issue": distress.astype(np.int64),
        }
    )
    financials["total_liabilities"] = financials["total_assets"] - financials["total_equity"]
    financials = financials[files].reset_index(drop=True)
    firms = data.round_firms[data.round_firms["firm_id"].isin(applicants)].reset_index(drop=True)
    return firms, financials


def _review_inputs(
    seed: np.random.SeedSequence, data: SyntheticData, quality: np.ndarray, year: int, review: ReviewSettings
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    applicants = data.applications["firm_id"].to_numpy()
    q = pd.Series(quality, index=data.round_firms["firm_id"]).reindex(applicants).to_numpy()
    planned = rng.integers(4, 9, size=len(applicants))
    met = rng.binomial(planned, 1 / (1 + np.exp(-(0.8 + 1.2 * q))))
    granted = np.full(len(applicants), review.voucher_per_year_won)
    spent = np.round(granted * rng.beta(2 + 2 * np.exp(0.5 * q), 1.5) / 1000) * 1000
    return pd.DataFrame(
        {
            "firm_id": applicants,
            "fiscal_year": year,
            "milestones_planned": planned,
            "milestones_met": met,
            "voucher_granted": granted.astype(np.int64),
            "voucher_spent": spent.astype(np.int64),
        }
    )


def generate_cohort_inputs(
    data: SyntheticData, settings: SynthSettings, review: ReviewSettings, seed: int, score_range=(1, 5)
) -> CohortInputs:
    """STEP 2 and first-year review inputs for every applicant of ``data`` (same seed, same tables)."""
    if data.round_quality is None:
        raise ValueError("the synthetic round carries no latent quality; generate it with jumpup.synthetic.generator")
    registry_seq, step2_seq, next_seq, review_seq = np.random.SeedSequence([seed, 2]).spawn(4)
    registry = _registry(registry_seq, settings.audit_evaluator_pool)
    evaluations = _evaluations(step2_seq, data, data.round_quality, registry, score_range)
    firms, financials = _next_year(next_seq, settings, data, data.round_quality)
    inputs = _review_inputs(review_seq, data, data.round_quality, settings.last_fiscal_year + 1, review)
    return CohortInputs(registry, evaluations, inputs, firms, financials)


def write_cohort_inputs(inputs: CohortInputs, out_dir: Path) -> dict[str, Path]:
    """Write ``step2/`` (evaluators, evaluations) and ``review/`` (review_inputs, statements/)."""
    out_dir = Path(out_dir)
    outputs = {
        "step2/evaluators": inputs.evaluators,
        "step2/evaluations": inputs.step2_evaluations,
        "review/review_inputs": inputs.review_inputs,
        "review/statements/firms": inputs.statements_firms,
        "review/statements/financials": inputs.statements_financials,
    }
    paths = {}
    for name, frame in outputs.items():
        path = out_dir / f"{name}.csv"
        write_csv(frame, path)
        paths[name] = path
    return paths
