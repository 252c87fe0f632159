"""The Korean wording evaluators read: particles, decisions, growth-path sentences, reasons.

One place for every sentence that appears in more than one page (grade report, STEP 2 dossier,
round summary), so the pages never word the same figure two ways. Particles after numbers and
words (은/는, 이/가, 을/를, (으)로) come from ``tossi``, which reads numbers and Hangul endings
the way they are pronounced ("PSI 0.190이", "141억 원을").
"""

from __future__ import annotations

import math

import pandas as pd
import tossi

from jumpup.features.registry import BY_NAME
from jumpup.features.size_class import EOK, SIZE_CLASS_KO
from jumpup.intake.contracts import INVESTMENT_STAGE_KO

DECISION_KO = {"pass": "통과", "fail": "미통과"}
STAGE_KO = INVESTMENT_STAGE_KO
METHOD_KO = {
    "peers": "유사기업 {peers}개의 실제 성장경로",
    "pooled": "학습 기업 전체에 맞춘 분위 회귀(LightGBM)",
    "blend": "유사기업 {peers}개의 실제 성장경로와 학습 기업 전체 분위 회귀의 평균",
}


def josa(word: str, particle: str) -> str:
    """``word`` followed by the particle its last sound takes: josa("PSI 0.190", "이") -> "PSI 0.190이"."""
    return tossi.postfix(str(word), particle)


def korean_codes(text: str) -> str:
    """Investment-stage codes inside a STEP 1 reason ("..., VC, series_c)") in Korean."""
    for code, ko in STAGE_KO.items():
        text = text.replace(f", {code})", f", {ko})")
    return text


def decision_ko(decision) -> str:
    return DECISION_KO.get(str(decision), str(decision))


def method_caption(method: str, peers: int) -> str:
    """How a growth path was drawn, named by the method actually used for it."""
    return METHOD_KO.get(str(method), str(method)).format(peers=peers)


def percent(value: float) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.0%}"


def growth_sentence(end: pd.Series, as_of: int) -> str:
    """One sentence on a firm's growth path at its last horizon; every figure from the plotted quantiles.

    ``end``: the growth-path row of the last year (revenue_q10..q90 in won, p_decline,
    p_next_size_class, method, peer_count). The high-growth probability is not repeated here: the
    grade report gives that event one figure, the graded model's.
    """
    year = int(end["year"])
    next_class = end.get("p_next_size_class")
    parts = [
        f"{year}년 매출 중앙값 {end['revenue_q50'] / EOK:,.0f}억 원 "
        f"(80% 구간 {end['revenue_q10'] / EOK:,.0f}–{end['revenue_q90'] / EOK:,.0f}억 원)",
        f"{as_of}년보다 매출이 줄어들 확률 {percent(end['p_decline'])}",
    ]
    if next_class is not None and pd.notna(next_class):
        parts.append(f"다음 규모 구간에 들어설 확률 {percent(next_class)}")
    method = method_caption(end.get("method", "peers"), int(end.get("peer_count", 0)))
    return ", ".join(parts) + f". 예측 구간과 확률은 모두 {josa(method, '으로')} 계산한 같은 분포에서 나왔습니다."


def indicator_value(name: str, value) -> str:
    """An indicator's value in its unit (ratios as signed percent, won as 억 원)."""
    if value is None or pd.isna(value):
        return "값 없음"
    if name == "size_class":
        return SIZE_CLASS_KO.get(str(value), "미상")
    value = float(value)
    if name in YEAR_COLUMNS:
        return f"{value:.0f}년"
    if name.startswith("family_score_"):
        return f"{value:.0f}점"
    unit = BY_NAME[name].unit if name in BY_NAME else ("won" if name in ("revenue", "total_assets") else "")
    if unit == "ratio" and (name.endswith(("growth_1y", "cagr_3y")) or "growth" in name):
        return f"{value:+.1%}"
    if unit in ("ratio", "share"):
        return f"{value:.1%}"
    if unit == "won":
        return f"{value / EOK:,.1f}억 원"
    if unit == "times":
        return f"{value:.2f}배"
    if unit == "0/1":
        return "예" if value >= 0.5 else "아니오"
    if unit == "count":
        return f"{value:,.0f}"
    return f"{value:,.2f}"


