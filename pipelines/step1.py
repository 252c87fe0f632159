"""Stage ``step1``: STEP 1 decisions for a round, written with the decision log.

The rules are pure (``jumpup.step1.decisions.screen``); this stage only reads its inputs, calls
them and writes ``step1_decisions.csv``, ``whatif.csv`` and its chart, ``audit_quality.json``,
``audit_per_firm.csv``, the STEP 2 dossiers and one decision-log record.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from jumpup.frames import is_known
from jumpup.intake.ingest import IngestResult
from jumpup.intake.readers import InputFileError
from jumpup.locks import out_dir_lock, removed_on_failure
from jumpup.models.grading import MasterScale
from jumpup.provenance import code_version, file_sha256, frame_sha256, write_json
from jumpup.reference import audit_rubric
from jumpup.rendering.step1_pages import write_dossiers, write_whatif_chart
from jumpup.safe_text import write_csv
from jumpup.schemas import DECISIONS, SCORES
from jumpup.settings import Settings
from jumpup.step1.audit import ScoredAudits, score_audits
from jumpup.step1.decisions import Step1Result, as_of_year, screen
from jumpup.step1.eligibility import check_size_tables, eligibility_record, round_eligibility


def decision_log_path(settings: Settings, out_dir: Path, step: str = "step1") -> Path:
    """Where a run of ``step`` (step1, step2, review) appends its decision-log record.

    The configured store (``paths.decision_log``, the STEP 1 log; the other steps' logs sit beside
    it as ``<step>_decision_log.jsonl``), else ``<out_dir>/<step>_decision_log.jsonl``: no command
    writes outside its ``--out`` and the configured stores.
    """
    name = f"{step}_decision_log.jsonl"
    configured = settings.paths.decision_log
    if configured:
        path = settings.paths.resolve(Path(configured))
        return path if step == "step1" else path.with_name(name)
    return Path(out_dir) / name


def eligibility_inputs(ingested: IngestResult, settings: Settings) -> dict:
    """The keyword arguments of ``round_eligibility`` for a round, checked: its tables, as-of year and settings.

    Raises ``InputFileError`` when the round has no application (a header-only file, or every
    row quarantined) and ``SizeTableMissing`` (a ``ValueError``) when an application date has
    no size table. A round checks these before its output folder exists and judges eligibility
    itself later, beside the features.
    """
    applications = ingested.tables["applications"]
    if applications.empty:
        report = next((r for r in ingested.reports if r.table == "applications"), None)
        where = report.path if report else "applications"
        counts = f"{report.rows_read} row(s) read, {report.quarantined} quarantined" if report else "no rows"
        raise InputFileError(
            f"{where}: no application to decide ({counts}; see quarantine.csv); a round needs at least one "
            f"application row under the header"
        )
    check_size_tables(applications, settings.program)
    return {
        "firms": ingested.tables["firms"],
        "financials": ingested.tables["financials"],
        "applications": applications,
        "as_of": as_of_year(applications),
        "size_settings": settings.size_class,
        "program": settings.program,
    }


def eligibility_of(ingested: IngestResult, settings: Settings) -> pd.DataFrame:
    """Round-time eligibility of every applicant with this run's ``program`` settings
    (``round_eligibility``: one row per applying firm); raises as ``eligibility_inputs`` does."""
    return round_eligibility(**eligibility_inputs(ingested, settings))


def audit_round(ingested: IngestResult, settings: Settings) -> ScoredAudits:
    """The round's field audit scored against the rubric in force (``data/reference``)."""
    step1 = settings.step1
    return score_audits(
        ingested.tables.get("audits"),
        ingested.tables["applications"]["firm_id"],
        audit_rubric(),
        step1.leniency_z,
        step1.leniency_min_deviation,
    )


def decide_round(
    scores: pd.DataFrame,
    ingested: IngestResult,
    settings: Settings,
    scale: MasterScale,
    eligibility: pd.DataFrame | None = None,
    scored: ScoredAudits | None = None,
) -> Step1Result:
    """STEP 1 on an ingested round and its scores, with the hand-over contracts checked.

    ``scale`` is the master scale the scores were graded on, with the round's reference grade;
    ``eligibility`` is computed from the round with ``settings.program`` when not given; ``scored``
    is the field audit scored by ``audit_round`` (``screen`` scores it when not given).
    """
    SCORES.validate(scores)
    if eligibility is None:
        eligibility = eligibility_of(ingested, settings)
    result = screen(
        scores,
        ingested.tables["applications"],
        ingested.tables.get("audits"),
        audit_rubric(),
        settings.step1,
        scale,
        eligibility,
        scored,
    )
    DECISIONS.validate(result.decisions)
    return result


