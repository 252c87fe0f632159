"""A synthetic audited-firm panel in the TS-2000 import's format, for tests and benchmarks.

Each firm has a latent financial health that follows an AR(1) path; margins, cash flow, interest
coverage and the audit opinion are noisy functions of it, so crisis signs (coverage below 1 for
years, disclaimers) arise from the same health the indicators show. Columns follow
``jumpup import ts2000`` (amounts in won; ``no_interest_expense`` = 1 with an empty coverage).
Made up entirely; the figures resemble nothing real beyond their units.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

GROUPS = ("금속가공_전자부품", "도매", "소매_음식점", "종합건설", "출판_정보서비스", "화학_1차금속", "의료_기타기계")
REGIONS = (
    "서울",
    "경기",
    "부산",
    "대구",
    "인천",
    "광주",
    "대전",
    "울산",
    "세종",
    "강원",
    "충북",
    "충남",
    "전북",
    "전남",
)
OPINIONS_BAD = ("QS", "QU", "DS", "DU", "AG")


def crisis_panel(
    firms: int, years: int, last_year: int = 2023, seed: int = 0, rare_groups: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(firms, financials) for ``firms`` × ``years`` firm-years ending at ``last_year``.

    Firms enter in their first year and some leave early (a firm in deep trouble stops filing
    more often). With ``rare_groups`` one region holds fewer than five firms, so that report
    pooling of small groups is exercised.
    """
    rng = np.random.default_rng(seed)
    ids = np.array([f"S{i:07d}" for i in range(firms)])
    group = rng.choice(len(GROUPS), firms)
    region_weights = np.linspace(3.0, 0.5, len(REGIONS))
    region = rng.choice(len(REGIONS), firms, p=region_weights / region_weights.sum())
    if rare_groups and firms >= 20:
        region[region == len(REGIONS) - 1] = 0
        region[: min(3, firms)] = len(REGIONS) - 1
    firm_table = pd.DataFrame(
        {
            "firm_id": ids,
            "name": [f"합성기업{i}" for i in range(firms)],
            "industry_group": np.array(GROUPS, dtype=object)[group],
            "region": np.array(REGIONS, dtype=object)[region],
            "fiscal_year_end_month": np.where(rng.random(firms) < 0.05, 3, 12),
        }
    )
    first_year = last_year - years + 1
    health = rng.normal(0.0, 1.0, firms) + 0.3 * (group % 3 - 1)
    log_revenue = rng.normal(23.5, 1.0, firms)
    debt_ratio = rng.uniform(0.0, 0.08, firms)
    alive = np.ones(firms, dtype=bool)
    frames = []
    for year in range(first_year, last_year + 1):
        health = 0.8 * health + rng.normal(0.0, 0.6, firms)
        log_revenue = log_revenue + 0.03 + 0.05 * health + rng.normal(0.0, 0.12, firms)
        revenue = np.exp(log_revenue)
        margin = 0.04 + 0.05 * health + rng.normal(0.0, 0.03, firms)
        operating_income = revenue * margin
        gross = revenue * np.clip(0.25 + 0.5 * margin + rng.normal(0, 0.03, firms), 0.01, 0.95)
        interest = revenue * debt_ratio * np.clip(1.0 - 0.3 * health, 0.2, 3.0)
        no_interest = interest < revenue * 0.004
        coverage = np.where(no_interest, np.nan, operating_income / np.maximum(interest, 1.0))
        p_bad = 1.0 / (1.0 + np.exp(3.5 + 1.6 * health))
        bad = rng.random(firms) < p_bad
        opinion = np.where(bad, np.array(OPINIONS_BAD, dtype=object)[rng.integers(0, len(OPINIONS_BAD), firms)], "UQ")
        opinion = np.where(rng.random(firms) < 0.08, None, opinion)
        frames.append(
            pd.DataFrame(
                {
                    "firm_id": ids,
                    "fiscal_year": year,
                    "fiscal_year_end_month": firm_table["fiscal_year_end_month"].to_numpy(),
                    "fiscal_months": 12,
                    "accounting_basis": "kgaap",
                    "revenue": np.round(revenue, -3),
                    "cost_of_sales": np.round(revenue - gross, -3),
                    "gross_profit": np.round(gross, -3),
                    "sga_expense": np.round(gross - operating_income, -3),
                    "operating_income": np.round(operating_income, -3),
                    "pretax_income": np.round(operating_income - interest, -3),
                    "income_tax": np.round(np.maximum(operating_income - interest, 0) * 0.2, -3),
                    "net_income": np.round((operating_income - interest) * 0.8, -3),
                    "operating_cash_flow": np.round(operating_income + revenue * rng.normal(0.02, 0.05, firms), -3),
                    "audit_opinion": opinion,
                    "audit_opinion_clean": np.where(opinion == "UQ", 1.0, np.where(pd.isna(opinion), np.nan, 0.0)),
                    "interest_coverage": np.round(coverage, 2),
                    "no_interest_expense": no_interest.astype(float),
                    "interest_coverage_net_finance": np.round(coverage * 1.2, 2),
                    "_alive": alive.copy(),
                }
            )
        )
        leave = rng.random(firms) < np.where(health < -1.5, 0.08, 0.02)
        alive = alive & ~leave
    financials = pd.concat(frames, ignore_index=True)
    financials = financials[financials.pop("_alive")].sort_values(["firm_id", "fiscal_year"]).reset_index(drop=True)
    return firm_table, financials