YEAR_COLUMNS = ("firm_age", "years_listed")
NO_MEDIAN = {"size_class": "규모 구분은 유사그룹을 나누는 기준이라 중앙값과 비교하지 않음"}


def reason_line(text: str, feature: str, value, median) -> str:
    """A reason with the indicator's value and its peer median beside the points.

    ``text`` is the model's reason ("재무 성장성 +14점: 매출액증가율"); when the indicator sits on
    the side of its peer median that would normally lower (or raise) the score, the line says so,
    so a contribution against intuition reads as such.
    """
    if not feature:
        return text
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        # The model reads an absent value as information of its own (LightGBM's missing-value branch):
        # say so, so that "+1점" beside "값 없음" does not read as a figure that went astray.
        points = _points(text)
        effect = "" if not points else f" (값이 없다는 것 자체가 점수를 {'올림' if points > 0 else '내림'})"
        return f"{text} — 값 없음{effect}"
    if feature.startswith("peer_pct_"):  # a position among peers: the peer median is the 50th percentile
        base = feature.removeprefix("peer_pct_")
        shown = f"{text} — 유사그룹 내 {float(value):.0%} 위치 (중앙값 50%)"
        direction = BY_NAME[base].direction if base in BY_NAME else 0
        points = _points(text)
        if direction and points and float(value) != 0.5:
            better = (float(value) - 0.5) * direction > 0
            if better != (points > 0):
                shown += " · 중앙값보다 " + ("좋은데도 점수를 내림" if better else "나쁜데도 점수를 올림")
        return shown
    shown = f"{text} — {indicator_value(feature, value)}"
    if feature in NO_MEDIAN:
        return f"{shown} ({NO_MEDIAN[feature]})"
    if median is None or pd.isna(median):
        return shown + " (유사그룹 중앙값 없음)"
    shown += f" (유사그룹 중앙값 {indicator_value(feature, median)})"
    direction = BY_NAME[feature].direction if feature in BY_NAME else 0
    points = _points(text)
    if direction and value is not None and pd.notna(value) and points and float(value) != float(median):
        better = (float(value) - float(median)) * direction > 0
        if better != (points > 0):
            shown += " · 중앙값보다 " + ("좋은데도 점수를 내림" if better else "나쁜데도 점수를 올림")
    return shown


def _points(text: str) -> float:
    for token in str(text).split():
        if token.endswith("점:") or token.endswith("점"):
            try:
                return float(token.rstrip(":").removesuffix("점"))
            except ValueError:
                continue
    return 0.0


def model_label(info: dict) -> str:
    """How reports name the model: version and alias, or the bundle file's hash.

    A model that is not the promoted champion (``model_promoted`` false, set by
    ``jumpup.pipelines.score.load_bundle``) is named so, with the promotion gates it failed.
    """
    alias = f" ({info['model_alias']})" if info.get("model_alias") else ""
    version = str(info["model_version"])
    for prefix in ("file ", "bundle "):  # a bundle read from disk, named by its hash
        if version.startswith(prefix):
            version = "파일 " + version.removeprefix(prefix)
    if info.get("model_promoted", True):
        return f"{version}{alias}"
    failed = ", ".join(GATE_SHORT_KO.get(g["gate"], g["gate"]) for g in info.get("model_failed_gates") or [])
    return f"{version}{alias} — 승격되지 않은 후보 모형" + (f" (미통과 승격 기준: {failed})" if failed else "")


# Short names of the promotion gates (jumpup.pipelines.promote) for the model line of a page.
GATE_SHORT_KO = {
    "calibration_tests": "등급별 보정 검정",
    "grade_concentration": "등급 집중도",
    "discrimination_not_worse": "변별력 비교",
}