def write_decisions(decisions: pd.DataFrame, path: Path) -> Path:
    """``step1_decisions.csv``: UTF-8, six significant digits; returns ``path``."""
    write_csv(decisions, path, encoding="utf-8", float_format="%.6g")
    return path


def write_step1(
    result: Step1Result,
    scores: pd.DataFrame,
    ingested: IngestResult,
    out_dir: Path,
    settings: Settings,
    model: dict,
    log_path: Path | None = None,
    growth_summary: dict[str, str] | None = None,
    dossier: pd.DataFrame | None = None,
) -> dict:
    """Write STEP 1's files and dossiers into ``out_dir`` and append one record to the decision log.

    ``scores`` are the scores STEP 1 decided on (their hash goes to the log); ``dossier``, when
    given, holds the passed firms' scores with reasons worded as on the grade report, for the STEP
    2 dossiers. ``model`` describes the model that scored the round (version, run id, hash).
    Returns the record, with the recommendation-share check, warnings and dossier count added.
    The three steps (``write_step1_files``, ``write_step1_dossiers``, ``append_decision_record``)
    are also called one by one by the round, which writes the dossiers once its growth paths exist.
    """
    report = write_step1_files(result, scores, ingested, out_dir, settings, model)
    write_step1_dossiers(result, scores if dossier is None else dossier, ingested, out_dir, growth_summary, model)
    append_decision_record(report, Path(log_path) if log_path else decision_log_path(settings, Path(out_dir)))
    return report


def write_step1_files(
    result: Step1Result,
    scores: pd.DataFrame,
    ingested: IngestResult,
    out_dir: Path,
    settings: Settings,
    model: dict,
) -> dict:
    """STEP 1's tables, what-if chart, audit quality and ``step1_summary.json`` (no dossiers, no log record).

    Returns the decision-log record (``append_decision_record``) with the recommendation-share
    check, warnings and the count of dossiers (one per passed firm) added.
    """
    rubric = audit_rubric()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    decisions_file = write_decisions(result.decisions, out_dir / "step1_decisions.csv")
    write_csv(result.what_if, out_dir / "whatif.csv")
    (out_dir / "whatif.png").unlink(missing_ok=True)  # drawn as SVG now; never leave an older chart behind
    reference_grade = settings.grade_scale.reference_grade
    write_whatif_chart(result.what_if, out_dir / "whatif.svg", settings.step1.audit_weight, reference_grade)
    write_json(out_dir / "audit_quality.json", result.quality)
    write_csv(result.audit_summary.round(4), out_dir / "audit_per_firm.csv", encoding="utf-8")
    write_csv(ingested.quarantine, out_dir / "quarantine.csv")
    applications = ingested.tables["applications"]
    passed = int((result.decisions["decision"] == "pass").sum())
    record = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "round_id": sorted(applications["round_id"].unique().tolist()),
        "inputs_sha256": {"scores": frame_sha256(scores), **{r.table: r.sha256 for r in ingested.reports}},
        "rubric_version": rubric["version"],
        "model": {k: model.get(k) for k in ("model", "model_version", "model_run_id", "model_sha256") if k in model},
        "params": {
            "step1": settings.step1.model_dump(mode="json"),
            "grade_scale": settings.grade_scale.model_dump(mode="json"),
        },
        "eligibility": eligibility_record(
            settings.program, settings.size_class, sorted(set(pd.to_datetime(applications["applied_on"]).dt.date))
        ),
        "counts": {
            "applicants": len(result.decisions),
            "passed": passed,
            "quarantined_rows": len(ingested.quarantine),
        },
        "decisions_sha256": file_sha256(decisions_file),
        "code_version": code_version(),
    }
    added = (result.share, result.warnings, passed, result.quality["icc_total"])
    report = {**record, **dict(zip(REPORT_ONLY, added, strict=True))}
    write_json(out_dir / "step1_summary.json", {k: v for k, v in report.items() if k != "at"})
    return report


def write_step1_dossiers(
    result: Step1Result,
    scores: pd.DataFrame,
    ingested: IngestResult,
    out_dir: Path,
    growth_summary: dict[str, str] | None,
    model: dict,
) -> list[Path]:
    """One STEP 2 dossier per passed firm under ``out_dir/dossiers`` (an earlier run's removed first).

    ``scores``: the passed firms' scores, reasons worded as on the grade report; ``growth_summary``:
    the growth sentence per firm (``pipelines.round.growth_sentences``).
    """
    return write_dossier_files(
        out_dir, growth_summary=growth_summary, model=model, **dossier_inputs(result, scores, ingested)
    )


