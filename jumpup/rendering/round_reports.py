"""The reports stage of a round: per-firm grade reports (HTML and PDF), the round summary, an index.

Pages are static files that open in a browser with no server. A Korean font subset to the
round's characters ships with them (``reports/assets``), so Hangul shows in a real CJK font on
any machine, and PDFs come from one headless Chromium session for the whole round.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from jumpup.features.focus_fields import load_focus_fields
from jumpup.features.peers import peer_group_keys
from jumpup.features.size_class import SIZE_CLASS_KO
from jumpup.intake.ingest import IngestResult
from jumpup.models.bundle import GrowthModelBundle
from jumpup.models.grading import MasterScale
from jumpup.notices import Notice, in_language
from jumpup.paths import safe_slug
from jumpup.reference import audit_rubric
from jumpup.rendering import firm_report as reports
from jumpup.rendering import wording
from jumpup.rendering.browser import BrowserError, HeadlessBrowser, find_browser
from jumpup.rendering.fonts import find_report_fonts, write_report_fonts
from jumpup.rendering.jinja import render
from jumpup.rendering.step1_pages import whatif_chart, whatif_label
from jumpup.rendering.wording import model_label
from jumpup.settings import Settings
from jumpup.step1.decisions import Step1Result


@dataclass
class RoundOutputs:
    """Everything the reports read, gathered once the computing stages are done."""

    result: IngestResult
    bundle: GrowthModelBundle
    scale: MasterScale
    features: pd.DataFrame
    scores: pd.DataFrame
    paths: pd.DataFrame
    step1: Step1Result
    manifest: dict
    stability: list[dict]
    warnings: list[Notice]

    @property
    def decisions(self) -> pd.DataFrame:
        return self.step1.decisions


def firm_pages(outputs: RoundOutputs, settings: Settings, language: str) -> dict[str, str]:
    """The HTML of every firm's grade report, by firm id."""
    result, features, scores, paths = outputs.result, outputs.features, outputs.scores, outputs.paths
    decisions, manifest = outputs.decisions, outputs.manifest
    rubric = audit_rubric()
    scale_table = outputs.scale.table()
    firms = result.tables["firms"].set_index("firm_id")
    audit = outputs.step1.audit_summary.round(4).set_index("firm_id")
    joined = joined_scores(scores, features).merge(
        decisions[["firm_id", "round_id", "decision", "step1_grade", "step1_points", "reasons"]],
        on="firm_id",
        how="left",
    )
    histories = dict(tuple(result.tables["financials"].sort_values(["firm_id", "fiscal_year"]).groupby("firm_id")))
    firm_paths = dict(tuple(paths.groupby("firm_id"))) if len(paths) else {}
    no_path = paths.iloc[0:0]
    meta = {
        "model_version": model_label(manifest["model"]),
        "code_version": manifest["code_version"],
        "data_sha256": manifest["input_sha256"].get("financials", ""),
    }
    medians = reason_medians(outputs.bundle, joined, settings.reports.min_group_size)
    pages = {}
    for firm in joined.itertuples(index=False):
        row = pd.Series(firm._asdict())
        row["name"] = firms["name"].get(firm.firm_id, firm.firm_id) if "name" in firms else firm.firm_id
        pages[firm.firm_id] = reports.firm_report(
            row,
            histories.get(firm.firm_id, result.tables["financials"].iloc[0:0]),
            firm_paths.get(firm.firm_id, no_path),
            audit.loc[firm.firm_id] if firm.firm_id in audit.index else None,
            rubric,
            scale_table,
            meta,
            language,
            peer_medians=medians.get(firm.firm_id, {}),
            min_group_size=settings.reports.min_group_size,
            high_growth_rate=settings.growth_paths.high_growth_rate,
        )
    return pages


