"""Input contracts: the columns each input file carries and the pandera schemas they must pass.

The contract is the boundary between messy files and the pipeline. Ingestion parses raw strings
into these types, validates every row lazily (so one bad row never hides another), moves rejected
rows to quarantine with the failing rule, and validates the accepted rows once more strictly.
Documented for users in docs/data_contract.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandera.pandas as pa

from jumpup.paths import FIRM_ID_PATTERN

INVESTOR_TYPES = ("VC", "CVC", "PE")
INVESTMENT_STAGES = ("seed", "series_a", "series_b", "series_c", "series_d", "pre_ipo", "growth")
INVESTMENT_STAGE_KO = {  # 투자 단계, as evaluators read it
    "seed": "시드",
    "series_a": "시리즈 A",
    "series_b": "시리즈 B",
    "series_c": "시리즈 C",
    "series_d": "시리즈 D",
    "pre_ipo": "프리IPO",
    "growth": "그로스",
}
EVALUATOR_ROLES = ("technology_expert", "growth_expert", "agency_examiner")
EVALUATOR_ROLE_KO = {"technology_expert": "기술전문가", "growth_expert": "성장전문가", "agency_examiner": "심사역"}
CERTIFICATIONS = ("venture", "innobiz", "mainbiz", "world_class", "green", "patent_star")


@dataclass(frozen=True)
class FileContract:
    """What one input file must hold: its key, required and optional columns by kind."""

    name: str
    key: tuple[str, ...]
    required: tuple[str, ...]
    text: tuple[str, ...] = ()
    integers: tuple[str, ...] = ()
    amounts: tuple[str, ...] = ()  # money, normalised to won
    counts: tuple[str, ...] = ()  # non-negative numbers that are not money
    flags: tuple[str, ...] = ()  # 0/1
    scores: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    nonnegative_amounts: tuple[str, ...] = ()
    # A required column that another column can stand in for: {required: the column it is derived from}.
    derived_from: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        ordered = (
            *self.text,
            *self.integers,
            *self.dates,
            *self.amounts,
            *self.counts,
            *self.flags,
            *self.scores,
        )
        return tuple(dict.fromkeys(ordered))

    @property
    def numeric(self) -> tuple[str, ...]:
        return (*self.integers, *self.amounts, *self.counts, *self.flags, *self.scores)


FIRMS = FileContract(
    name="firms",
    key=("firm_id",),
    required=("firm_id", "name", "ksic_division"),
    text=(
        "firm_id",
        "name",
        "ksic_division",
        "industry_name",
        "main_products",
        "region",
        "ksic_code",
        "business_description",
    ),
    integers=("fiscal_year_end_month", "founded_year"),
    dates=("listed_on", "founded_on"),
    derived_from={"ksic_division": "ksic_code"},  # the division is the code's first two digits
)

FINANCIALS = FileContract(
    name="financials",
    key=("firm_id", "fiscal_year"),
    required=("firm_id", "fiscal_year", "revenue"),
    text=("firm_id", "certifications", "currency", "statement_basis", "period_end"),
    integers=("fiscal_year",),
    amounts=(
        "revenue",
        "operating_income",
        "net_income",
        "pretax_income",
        "operating_cash_flow",
        "total_assets",
        "total_equity",
        "total_liabilities",
        "rd_expense",
        "export_revenue",
        "investment_raised",
        "personnel_expense",
    ),
    counts=("employees", "patents_granted"),
    flags=("patent_disclosed", "lawsuit_disclosed", "administrative_issue"),
    nonnegative_amounts=(
        "revenue",
        "total_assets",
        "total_liabilities",
        "rd_expense",
        "export_revenue",
        "investment_raised",
        "personnel_expense",
    ),
)

APPLICATIONS = FileContract(
    name="applications",
    key=("firm_id", "round_id"),
    required=("firm_id", "round_id", "applied_on"),
    text=("firm_id", "round_id", "recommending_investor", "investor_type", "investment_stage"),
    dates=("applied_on",),
)

AUDITS = FileContract(
    name="audits",
    key=("firm_id", "evaluator_id", "item"),
    required=("firm_id", "evaluator_id", "evaluator_role", "item", "score"),
    text=("firm_id", "evaluator_id", "evaluator_role", "item", "round_id"),
    scores=("score",),
)

CONTRACTS = {c.name: c for c in (FIRMS, FINANCIALS, APPLICATIONS, AUDITS)}
WON_CURRENCIES = frozenset({"KRW", "WON", "원", "₩"})
STATEMENT_BASES = ("consolidated", "separate")

# Korean (and common English) headers seen in Korean Excel exports, mapped to contract columns.
COLUMN_ALIASES: dict[str, str] = {
    "기업코드": "firm_id",
    "종목코드": "firm_id",
    "사업자등록번호": "firm_id",
    "stock_code": "firm_id",
    "회사명": "name",
    "기업명": "name",
    "company_name": "name",
    "업종코드": "ksic_code",
    "표준산업분류": "ksic_code",
    "산업분류": "ksic_division",
    "업종": "ksic_division",
    "업종명": "industry_name",
    "주요제품": "main_products",
    "지역": "region",
    "소재지": "region",
    "상장일": "listed_on",
    "결산월": "fiscal_year_end_month",
    "설립연도": "founded_year",
    "설립일": "founded_on",
    "사업내용": "business_description",
    "결산연도": "fiscal_year",
    "사업연도": "fiscal_year",
    "year": "fiscal_year",
    "매출액": "revenue",
    "영업이익": "operating_income",
    "당기순이익": "net_income",
    "법인세비용차감전순이익": "pretax_income",
    "영업활동현금흐름": "operating_cash_flow",
    "자산총계": "total_assets",
    "자본총계": "total_equity",
    "부채총계": "total_liabilities",
    "종업원수": "employees",
    "상시근로자수": "employees",
    "연구개발비": "rd_expense",
    "수출액": "export_revenue",
    "수출매출액": "export_revenue",
    "투자유치금액": "investment_raised",
    "인건비": "personnel_expense",
    "등록특허수": "patents_granted",
    "인증": "certifications",
    "통화": "currency",
    "결산기준일": "period_end",
    "재무제표기준": "statement_basis",
    "특허공시": "patent_disclosed",
    "소송공시": "lawsuit_disclosed",
    "관리종목": "administrative_issue",
    "회차": "round_id",
    "신청일": "applied_on",
    "추천투자사": "recommending_investor",
    "투자사유형": "investor_type",
    "투자단계": "investment_stage",
    "평가위원": "evaluator_id",
    "평가위원유형": "evaluator_role",
    "평가항목": "item",
    "점수": "score",
}

AMOUNT_COLUMNS = frozenset(FINANCIALS.amounts)
UNIT_MULTIPLIERS: dict[str, int] = {
    "won": 1,
    "thousand_won": 1_000,
    "million_won": 1_000_000,
    "hundred_million_won": 100_000_000,
}
UNIT_LABELS: dict[str, str] = {  # header annotations -> unit
    "원": "won",
    "krw": "won",
    "won": "won",
    "천원": "thousand_won",
    "krw1000": "thousand_won",
    "thousand_won": "thousand_won",
    "백만원": "million_won",
    "krw1000000": "million_won",
    "million_won": "million_won",
    "억원": "hundred_million_won",
    "억": "hundred_million_won",
    "hundred_million_won": "hundred_million_won",
}


def _nonnegative(column: str) -> pa.Check:
    return pa.Check.ge(0, name="negative_value", error="negative_value")


def firms_schema(
    known_divisions: frozenset[str], known_codes: frozenset[str], max_year: int, min_year: int
) -> pa.DataFrameSchema:
    """Contract for firms.csv after parsing: one row per firm."""
    return pa.DataFrameSchema(
        {
            "firm_id": pa.Column(
                str, [pa.Check.str_matches(FIRM_ID_PATTERN, name="bad_firm_id", error="bad_firm_id")], nullable=False
            ),
            "name": pa.Column(str, nullable=True),
            "ksic_division": pa.Column(
                str,
                pa.Check.isin(sorted(known_divisions), name="unknown_industry_code", error="unknown_industry_code"),
                nullable=False,
            ),
            "ksic_code": pa.Column(
                str,
                pa.Check.isin(sorted(known_codes), name="unknown_industry_code", error="unknown_industry_code"),
                nullable=True,
                required=False,
            ),
            "founded_year": pa.Column(
                "Int64",
                [
                    pa.Check.le(max_year, name="future_year", error="future_year"),
                    pa.Check.ge(min_year, name="implausible_year", error="implausible_year"),
                ],
                nullable=True,
                required=False,
            ),
            "fiscal_year_end_month": pa.Column(
                "Int64", pa.Check.in_range(1, 12, name="bad_month", error="bad_month"), nullable=True, required=False
            ),
        },
        strict=False,
        name="firms",
    )


def _magnitude(limit: float | None) -> list[pa.Check]:
    if limit is None:
        return []
    return [
        pa.Check(
            lambda s, limit=limit: s.abs() <= limit,
            element_wise=False,
            name="implausible_magnitude",
            error="implausible_magnitude",
        )
    ]


def financials_schema(
    max_year: int,
    min_year: int,
    max_amount_won: float | None = None,
    max_counts: dict[str, float] | None = None,
) -> pa.DataFrameSchema:
    """Contract for financials.csv after parsing: one row per firm and fiscal year, amounts in won.

    ``max_amount_won`` bounds every amount and ``max_counts`` each count (employees, patents): a
    revenue of 1e30 won is a unit or typing error, never a firm, and must not reach a grade.
    """
    max_counts = max_counts or {}
    columns: dict[str, pa.Column] = {
        "firm_id": pa.Column(
            str, pa.Check.str_matches(FIRM_ID_PATTERN, name="bad_firm_id", error="bad_firm_id"), nullable=False
        ),
        "fiscal_year": pa.Column(
            "Int64",
            [
                pa.Check.le(max_year, name="future_fiscal_year", error="future_fiscal_year"),
                pa.Check.ge(min_year, name="implausible_year", error="implausible_year"),
            ],
            nullable=False,
        ),
    }
    for column in FINANCIALS.amounts:
        checks = [_nonnegative(column)] if column in FINANCIALS.nonnegative_amounts else []
        required = column in FINANCIALS.required
        checks += _magnitude(max_amount_won)
        columns[column] = pa.Column("float64", checks, nullable=not required, required=required)
    for column in FINANCIALS.counts:
        checks = [_nonnegative(column), *_magnitude(max_counts.get(column))]
        columns[column] = pa.Column("float64", checks, nullable=True, required=False)
    for column in FINANCIALS.flags:
        columns[column] = pa.Column(
            "float64", pa.Check.isin([0.0, 1.0], name="bad_flag", error="bad_flag"), nullable=True, required=False
        )
    return pa.DataFrameSchema(columns, strict=False, name="financials")


def applications_schema() -> pa.DataFrameSchema:
    """Contract for applications.csv: one row per firm and round, with an optional recommendation."""
    return pa.DataFrameSchema(
        {
            "firm_id": pa.Column(
                str, pa.Check.str_matches(FIRM_ID_PATTERN, name="bad_firm_id", error="bad_firm_id"), nullable=False
            ),
            "round_id": pa.Column(str, nullable=False),
            "applied_on": pa.Column("datetime64[ns]", nullable=False, coerce=True),
            "investor_type": pa.Column(
                str,
                pa.Check.isin(list(INVESTOR_TYPES), name="unknown_investor_type", error="unknown_investor_type"),
                nullable=True,
                required=False,
            ),
            "investment_stage": pa.Column(
                str,
                pa.Check.isin(
                    list(INVESTMENT_STAGES), name="unknown_investment_stage", error="unknown_investment_stage"
                ),
                nullable=True,
                required=False,
            ),
        },
        strict=False,
        name="applications",
    )


def audits_schema(items: list[str], score_min: float, score_max: float) -> pa.DataFrameSchema:
    """Contract for audits.csv: one score per firm, evaluator and rubric item."""
    return pa.DataFrameSchema(
        {
            "firm_id": pa.Column(
                str, pa.Check.str_matches(FIRM_ID_PATTERN, name="bad_firm_id", error="bad_firm_id"), nullable=False
            ),
            "evaluator_id": pa.Column(str, nullable=False),
            "evaluator_role": pa.Column(
                str, pa.Check.isin(list(EVALUATOR_ROLES), name="unknown_evaluator_role", error="unknown_evaluator_role")
            ),
            "item": pa.Column(str, pa.Check.isin(items, name="unknown_rubric_item", error="unknown_rubric_item")),
            "score": pa.Column(
                "float64",
                pa.Check.in_range(score_min, score_max, name="score_out_of_range", error="score_out_of_range"),
                nullable=False,
            ),
        },
        strict=False,
        name="audits",
    )