def dossier_inputs(result: Step1Result, scores: pd.DataFrame, ingested: IngestResult) -> dict[str, pd.DataFrame]:
    """What the dossiers read, cut to the firms that passed: ``decisions``, ``scores``,
    ``audit_summary`` and ``firms``, one row per passed firm (a small hand-over to a side branch)."""
    decisions = result.decisions[result.decisions["decision"] == "pass"]
    passed = decisions["firm_id"]
    firms = ingested.tables["firms"]
    return {
        "decisions": decisions,
        "scores": scores[is_known(scores["firm_id"], passed)],
        "audit_summary": result.audit_summary[is_known(result.audit_summary["firm_id"], passed)],
        "firms": firms[is_known(firms["firm_id"], passed)],
    }


def dossier_shares(inputs: dict[str, pd.DataFrame], parts: int) -> list[dict[str, pd.DataFrame]]:
    """``dossier_inputs`` in ``parts`` shares of the passed firms (contiguous, in decision order), each
    with only its own firms' rows, for writers working side by side; a firm's dossier is the same
    whichever share writes it."""
    decisions = inputs["decisions"]
    shares = []
    for rows in np.array_split(np.arange(len(decisions)), parts):
        firm_ids = decisions["firm_id"].iloc[rows]
        shares.append({name: frame[is_known(frame["firm_id"], firm_ids)] for name, frame in inputs.items()})
    return shares


def clear_dossiers(out_dir: Path) -> None:
    """Remove ``out_dir/dossiers``, so a rerun leaves no dossier of an earlier run behind."""
    shutil.rmtree(Path(out_dir) / "dossiers", ignore_errors=True)


def write_dossier_files(
    out_dir: Path,
    decisions: pd.DataFrame,
    scores: pd.DataFrame,
    audit_summary: pd.DataFrame,
    firms: pd.DataFrame,
    growth_summary: dict[str, str] | None,
    model: dict,
    clear: bool = True,
) -> list[Path]:
    """``write_step1_dossiers`` from its inputs cut to the passed firms (``dossier_inputs``, or one of
    its ``dossier_shares``); the folder is first cleared (``clear_dossiers``) unless ``clear`` is
    False, as for the shares after the first. Returns the files written."""
    dossier_dir = Path(out_dir) / "dossiers"
    if clear:
        clear_dossiers(out_dir)
    return write_dossiers(decisions, scores, audit_summary, firms, audit_rubric(), dossier_dir, growth_summary, model)


# What ``write_step1_files`` adds to the decision-log record for the caller; not logged.
REPORT_ONLY = ("recommendation_share", "warnings", "dossiers", "icc_total")


def append_decision_record(report: dict, log_path: Path) -> None:
    """Append the decision-log record of ``report`` (``write_step1_files``) as one JSON line to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as handle:
        record = {k: v for k, v in report.items() if k not in REPORT_ONLY}
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def run(
    scores_path: Path,
    ingested: IngestResult,
    out_dir: Path,
    settings: Settings,
    log_path: Path | None = None,
) -> dict:
    """``jumpup step1``: STEP 1 from a ``scores.csv`` and an ingested round.

    The scores are read and the round decided before ``out_dir`` is made: a missing or unreadable
    file, or a date no size table covers (``SizeTableMissing``), leaves no folder; a run that fails
    while writing removes what it created (``removed_on_failure``).
    """
    started = time.perf_counter()
    scores = pd.read_csv(scores_path, dtype={"firm_id": str})
    eligibility = eligibility_of(ingested, settings)
    try:
        result = decide_round(scores, ingested, settings, MasterScale.from_settings(settings.grade_scale), eligibility)
    except ValueError as exc:
        raise ValueError(f"{scores_path}: {exc}") from None
    with removed_on_failure(Path(out_dir)), out_dir_lock(Path(out_dir), "step1"):
        return _run(scores_path, scores, ingested, result, Path(out_dir), settings, log_path, started)


def _run(
    scores_path: Path,
    scores: pd.DataFrame,
    ingested: IngestResult,
    result: Step1Result,
    out_dir: Path,
    settings: Settings,
    log_path: Path,
    started: float,
) -> dict:
    manifest_file = Path(scores_path).with_name("scores_manifest.json")
    model = json.loads(manifest_file.read_text()) if manifest_file.exists() else {}
    report = write_step1(
        result, scores, ingested, out_dir, settings, model, log_path or decision_log_path(settings, out_dir)
    )
    report["seconds"] = round(time.perf_counter() - started, 2)
    return report
