"""The yearly progress review of a cohort (성과평가), as pure functions of tables.

Source: the program plan, voucher section — an open voucher of 2.5억 a year for at most three
years (7.5억), the next year's support decided each year by a progress review (매년 사업 진척도 등
성과평가를 통해 차년도 지원여부 결정). Each firm's realised revenue is set against the growth-path
forecast made at selection (which band it landed in), its size class against 중견후보, its grade
and indicators against those at selection; milestones and voucher spending come from the review
file. The continuation rules and their limits are in ``params.yaml`` (``review``). Realised outcomes
also measure the forecasts: band coverage and grade-wise realised rates per cohort.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
from scipy.stats import binomtest

from jumpup.features.size_class import SIZE_CLASS_KO
from jumpup.notices import Notice
from jumpup.settings import ReviewSettings

BANDS = ("below_q10", "q10_q50", "q50_q90", "above_q90")
BAND_KO = {
    "below_q10": "하위 10% 선 미만",
    "q10_q50": "하위 10% 선–중앙값",
    "q50_q90": "중앙값–상위 10% 선",
    "above_q90": "상위 10% 선 초과",
    "no_statement": "재무제표 없음",
    "no_forecast": "예측 없음",
}
UNKNOWN_KO = "판정 불가"
NO_SIZE_TABLE = "no_size_table_for_this_date"  # features.size_class: no threshold table valid on that date
SIZE_ORDER = {"small": 0, "medium": 1, "midsize_candidate": 2, "midsize": 3}
STATUS_KO = {"continue": "차년도 지원 계속", "drop": "지원 중단", "completed": "지원 기간 종료"}
INDICATORS = {
    "revenue": "매출액",
    "revenue_growth_1y": "매출액 증가율",
    "operating_margin": "영업이익률",
    "equity_ratio": "자기자본비율",
    "revenue_per_employee": "1인당 매출액",
    "rd_intensity": "연구개발비 비중",
    "probability": "AI 고성장 확률",
    "score": "AI 점수",
}


CONTINUATION = pa.DataFrameSchema(
    {
        "firm_id": pa.Column(str, nullable=False),
        "band": pa.Column(str, pa.Check.isin([*BANDS, "no_statement", "no_forecast"])),
        "status": pa.Column(str, pa.Check.isin(list(STATUS_KO))),
        "next_year_voucher_won": pa.Column(float, pa.Check.ge(0), coerce=True),
        "program_year": pa.Column(int, pa.Check.ge(1), coerce=True),
        "reasons": pa.Column(str, pa.Check.str_length(min_value=1)),
    },
    unique=["firm_id"],
    name="continuation",
)
"""One continuation decision per cohort firm, with its reasons."""


def forecast_band(realised: pd.Series, q10: pd.Series, q50: pd.Series, q90: pd.Series) -> np.ndarray:
    """The band of the forecast a realised value landed in.

    ``below_q10`` (< q10), ``q10_q50`` (q10 ≤ x < q50), ``q50_q90`` (q50 ≤ x ≤ q90), ``above_q90``
    (> q90); ``no_statement`` without a realised value, ``no_forecast`` without quantiles. Inputs are
    aligned Series in the same unit (won).
    """
    realised, q10, q50, q90 = (
        pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64") for s in (realised, q10, q50, q90)
    )
    return np.select(
        [
            np.isnan(realised),
            np.isnan(q10) | np.isnan(q50) | np.isnan(q90),
            realised < q10,
            realised < q50,
            realised <= q90,
        ],
        ["no_statement", "no_forecast", "below_q10", "q10_q50", "q50_q90"],
        default="above_q90",
    )


def size_progress(before: pd.Series, after: pd.Series) -> np.ndarray:
    """Size-class progress toward 중견후보: reached_candidate, up, same, down or unknown."""
    b = before.map(SIZE_ORDER).to_numpy(dtype="float64")
    a = after.map(SIZE_ORDER).to_numpy(dtype="float64")
    candidate = SIZE_ORDER["midsize_candidate"]
    return np.select(
        [np.isnan(a) | np.isnan(b), (a >= candidate) & (b < candidate), a > b, a == b],
        ["unknown", "reached_candidate", "up", "same"],
        default="down",
    )


def realised_progress(
    cohort: pd.DataFrame,
    paths: pd.DataFrame,
    before: pd.DataFrame,
    after: pd.DataFrame,
    year: int,
) -> pd.DataFrame:
    """One row per cohort firm: forecast for ``year``, realised revenue and band, size, grade, indicators.

    ``cohort``: firm_id, as_of (selection.csv); ``paths``: growth paths made at selection (firm_id,
    year, revenue_q10…q90); ``before``: each firm's scored features at selection; ``after``: its
    scored features for ``year`` (firms without statements for ``year`` are absent). Both carry
    revenue (won), size_class, grade and the ``INDICATORS`` where known.
    """
    frame = cohort[["firm_id", "as_of"]].copy()
    frame["year"] = year
    frame["horizon"] = year - frame["as_of"].astype(int)
    forecast = paths[paths["year"] == year].drop_duplicates("firm_id").set_index("firm_id")
    for q in ("10", "25", "50", "75", "90"):
        column = f"revenue_q{q}"
        frame[f"forecast_q{q}"] = frame["firm_id"].map(forecast[column]) if column in forecast else np.nan
    b = before.drop_duplicates("firm_id").set_index("firm_id")
    a = after.drop_duplicates("firm_id").set_index("firm_id")
    frame["has_statement"] = frame["firm_id"].isin(a.index)
    for name in INDICATORS:
        frame[f"{name}_before"] = frame["firm_id"].map(b[name]) if name in b else np.nan
        frame[f"{name}_after"] = frame["firm_id"].map(a[name]) if name in a else np.nan
        frame[f"{name}_change"] = frame[f"{name}_after"] - frame[f"{name}_before"]
    frame["band"] = forecast_band(
        frame["revenue_after"], frame["forecast_q10"], frame["forecast_q50"], frame["forecast_q90"]
    )
    frame["realised_growth"] = frame["revenue_after"] / frame["revenue_before"] - 1
    for column in ("size_class", "grade"):
        frame[f"{column}_before"] = frame["firm_id"].map(b[column]) if column in b else None
        frame[f"{column}_after"] = frame["firm_id"].map(a[column]) if column in a else None
    frame["size_rule_after"] = frame["firm_id"].map(a["size_rule"]) if "size_rule" in a else None
    frame["size_progress"] = size_progress(frame["size_class_before"], frame["size_class_after"])
    distress = pd.Series(False, index=frame.index)
    for column in ("administrative_issue", "negative_equity"):
        if column in a:
            distress |= frame["firm_id"].map(a[column]).fillna(0).astype(float) > 0
    frame["distress"] = distress
    return frame.sort_values("firm_id", kind="stable").reset_index(drop=True)


def continuation(
    progress: pd.DataFrame, inputs: pd.DataFrame, selection_year: pd.Series, year: int, settings: ReviewSettings
) -> pd.DataFrame:
    """Next year's voucher per firm: continue, drop or completed, with every reason in Korean.

    ``inputs``: accepted progress-review rows (firm_id, fiscal_year, milestones_planned, milestones_met,
    voucher_granted, voucher_spent in won), all years so far; ``selection_year``: first program
    year by firm_id. A firm is dropped when its statements or its review row for ``year`` are
    missing, it met fewer milestones or used less of its voucher than the limits, or (when
    ``drop_on_distress``) its new statements show distress; it has completed the program after
    ``max_program_years`` or once ``max_total_voucher_won`` is granted.
    """
    frame = progress[
        ["firm_id", "band", "size_progress", "has_statement", "distress", "grade_before", "grade_after"]
    ].copy()
    frame["program_year"] = year - frame["firm_id"].map(selection_year).astype(int) + 1
    this_year = inputs[inputs["fiscal_year"] == year].drop_duplicates("firm_id").set_index("firm_id")
    to_date = inputs[inputs["fiscal_year"] <= year].groupby("firm_id")["voucher_granted"].sum()
    frame["has_review_input"] = frame["firm_id"].isin(this_year.index)
    for column in ("milestones_planned", "milestones_met", "voucher_granted", "voucher_spent"):
        frame[column] = frame["firm_id"].map(this_year[column]) if column in this_year else np.nan
    frame["milestone_share"] = frame["milestones_met"] / frame["milestones_planned"].where(
        frame["milestones_planned"] > 0
    )
    frame["voucher_use_share"] = frame["voucher_spent"] / frame["voucher_granted"].where(frame["voucher_granted"] > 0)
    frame["voucher_granted_to_date"] = frame["firm_id"].map(to_date).fillna(0.0)
    remaining = (settings.max_total_voucher_won - frame["voucher_granted_to_date"]).clip(lower=0)
    statuses, reasons_all, vouchers = [], [], []
    for row, left in zip(frame.itertuples(index=False), remaining, strict=True):
        drop, notes = [], []
        milestones = f"마일스톤 {_int(row.milestones_met)}/{_int(row.milestones_planned)}"
        if not row.has_statement:
            drop.append(f"{year}년 재무제표 미제출")
        if not row.has_review_input:
            drop.append(f"{year}년 성과점검 자료 미제출")
        else:
            if pd.isna(row.milestone_share) or row.milestone_share < settings.min_milestone_share:
                drop.append(
                    f"사업 진척도 {_share(row.milestone_share)} ({milestones}) "
                    f"< 기준 {settings.min_milestone_share:.0%}"
                )
            else:
                notes.append(f"사업 진척도 {_share(row.milestone_share)} ({milestones})")
            if pd.isna(row.voucher_use_share) or row.voucher_use_share < settings.min_voucher_use_share:
                drop.append(
                    f"바우처 집행률 {_share(row.voucher_use_share)} < 기준 {settings.min_voucher_use_share:.0%}"
                )
            else:
                notes.append(f"바우처 집행률 {_share(row.voucher_use_share)}")
        if settings.drop_on_distress and row.distress:
            drop.append("부실 징후 (관리종목 또는 자본잠식)")
        if row.band != "no_statement":
            notes.append(f"매출 실적: 예측 {BAND_KO.get(row.band, row.band)}")
        if row.size_progress == "reached_candidate":
            notes.append("중견후보기업 규모 도달")
        if isinstance(row.grade_after, str):
            notes.append(f"등급 {row.grade_before} → {row.grade_after}")
        if drop:
            status, voucher = "drop", 0.0
        elif row.program_year >= settings.max_program_years or left <= 0:
            status, voucher = "completed", 0.0
            notes.insert(
                0,
                f"{settings.max_program_years}년 지원 기간 또는 바우처 한도 "
                f"{settings.max_total_voucher_won / 1e8:.1f}억원 도달",
            )
        else:
            status, voucher = "continue", float(min(settings.voucher_per_year_won, left))
        statuses.append(status)
        vouchers.append(voucher)
        reasons_all.append(" | ".join(drop + notes))
    frame["status"] = statuses
    frame["next_year_voucher_won"] = vouchers
    frame["reasons"] = reasons_all
    return frame


def _share(value) -> str:
    return "—" if pd.isna(value) else f"{value:.0%}"


def _int(value) -> str:
    return "—" if pd.isna(value) else f"{int(value)}"


def _interval(hits: int, n: int) -> tuple[float, float]:
    if n == 0:
        return (float("nan"), float("nan"))
    ci = binomtest(hits, n).proportion_ci(0.95, method="wilson")
    return (float(ci.low), float(ci.high))


def monitoring(progress: pd.DataFrame, grade_labels: tuple[str, ...], high_growth_rate: float) -> dict:
    """How the selection-time forecasts and grades held up in this cohort, with 95% Wilson intervals.

    Band coverage: the share of firms with a statement whose realised revenue fell in q10–q90
    (nominal 80%), below q10 and above q90 (nominal 10% each) and below the median (nominal 50%).
    Grade-wise realised rates: per grade at selection, firms with a statement, the share whose
    one-year revenue growth exceeded ``high_growth_rate`` and the share above the forecast median.
    """
    seen = progress[progress["band"].isin(BANDS)]
    n = len(seen)
    counts = seen["band"].value_counts().reindex(list(BANDS), fill_value=0)
    inside = int(counts["q10_q50"] + counts["q50_q90"])
    below_median = int(counts["below_q10"] + counts["q10_q50"])
    coverage = {
        "firms": n,
        "bands": {k: int(v) for k, v in counts.items()},
        "coverage_80": inside / n if n else float("nan"),
        "coverage_80_ci": list(_interval(inside, n)),
        "below_q10": int(counts["below_q10"]) / n if n else float("nan"),
        "below_q10_ci": list(_interval(int(counts["below_q10"]), n)),
        "above_q90": int(counts["above_q90"]) / n if n else float("nan"),
        "above_q90_ci": list(_interval(int(counts["above_q90"]), n)),
        "below_median": below_median / n if n else float("nan"),
        "below_median_ci": list(_interval(below_median, n)),
        "nominal": {"coverage_80": 0.8, "below_q10": 0.1, "above_q90": 0.1, "below_median": 0.5},
    }
    grades = []
    with_statement = progress[progress["has_statement"]]
    for grade in grade_labels:
        group = with_statement[with_statement["grade_before"] == grade]
        if group.empty:
            continue
        high = int((group["realised_growth"] > high_growth_rate).sum())
        above = int(group["band"].isin(["q50_q90", "above_q90"]).sum())
        grades.append(
            {
                "grade": grade,
                "firms": len(group),
                "high_growth_rate": high / len(group),
                "high_growth_ci": list(_interval(high, len(group))),
                "above_median_rate": above / len(group),
                "mean_growth": float(group["realised_growth"].mean()),
            }
        )
    return {"band_coverage": coverage, "grades": grades}


def migration(progress: pd.DataFrame, column: str, order: list[str]) -> pd.DataFrame:
    """Counts of firms from each class at selection (rows) to each class now (columns), '판정 불가' when unknown."""
    # as text first: a column with no known class at all is read as float NaN
    before = progress[f"{column}_before"].astype("object").fillna(UNKNOWN_KO)
    after = progress[f"{column}_after"].astype("object").fillna(UNKNOWN_KO)
    labels = [*order, UNKNOWN_KO]
    table = pd.crosstab(pd.Categorical(before, labels), pd.Categorical(after, labels), dropna=False)
    table.index.name, table.columns.name = "selection", "now"
    keep_rows = table.sum(axis=1) > 0
    keep_cols = table.sum(axis=0) > 0
    return table.loc[keep_rows, keep_cols]


@dataclass(frozen=True)
class ReviewResult:
    """Everything one review year decides: per-firm progress and decisions, monitoring, migrations."""

    progress: pd.DataFrame
    decisions: pd.DataFrame
    monitoring: dict
    grade_migration: pd.DataFrame
    size_migration: pd.DataFrame
    warnings: list[Notice]

    @property
    def dropped(self) -> pd.DataFrame:
        return self.decisions[self.decisions["status"] == "drop"].reset_index(drop=True)


def review_year(
    cohort: pd.DataFrame,
    paths: pd.DataFrame,
    before: pd.DataFrame,
    after: pd.DataFrame,
    inputs: pd.DataFrame,
    year: int,
    settings: ReviewSettings,
    grade_labels: tuple[str, ...],
) -> ReviewResult:
    """One review year of a cohort as a pure function of its tables (see ``realised_progress``)."""
    progress = realised_progress(cohort, paths, before, after, year)
    selection_year = cohort.drop_duplicates("firm_id").set_index("firm_id")["selection_year"]
    decisions = continuation(progress, inputs, selection_year, year, settings)
    watched = monitoring(progress, grade_labels, settings.high_growth_rate)
    size_order = list(SIZE_ORDER)
    size_migration = migration(progress, "size_class", size_order)
    size_migration.index = [SIZE_CLASS_KO.get(i, i) for i in size_migration.index]
    size_migration.columns = [SIZE_CLASS_KO.get(c, c) for c in size_migration.columns]
    warnings = []
    early = int((progress["horizon"] < 1).sum())
    if early:
        warnings.append(
            Notice(
                f"{early} firm(s) reviewed for a year not after their selection's as-of year",
                f"선정 기준연도 이후가 아닌 연도로 점검한 기업 {early}곳",
            )
        )
    no_table = int((progress["size_rule_after"] == NO_SIZE_TABLE).sum())
    if no_table:
        warnings.append(
            Notice(
                f"{no_table} firm(s): no size-class threshold table is valid for their {year} fiscal year-end "
                "(data/reference), so size-class progress cannot be judged",
                f"{no_table}개사: {year}년 결산일에 유효한 규모 기준표가 없어 (data/reference) 중견후보 진전 여부를 "
                "판정할 수 없습니다.",
            )
        )
    missing = int((~progress["has_statement"]).sum())
    if missing:
        warnings.append(
            Notice(
                f"{missing} cohort firm(s) have no accepted statements for {year}",
                f"{year}년 재무제표가 채택되지 않은 선정기업 {missing}곳",
            )
        )
    return ReviewResult(
        progress, decisions, watched, migration(progress, "grade", list(grade_labels)), size_migration, warnings
    )