def joined_scores(scores: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """Scores with the feature columns they do not carry (indicator values, peer keys)."""
    return scores.merge(
        features.drop(columns=[c for c in features if c in scores and c != "firm_id"]), on="firm_id", how="left"
    )


def reason_medians(bundle: GrowthModelBundle, joined: pd.DataFrame, min_group_size: int) -> dict:
    """Peer medians of every indicator a reason names (model-only transforms through their indicator)."""
    names = sorted(
        {
            reports.VALUE_OF.get(v, v)
            for c in joined
            if str(c).startswith("reason_feature_")
            for v in joined[c].dropna()
            if isinstance(v, str) and v
        }
    )
    return indicator_peer_medians(bundle, joined, names, min_group_size)


def dossier_scores(
    bundle: GrowthModelBundle, scores: pd.DataFrame, features: pd.DataFrame, min_group_size: int
) -> pd.DataFrame:
    """Scores whose reasons read as on the grade report (value and peer median beside the points)."""
    joined = joined_scores(scores, features)
    annotated = reports.annotated_reasons(joined, reason_medians(bundle, joined, min_group_size), "ko")
    return annotated[scores.columns]


def indicator_peer_medians(
    bundle: GrowthModelBundle, firms: pd.DataFrame, names: list[str], min_group_size: int
) -> dict[str, dict[str, float]]:
    """Per firm, the median of each named indicator in its peer group of the model's reference population.

    ``firms`` carries the feature columns (reference_year, ksic_division, size_class, peer_level);
    the peer group is the one its family scores were compared in (``features.peers``). Groups
    under ``min_group_size`` firms give no median (peer privacy). Returns {firm_id: {name: value}}.
    """
    reference = getattr(bundle.builder, "reference_", None)
    names = [
        n
        for n in names
        if reference is not None and n in reference and n in firms and pd.api.types.is_numeric_dtype(reference[n])
    ]
    needed = {"reference_year", "ksic_division", "size_class", "peer_level"}
    if not names or not needed <= set(firms.columns):
        return {}
    ref_keys = peer_group_keys(reference)
    query = firms[firms["reference_year"].notna()]
    query_keys = peer_group_keys(query)
    out: dict[str, dict[str, float]] = {f: {} for f in query["firm_id"]}
    for level in ("division", "section", "all"):
        rows = (query["peer_level"] == level).to_numpy()
        if not rows.any():
            continue
        grouped = reference[names].groupby(ref_keys[level].to_numpy())
        medians = grouped.median()
        sizes = grouped.size()
        medians = medians[sizes.reindex(medians.index).to_numpy() >= min_group_size]
        picked = medians.reindex(query_keys[level][rows].to_numpy())
        for firm_id, values in zip(query["firm_id"].to_numpy()[rows], picked.to_numpy(), strict=True):
            out[firm_id] = {n: float(v) for n, v in zip(names, values, strict=True) if np.isfinite(v)}
    return out


def summary_page(outputs: RoundOutputs, settings: Settings) -> str:
    scores, decisions, manifest = outputs.scores, outputs.decisions, outputs.manifest
    scale = outputs.scale
    firms = outputs.result.tables["firms"].set_index("firm_id")
    grade_counts = [
        {"grade": g, "ai": int((scores["grade"] == g).sum()), "step1": int((decisions["step1_grade"] == g).sum())}
        for g in scale.labels
    ]
    region = firms["region"] if "region" in firms else pd.Series(dtype=object)
    table = decisions.assign(
        region=decisions["firm_id"].map(region).fillna("—"),
        size=decisions["size_class"].map(SIZE_CLASS_KO).fillna("미상"),
        field=decisions["focus_field"].map({f["id"]: f["ko"] for f in load_focus_fields()[0]}).fillna("해당 없음"),
    )
    breakdowns = [
        (title, group_table(table, column, settings.reports.min_group_size))
        for title, column in (("중점분야별", "field"), ("규모별", "size"), ("지역별", "region"))
    ]
    whatif, quality = outputs.step1.what_if, outputs.step1.quality
    failed = table.assign(outcome=outcome_reasons(decisions, scale.reference_grade))
    failed = failed[failed["decision"] != "pass"]
    return render(
        "round_summary.html.j2",
        round_id=", ".join(manifest["round_id"]),
        manifest=manifest,
        table_labels=TABLE_KO,
        model_label=model_label(manifest["model"]),
        reference_grade=scale.reference_grade,
        warnings=in_language(outputs.warnings, "ko"),
        counts=manifest["counts"],
        grades=grade_counts,
        breakdowns=breakdowns,
        whatif=whatif.to_dict("records"),
        whatif_columns=[c for c in whatif.columns if c != "reference_grade"],
        whatif_chart=whatif_chart(whatif, settings.step1.audit_weight, scale.reference_grade),
        psi=[
            {**r, "label": variable_label(r["variable"])}
            for r in outputs.stability
            if r["variable"].startswith("score") or r["shifted"]
        ][:40],
        min_group_size=settings.reports.min_group_size,
        outcome_reasons=group_table(failed, "outcome", settings.reports.min_group_size),
        whatif_note=whatif_note(whatif, decisions),
        whatif_labels={c: whatif_label(c) for c in whatif.columns},
        icc=quality["icc_total"],
        flagged=flagged_evaluators(quality),
        leniency_note=leniency_note(settings.step1.leniency_z, settings.step1.leniency_min_deviation),
    )


def leniency_note(z: float, min_deviation: float) -> str:
    """How the summary's leniency labels are decided (params.yaml step1.leniency_z, leniency_min_deviation)."""
    return (
        f"판정 기준: z가 {wording.josa(f'±{z:g}', '을')} 넘고 평균 편차가 {min_deviation:g}점 이상이면 관대(+) 또는 "
        "엄격(−)으로 표시합니다. z는 평가위원 효과(점)를 그 표준오차로 나눈 값입니다."
    )


def flagged_evaluators(quality: dict) -> list[dict]:
    """The flagged evaluators as the summary shows them: label, z-score and effect, from one record."""
    from jumpup.step1.audit import ASSESSMENT_KO, FLAGGED

    return [
        {
            "evaluator_id": r["evaluator_id"],
            "label": ASSESSMENT_KO[r["assessment"]],
            "z": r["leniency_z"],
            "deviation": r["mean_deviation"],
        }
        for r in quality.get("evaluators", [])
        if r.get("assessment") in FLAGGED
    ]


TABLE_KO = {"firms": "기업", "financials": "재무제표", "applications": "신청서", "audits": "현장실사"}


def outcome_reason(row, reference_grade: str) -> str:
    """The one reason that decided a firm's STEP 1 outcome, in Korean (the index's reason column)."""
    from jumpup.features.size_class import INELIGIBLE_KO
    from jumpup.step1.decisions import FLAG_KO

    if row.decision == "pass":
        return "통과: " + (
            f"STEP 1 등급 {row.step1_grade} ≥ 기준등급 {reference_grade}"
            if isinstance(row.step1_grade, str)
            else "투자사 추천 직행"
        )
    if not bool(row.eligible is True or row.eligible == True):  # noqa: E712 (nullable booleans)
        why = INELIGIBLE_KO.get(row.ineligible_reason, row.ineligible_reason)
        return f"지원 자격 미충족: {why if isinstance(why, str) and why else '판정 불가'}"
    flags = [f for f in str(row.hard_flags or "").split(";") if f]
    if flags:
        return f"결격 사유: {FLAG_KO.get(flags[0], flags[0])}"
    if not isinstance(row.step1_grade, str):
        return "STEP 1 점수 없음"
    return f"STEP 1 등급 {row.step1_grade} < 기준등급 {reference_grade}"


REASON_INPUTS = ("decision", "step1_grade", "eligible", "ineligible_reason", "hard_flags")


def outcome_reasons(decisions: pd.DataFrame, reference_grade: str) -> pd.Series:
    """``outcome_reason`` of every row of ``decisions`` (STEP 1 decisions: one row per firm).

    The reason depends only on ``REASON_INPUTS``: it is worded once per distinct combination of
    them and mapped back, so a 100,000-firm round words a few dozen reasons, not 100,000.
    """
    if decisions.empty:
        return pd.Series([], index=decisions.index, dtype=object)
    keys = decisions[list(REASON_INPUTS)]
    group = keys.groupby(list(REASON_INPUTS), dropna=False, sort=False).ngroup().to_numpy()
    _, first = np.unique(group, return_index=True)
    worded = np.array(
        [outcome_reason(r, reference_grade) for r in keys.iloc[first].itertuples(index=False)], dtype=object
    )
    return pd.Series(worded[group], index=decisions.index)


def group_table(table: pd.DataFrame, column: str, min_group_size: int) -> list[dict]:
    """Applicants and passes by group; groups under ``min_group_size`` firms are pooled into one row.

    Peer privacy: no evaluator-facing row counts fewer than ``min_group_size`` firms. The pooled
    row comes last and is named for what it holds: "기타 (소수 그룹 k개 합산)". If it is still too
    small, the smallest named groups join it until it is not, and its name lists them; a named
    row always counts only its own group.
    """
    grouped = table.groupby(column).agg(
        applicants=("firm_id", "size"), passed=("decision", lambda d: int((d == "pass").sum()))
    )
    small = grouped["applicants"] < min_group_size
    rows = grouped[~small].sort_values("applicants", ascending=False, kind="stable")
    if small.any():
        pooled = grouped[small].sum()
        joined: list[str] = []
        while pooled["applicants"] < min_group_size and len(rows):
            smallest = rows.index[-1]
            pooled += rows.loc[smallest]
            joined.insert(0, str(smallest))
            rows = rows.drop(index=smallest)
        label = f"소수 그룹 {int(small.sum())}개 합산"
        rows.loc[f"기타 ({', '.join(joined)} 및 {label})" if joined else f"기타 ({label})"] = pooled
    if rows["applicants"].sum() < min_group_size:
        return []
    return [{"group": g, "applicants": int(r["applicants"]), "passed": int(r["passed"])} for g, r in rows.iterrows()]


def variable_label(variable: str) -> str:
    """A PSI variable in Korean: the indicator's name, never its column name."""
    from jumpup.models.grading import feature_label

    return "AI 점수 (확률)" if variable.startswith("score") else feature_label(variable, "ko")


def whatif_note(whatif: pd.DataFrame, decisions: pd.DataFrame) -> str:
    """Why the what-if curve levels off, with the counts that cap it.

    However low the reference grade, a firm that fails eligibility (size, age, focus field) or has
    a hard flag cannot pass, and without a field-audit score STEP 1 has no points when an audit is
    required; the curve tops out at the firms left.
    """
    columns = [c for c in whatif.columns if c.startswith("audit_weight_")]
    if not columns or whatif.empty:
        return ""
    top = int(whatif[columns].to_numpy().max())
    eligible = decisions["eligible"].astype("boolean").fillna(False).astype(bool)
    flagged = decisions["hard_flags"].fillna("") != ""
    no_points = decisions["step1_points"].isna() & eligible & ~flagged
    blocked = [
        f"지원 자격 미충족 {int((~eligible).sum())}개사",
        f"결격 사유 {int((eligible & flagged).sum())}개사",
        f"STEP 1 점수가 없는 기업(현장실사 점수 없음 등) {int(no_points.sum())}개사",
    ]
    blocked = [b for b in blocked if not b.endswith(" 0개사")]
    if not blocked:
        return f"곡선은 {top}개사에서 더 오르지 않습니다: 기준등급을 가장 낮추면 신청 기업이 모두 통과합니다."
    return (
        f"곡선은 {top}개사에서 더 오르지 않습니다. 기준등급을 아무리 낮춰도 신청 {len(decisions)}개사 중 "
        f"{', '.join(blocked)}는 통과할 수 없기 때문입니다."
    )


BROWSER_FAILED = Notice("PDF reports incomplete", "PDF 보고서를 모두 만들지 못했습니다")  # then the browser's error


def write_round_reports(
    out_dir: Path,
    outputs: RoundOutputs,
    settings: Settings,
    language: str,
    progress: Callable[[str], None] | None = None,
    firm_reports: bool = True,
) -> dict:
    """Write the round summary and index, and with ``firm_reports`` every firm's page and PDF.

    Returns what was written: page and PDF counts, seconds per step, the font record and any
    warning an operator must see. PDFs need a Chromium browser; without one the HTML is written
    and a warning says so. The round summary lists these warnings beside the round's own
    (``outputs.warnings``): a missing browser or font is known before any page is drawn, and a
    browser that fails while printing has the summary page written again with the failure.
    """
    notify = progress or (lambda stage: None)
    report_dir = out_dir / "reports"
    firm_dir = report_dir / "firms"
    shutil.rmtree(firm_dir, ignore_errors=True)  # a rerun leaves no page of an earlier run behind
    (report_dir / "round_summary.pdf").unlink(missing_ok=True)  # nor the summary PDF when none is printed
    firm_dir.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    notify("reports: pages")
    pages = firm_pages(outputs, settings, language) if firm_reports else {}
    record: dict = {"firm_pages": len(pages), "pdfs": 0, "seconds": seconds, "warnings": []}
    pdf_wanted = settings.reports.pdf and bool(pages)
    browser = find_browser() if pdf_wanted else None
    if pdf_wanted and browser is None:
        record["warnings"].append(
            Notice(
                "PDF reports not written: no Chromium on this machine (Debian package 'chromium')",
                "PDF 보고서를 만들지 못했습니다: 이 컴퓨터에 Chromium이 없습니다 (Debian 패키지 'chromium').",
            )
        )
    fonts = find_report_fonts() if settings.reports.embed_font else {}
    if settings.reports.embed_font and not fonts:
        record["warnings"].append(
            Notice(
                "no Korean font found to ship with the reports (Debian package 'fonts-noto-cjk')",
                "보고서에 넣을 한글 글꼴을 찾지 못했습니다 (Debian 패키지 'fonts-noto-cjk').",
            )
        )

    def summary_html() -> str:  # the round's own warnings, then what the reports could not do
        return summary_page(replace(outputs, warnings=[*outputs.warnings, *record["warnings"]]), settings)

    summary = summary_html()
    firms = [
        {
            "firm_id": r.firm_id,
            # the report's file name (``safe_slug``: letters, digits and ``._-~``, safe in a URL as it is)
            "slug": safe_slug(r.firm_id),
            "name": r.name,
            "grade": r.grade,
            "decision": wording.decision_ko(r.decision),
            "reason": r.reason,
            "page": firm_reports,
            "pdf": browser is not None,
        }
        for r in _index_rows(outputs).itertuples(index=False)
    ]

    def index_page() -> str:
        return render(
            "index.html.j2",
            round_id=", ".join(outputs.manifest["round_id"]),
            model_label=model_label(outputs.manifest["model"]),
            reports_href="../reports",
            firms=firms,
        )

    index = index_page()
    seconds["pages"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    if settings.reports.embed_font:
        notify("reports: font")
        # With the wording of a printing failure, which may be added to the summary after the subset is cut.
        texts = [*pages.values(), summary, index, BROWSER_FAILED.ko]
        record["font"] = write_report_fonts(texts, report_dir / "assets", fonts)
    else:
        (report_dir / "assets").mkdir(parents=True, exist_ok=True)
        (report_dir / "assets" / "fonts.css").write_text("", encoding="utf-8")
    seconds["font"] = round(time.perf_counter() - started, 2)
    for firm_id, html in pages.items():
        (firm_dir / f"{safe_slug(firm_id)}.html").write_text(html, encoding="utf-8")
    (report_dir / "round_summary.html").write_text(summary, encoding="utf-8")
    operator_dir = out_dir / settings.reports.operator_dir
    operator_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "index.html").unlink(missing_ok=True)  # an earlier layout kept the index among the reports
    (operator_dir / "index.html").write_text(index, encoding="utf-8")
    record["operator_index"] = str(operator_dir / "index.html")
    started = time.perf_counter()
    if browser is not None:
        notify("reports: PDF")
        jobs = [(firm_dir / f"{safe_slug(f)}.html", firm_dir / f"{safe_slug(f)}.pdf") for f in pages]
        jobs.append((report_dir / "round_summary.html", report_dir / "round_summary.pdf"))  # with the firm PDFs
        try:
            with HeadlessBrowser(browser, settings.reports.pdf_tabs, settings.reports.browser_timeout_seconds) as b:
                record["pdfs"] = b.print_pdfs(jobs)
                record["browser"] = b.version
        except BrowserError as exc:
            record["warnings"].append(Notice(f"{BROWSER_FAILED}: {exc}", f"{BROWSER_FAILED.ko}: {exc}"))
            (report_dir / "round_summary.html").write_text(summary_html(), encoding="utf-8")
            for firm in firms:  # the index links only the PDFs that were printed
                firm["pdf"] = (firm_dir / f"{firm['slug']}.pdf").is_file()
            (operator_dir / "index.html").write_text(index_page(), encoding="utf-8")
        seconds["pdf"] = round(time.perf_counter() - started, 2)
    return record


def _index_rows(outputs: RoundOutputs) -> pd.DataFrame:
    firms = outputs.result.tables["firms"].set_index("firm_id")
    decisions = outputs.decisions.assign(reason=outcome_reasons(outputs.decisions, outputs.scale.reference_grade))
    rows = outputs.scores[["firm_id", "grade"]].merge(
        decisions[["firm_id", "decision", "reason"]], on="firm_id", how="left"
    )
    names = firms["name"] if "name" in firms else pd.Series(dtype=object)
    return rows.assign(name=rows["firm_id"].map(names).fillna(""))
