"""The indicator registry: one documented entry per indicator, read by code, docs and reports.

K-value groups its indicators into six families; so does this registry. Each entry says what the
indicator is in Korean and English, its formula, unit, which way is better, which fixed
winsorising limit applies, and what happens when an input is missing. ``docs/indicators.md`` is
generated from it (``python -m jumpup.features.registry``) and a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

FAMILIES: dict[str, dict[str, str]] = {
    "management": {"ko": "경영성과", "en": "management performance"},
    "technology": {"ko": "기술성", "en": "technology"},
    "activity": {"ko": "활동성", "en": "activity"},
    "human": {"ko": "인적효율성", "en": "human efficiency"},
    "industry": {"ko": "산업안정성", "en": "industry stability"},
    "peer": {"ko": "유사그룹대조", "en": "similar-group comparison"},
}


@dataclass(frozen=True)
class Indicator:
    """One indicator: identity, meaning, formula and the rules for edge cases."""

    name: str
    family: str
    ko: str
    en: str
    formula: str
    unit: str
    direction: int  # +1 higher is better, -1 lower is better, 0 context only (not scored)
    winsor: str | None  # key of params.yaml features.winsor, None when the value is bounded already
    missing: str

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"indicator {self.name}: unknown family {self.family!r}")
        if self.direction not in (-1, 0, 1):
            raise ValueError(f"indicator {self.name}: direction must be -1, 0 or 1, got {self.direction}")


_GROWTH_MISSING = "missing when the earlier year is absent or its base is zero or negative"
_PER_EMPLOYEE_MISSING = "missing when headcount is absent or zero"

INDICATORS: tuple[Indicator, ...] = (
    # 경영성과
    Indicator(
        "revenue_growth_1y",
        "management",
        "매출액증가율",
        "revenue growth (1 year)",
        "revenue_t / revenue_(t-1) - 1",
        "ratio",
        1,
        "growth",
        _GROWTH_MISSING,
    ),
    Indicator(
        "revenue_cagr_3y",
        "management",
        "매출액 3년 연평균증가율",
        "revenue CAGR (3 years)",
        "(revenue_t / revenue_(t-3))^(1/3) - 1",
        "ratio",
        1,
        "growth",
        _GROWTH_MISSING,
    ),
    Indicator(
        "operating_margin",
        "management",
        "매출액영업이익률",
        "operating margin",
        "operating_income / revenue",
        "ratio",
        1,
        "margin",
        "missing when operating income is absent or revenue is zero",
    ),
    Indicator(
        "net_margin",
        "management",
        "매출액순이익률",
        "net margin",
        "net_income / revenue",
        "ratio",
        1,
        "margin",
        "missing when net income is absent or revenue is zero",
    ),
    Indicator(
        "roa",
        "management",
        "총자산순이익률",
        "return on assets",
        "net_income / average(total_assets_t, total_assets_(t-1))",
        "ratio",
        1,
        "return_on_balance",
        "year-end assets when the prior year is absent; missing when assets are absent or zero",
    ),
    Indicator(
        "roe",
        "management",
        "자기자본순이익률",
        "return on equity",
        "net_income / average(total_equity_t, total_equity_(t-1))",
        "ratio",
        1,
        "return_on_balance",
        "missing when equity is zero or negative this year or last (capital impairment, or a sign change with no "
        "meaningful average; see negative_equity)",
    ),
    Indicator(
        "operating_income_growth",
        "management",
        "영업이익증가율",
        "operating income growth",
        "(operating_income_t - operating_income_(t-1)) / |operating_income_(t-1)|",
        "ratio",
        1,
        "growth",
        "missing when the prior operating income is absent or zero",
    ),
    Indicator(
        "cash_flow_margin",
        "management",
        "매출액 대비 영업현금흐름",
        "operating cash-flow margin",
        "operating_cash_flow / revenue",
        "ratio",
        1,
        "margin",
        "missing when cash flow is absent",
    ),
    Indicator(
        "asset_growth_1y",
        "management",
        "총자산증가율",
        "total asset growth",
        "total_assets_t / total_assets_(t-1) - 1",
        "ratio",
        1,
        "growth",
        _GROWTH_MISSING,
    ),
    Indicator(
        "equity_ratio",
        "management",
        "자기자본비율",
        "equity ratio",
        "total_equity / total_assets",
        "ratio",
        1,
        "margin",
        "missing when equity or assets are absent or assets are zero; negative under capital impairment",
    ),
    Indicator(
        "negative_equity",
        "management",
        "자본잠식 여부",
        "negative equity flag",
        "1 if total_equity_t < 0 else 0",
        "0/1",
        -1,
        None,
        "missing when equity is absent",
    ),
    # Risk signals of audited firms (TS-2000 감사의견코드, 이자보상배율), features/real_items.py
    Indicator(
        "audit_opinion_not_clean",
        "management",
        "비적정 감사의견",
        "non-clean audit opinion",
        "1 if the audit opinion of year t is not unqualified (UQ, 적정) else 0",
        "0/1",
        -1,
        None,
        "missing when the audit opinion is not reported (panels without TS-2000 audit data)",
    ),
    Indicator(
        "interest_coverage_below_1",
        "management",
        "이자보상배율 1 미만",
        "interest coverage below 1",
        "1 if operating income / interest expense < 1 in year t; 0 with no interest expense",
        "0/1",
        -1,
        None,
        "missing when interest coverage is not reported",
    ),
    Indicator(
        "years_interest_coverage_below_1",
        "management",
        "이자보상배율 1 미만 연속 연수",
        "consecutive years of interest coverage below 1",
        "run of consecutive fiscal years ending at t with coverage < 1",
        "years",
        0,
        None,
        "missing when coverage of year t is not reported; a missing year ends the run",
    ),
    Indicator(
        "marginal_firm",
        "management",
        "한계기업",
        "marginal firm (zombie firm)",
        "1 if interest coverage < 1 in each of features.marginal_firm_years consecutive years ending at t "
        "(Bank of Korea uses 3)",
        "0/1",
        -1,
        None,
        "missing when coverage of year t is not reported",
    ),
    # 기술성
    Indicator(
        "rd_intensity",
        "technology",
        "매출액 대비 연구개발비",
        "R&D intensity",
        "rd_expense / revenue",
        "ratio",
        1,
        "intensity",
        "missing when R&D expense is not reported",
    ),
    Indicator(
        "rd_growth",
        "technology",
        "연구개발비증가율",
        "R&D growth",
        "rd_expense_t / rd_expense_(t-1) - 1",
        "ratio",
        1,
        "growth",
        _GROWTH_MISSING,
    ),
    Indicator(
        "patents_granted_3y",
        "technology",
        "최근 3년 등록특허 수",
        "patents granted (3 years)",
        "sum of patents_granted over t-2..t (years reported)",
        "count",
        1,
        "count",
        "missing when no year in t-2..t reports patents",
    ),
    Indicator(
        "patent_disclosed",
        "technology",
        "특허 취득 공시",
        "patent acquisition disclosed",
        "patent_disclosed_t",
        "0/1",
        1,
        None,
        "missing when not reported",
    ),
    Indicator(
        "certification_count",
        "technology",
        "기업 인증 수",
        "certifications held",
        "number of certifications (venture, Inno-Biz, Main-Biz, …) held in year t",
        "count",
        1,
        "count",
        "missing when certifications are not reported; 'none' counts as 0",
    ),
    Indicator(
        "intangible_investment_intensity",
        "technology",
        "매출액 대비 무형자산투자",
        "intangible investment intensity",
        "capex_intangible / revenue (FnGuide 무형자산의증가)",
        "ratio",
        1,
        "intensity",
        "missing when the increase of intangible assets is not reported",
    ),
    Indicator(
        "intangible_asset_share_growth",
        "technology",
        "매출액 대비 무형자산 비중 변화",
        "change in intangible assets to revenue",
        "intangible_assets_t / revenue_t - intangible_assets_(t-1) / revenue_(t-1)",
        "ratio",
        1,
        "return_on_balance",
        "missing when intangible assets or revenue of t or t-1 are absent",
    ),
    # 활동성
    Indicator(
        "asset_turnover",
        "activity",
        "총자산회전율",
        "asset turnover",
        "revenue / average(total_assets_t, total_assets_(t-1))",
        "times",
        1,
        "turnover",
        "year-end assets when the prior year is absent; missing when assets are absent or zero",
    ),
    Indicator(
        "equity_turnover",
        "activity",
        "자기자본회전율",
        "equity turnover",
        "revenue / average(total_equity_t, total_equity_(t-1))",
        "times",
        1,
        "turnover",
        "missing when average equity is zero or negative",
    ),
    Indicator(
        "hiring_growth",
        "activity",
        "종업원증가율 (연율)",
        "hiring growth (annualised)",
        "(employees_t / employees_s)^(1/(t-s)) - 1, s = latest earlier year with a headcount, t-s <= gap",
        "ratio",
        1,
        "growth",
        "missing when no headcount at t or within the allowed gap before it",
    ),
    Indicator(
        "wage_growth",
        "activity",
        "1인당 인건비 증가율",
        "wage growth",
        "(personnel_expense/employees)_t / (personnel_expense/employees)_(t-1) - 1",
        "ratio",
        1,
        "growth",
        "missing when either year lacks personnel expense or headcount",
    ),
    # 인적효율성
    Indicator(
        "revenue_per_employee",
        "human",
        "1인당 매출액",
        "revenue per employee",
        "revenue / employees",
        "won",
        1,
        "per_employee_won",
        _PER_EMPLOYEE_MISSING,
    ),
    Indicator(
        "value_added_per_employee",
        "human",
        "1인당 부가가치",
        "value added per employee",
        "(operating_income + personnel_expense) / employees (BOK value added less depreciation, "
        "financial costs and taxes, which panels rarely carry)",
        "won",
        1,
        "per_employee_won",
        "missing when operating income, personnel expense or headcount is absent",
    ),
    Indicator(
        "personnel_cost_per_employee",
        "human",
        "1인당 인건비",
        "personnel cost per employee",
        "personnel_expense / employees",
        "won",
        1,
        "per_employee_won",
        "missing when personnel expense or headcount is absent",
    ),
    Indicator(
        "value_added_per_employee_reported",
        "human",
        "1인당 부가가치 (공시)",
        "value added per employee (as reported)",
        "value_added / employees (TS-2000 부가가치, 종업원수)",
        "won",
        1,
        "per_employee_won",
        "missing when reported value added or headcount is absent",
    ),
    Indicator(
        "payroll_per_employee",
        "human",
        "1인당 급여",
        "pay per employee",
        "payroll / employees (DART 직원현황)",
        "won",
        1,
        "per_employee_won",
        "missing when payroll or headcount is absent",
    ),
    Indicator(
        "sga_personnel_cost_per_employee",
        "human",
        "1인당 판관비 인건비",
        "SG&A personnel cost per employee",
        "personnel_expense_sga / employees (FnGuide 인건비, SG&A staff only; never mixed with a full personnel cost)",
        "won",
        1,
        "per_employee_won",
        "missing when SG&A personnel cost or headcount is absent",
    ),
    Indicator(
        "payroll_growth",
        "human",
        "급여총액 증가율",
        "payroll growth",
        "payroll_t / payroll_(t-1) - 1",
        "ratio",
        1,
        "growth",
        _GROWTH_MISSING,
    ),
    Indicator(
        "headcount_growth_1y",
        "human",
        "종업원수 증가율",
        "headcount growth (1 year)",
        "employees_t / employees_(t-1) - 1",
        "ratio",
        1,
        "growth",
        _GROWTH_MISSING,
    ),
    # 산업안정성 (from the reference population, per KSIC division and year)
    Indicator(
        "industry_revenue_growth",
        "industry",
        "산업 매출성장률",
        "industry revenue growth",
        "median revenue_growth_1y of the division's reference firms in year t",
        "ratio",
        1,
        None,
        "missing when the division has no reference firm with growth in year t",
    ),
    Indicator(
        "industry_growth_dispersion",
        "industry",
        "산업 성장률 분산",
        "industry growth dispersion",
        "interquartile range of revenue_growth_1y in the division, year t",
        "ratio",
        -1,
        None,
        "missing with fewer than 4 firms",
    ),
    Indicator(
        "industry_growth_volatility",
        "industry",
        "산업 성장률 변동성",
        "industry growth volatility",
        "standard deviation of the division's yearly median growth over recent years",
        "ratio",
        -1,
        None,
        "missing with fewer than the minimum number of years",
    ),
    Indicator(
        "industry_loss_share",
        "industry",
        "산업 적자기업 비율",
        "industry share of loss-makers",
        "share of the division's firms with net income < 0 (operating income when net is absent)",
        "share",
        -1,
        None,
        "missing when no firm reports profit",
    ),
    Indicator(
        "industry_distress_share",
        "industry",
        "산업 관리종목 비율",
        "industry share in distress",
        "share of the division's firms flagged administrative_issue in year t",
        "share",
        -1,
        None,
        "missing when the flag is not reported",
    ),
    Indicator(
        "industry_concentration",
        "industry",
        "산업 집중도 (HHI)",
        "industry concentration (HHI)",
        "sum of squared revenue shares of the division's reference firms in year t",
        "index 0-1",
        0,
        None,
        "missing when the division has no reference firm in year t",
    ),
)

# Raw panel inputs behind the families that outside sources fill (TS-2000, FnGuide, DART 직원현황).
# Features name, per firm-year, the inputs that are missing (``missing_inputs_<family>``) and the source of
# each one present (``sources_<family>``, from the panel's ``source_<field>`` columns written by
# ``jumpup import combine``; ``panel`` when the panel does not say). ``risk`` is the audited firms'
# risk signals (management family).
FAMILY_INPUTS: dict[str, tuple[str, ...]] = {
    "technology": (
        "rd_expense",
        "patents_granted",
        "patent_disclosed",
        "certifications",
        "capex_intangible",
        "intangible_assets",
    ),
    "human": ("employees", "personnel_expense", "payroll", "personnel_expense_sga", "value_added"),
    "risk": ("audit_opinion_clean", "interest_coverage"),
}

# Indicators compared within the similar group (유사그룹대조) as percentiles.
# Raw panel inputs and the model features that move with them, each in the input's direction when
# everything else is held fixed. A known direction for a raw input (``model.monotone_inputs``) must
# constrain every one of these features, or the grade can fall as the input rises (LightGBM #5358).
INPUT_FEATURES: dict[str, dict[str, int]] = {
    "patents_granted": {"patents_granted_3y": 1, "family_score_technology": 1},
}

PEER_COMPARED: tuple[str, ...] = (
    "revenue_growth_1y",
    "revenue_cagr_3y",
    "operating_margin",
    "roa",
    "cash_flow_margin",
    "rd_intensity",
    "asset_turnover",
    "hiring_growth",
    "revenue_per_employee",
    "value_added_per_employee",
)

BY_NAME: dict[str, Indicator] = {i.name: i for i in INDICATORS}
for _name in PEER_COMPARED:
    _base = BY_NAME[_name]
    BY_NAME[f"peer_pct_{_name}"] = Indicator(
        f"peer_pct_{_name}",
        "peer",
        f"유사그룹 내 백분위: {_base.ko}",
        f"percentile in similar group: {_base.en}",
        f"share of peer-group reference firms below {_name} (ties count half)",
        "percentile 0-1",
        _base.direction,
        None,
        f"missing when {_name} is missing; group widens division -> section -> all firms below the minimum size",
    )
ALL_INDICATORS: tuple[Indicator, ...] = tuple(BY_NAME.values())


def family_members(family: str) -> list[Indicator]:
    return [i for i in ALL_INDICATORS if i.family == family]


def render_markdown() -> str:
    """The indicator page of the docs, generated so it cannot drift from the code."""
    lines = [
        "# Indicators",
        "",
        "Generated from `features/registry.py` (`python -m jumpup.features.registry > docs/indicators.md`).",
        "Ratios follow Bank of Korea conventions: flow-over-stock ratios use the average of this and last",
        "year-end balances. Winsorising limits are fixed in `params.yaml` (`features.winsor`) so that a",
        "feature at year t never depends on later years. Direction: + higher is better, − lower is better,",
        "0 context (not scored).",
        "",
    ]
    for family, names in FAMILIES.items():
        lines += [
            f"## {names['ko']} — {names['en']} (`{family}`)",
            "",
            "| name | 한국어 | formula | unit | dir. | winsor | when inputs are missing |",
            "|---|---|---|---|---|---|---|",
        ]
        for i in family_members(family):
            direction = {1: "+", -1: "−", 0: "0"}[i.direction]
            formula = i.formula.replace("|", "\\|")
            lines.append(
                f"| `{i.name}` | {i.ko} | {formula} | {i.unit} | {direction} | {i.winsor or '—'} | {i.missing} |"
            )
        lines.append("")
    lines += [
        "## Family sub-scores",
        "",
        "`family_score_<family>` (0–100): the mean, over the family's scored indicators that are present,",
        "of the firm's percentile among all reference firms of the same year (reversed for − indicators).",
        "For `peer`, the mean of the direction-adjusted peer percentiles. Missing when no member is present.",
        "`peer_median_family_score_<family>` is the median of that score in the firm's peer group.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_markdown())
