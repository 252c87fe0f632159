"""Growth stages of regional SMEs (성장단계): 잠재 (potential) → 예비 (preliminary) → 선도 (leading).

Rules come from the versioned table ``growth_stages`` in ``data/reference/`` (catalog: source and
validity dates); each row is one condition ``indicator operator threshold`` of a stage, and a
stage holds when all its conditions hold. A firm gets the highest stage that holds. A condition
whose indicator cannot be computed (its panel input is absent or blank) is undecided: a higher
stage that is undecided is not given, ``stage_complete`` is False and ``missing_inputs`` names the
panel inputs that would decide it. Indicators, per firm-year t (years <= t only):

- ``revenue_cagr_3y``: (revenue_t / revenue_{t-3})^(1/3) - 1 (positive base only);
- ``employment_cagr_3y``: the same on ``employees``;
- ``rd_intensity``: ``rd_expense`` / revenue.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from jumpup.features.ratios import lag, safe_ratio, sort_panel
from jumpup.reference import table_version

INDICATOR_INPUTS = {"revenue_cagr_3y": "revenue", "employment_cagr_3y": "employees", "rd_intensity": "rd_expense"}
OPERATORS = {">=": np.greater_equal, ">": np.greater, "<=": np.less_equal, "<": np.less}
NO_STAGE, NO_STAGE_KO = "none", "해당없음"


def stage_rules(on: dt.date | None = None) -> tuple[pd.DataFrame, str]:
    """(rules, version) of the growth-stage table valid on ``on`` (default: newest).

    Errors: ``ValueError`` naming the file, row and column for an unknown indicator or operator.
    """
    version = table_version("growth_stages", on)
    rules = pd.read_csv(version.path, dtype={"stage": str, "stage_ko": str, "operator": str, "indicator": str})
    for i, row in rules.iterrows():
        if row["indicator"] not in INDICATOR_INPUTS:
            raise ValueError(f"{version.path}: row {i + 2}, column indicator, value {row['indicator']!r} is not known")
        if row["operator"] not in OPERATORS:
            raise ValueError(f"{version.path}: row {i + 2}, column operator, value {row['operator']!r} is not known")
    return rules, version.version


def stage_indicators(rows: pd.DataFrame) -> pd.DataFrame:
    """``INDICATOR_INPUTS`` indicators per firm-year (NaN where an input is absent or blank)."""
    panel = sort_panel(rows)
    values = {
        c: pd.to_numeric(panel[c], errors="coerce").astype("float64")
        if c in panel
        else pd.Series(np.nan, index=panel.index)
        for c in ("revenue", "employees", "rd_expense")
    }
    prior = lag(panel[["firm_id", "fiscal_year"]].assign(**values), ["revenue", "employees"], 3)
    out = panel[["firm_id", "fiscal_year"]].reset_index(drop=True)
    for name, column in (("revenue_cagr_3y", "revenue"), ("employment_cagr_3y", "employees")):
        base = safe_ratio(values[column], prior[column])
        out[name] = (np.power(base.where(base > 0), 1 / 3) - 1).to_numpy()
    out["rd_intensity"] = safe_ratio(values["rd_expense"], values["revenue"]).to_numpy()
    return out


def growth_stages(rows: pd.DataFrame, rules: pd.DataFrame) -> pd.DataFrame:
    """Per firm-year: ``growth_stage``, ``growth_stage_ko``, ``stage_complete``, ``missing_inputs``.

    Shapes: in, panel rows (firm_id, fiscal_year, revenue and any of employees, rd_expense) and the
    rule table of ``stage_rules``; out, one row per firm-year sorted by firm and year.
    """
    table = stage_indicators(rows)
    n = len(table)
    stage = np.full(n, NO_STAGE, dtype=object)
    stage_ko = np.full(n, NO_STAGE_KO, dtype=object)
    decided = np.zeros(n, dtype=bool)  # a stage (or a higher undecided one) has been settled
    complete = np.ones(n, dtype=bool)
    missing: list[set[str]] = [set() for _ in range(n)]
    for _, group in sorted(rules.groupby("rank"), key=lambda item: -item[0]):
        holds = np.ones(n, dtype=bool)
        unknown = np.zeros(n, dtype=bool)
        fails = np.zeros(n, dtype=bool)
        lacking: list[tuple[np.ndarray, str]] = []
        for _, rule in group.iterrows():
            value = table[rule["indicator"]].to_numpy()
            known = ~np.isnan(value)
            ok = known & OPERATORS[rule["operator"]](np.where(known, value, 0.0), float(rule["threshold"]))
            fails |= known & ~ok
            unknown |= ~known
            lacking.append((~known, INDICATOR_INPUTS[rule["indicator"]]))
            holds &= ok
        take = holds & ~decided
        stage[take], stage_ko[take] = group["stage"].iloc[0], group["stage_ko"].iloc[0]
        undecided = unknown & ~fails & ~decided
        complete &= ~undecided
        for absent, name in lacking:
            for i in np.flatnonzero(absent & undecided):
                missing[i].add(name)
        decided |= take
    return pd.DataFrame(
        {
            "firm_id": table["firm_id"].to_numpy(),
            "fiscal_year": table["fiscal_year"].to_numpy(),
            "growth_stage": stage,
            "growth_stage_ko": stage_ko,
            "stage_complete": complete,
            "missing_inputs": [";".join(sorted(m)) if not c else "" for m, c in zip(missing, complete, strict=True)],
        }
    )
