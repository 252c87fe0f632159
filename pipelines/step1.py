"""Stage ``step1``: STEP 1 decisions for a round, written with the decision log.

The rules are pure (``jumpup.step1.decisions.screen``); this stage only reads its inputs, calls
them and writes ``step1_decisions.csv``, ``whatif.csv`` and its chart, ``audit_quality.json``,
``audit_per_firm.csv``, the STEP 2 dossiers and one decision-log record.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pandas as pd

from jumpup.intake.ingest import IngestResult
from jumpup.models.grading import MasterScale
from jumpup.provenance import code_version, file_sha256, frame_sha256, write_json
from jumpup.reference import audit_rubric
from jumpup.rendering.step1_pages import write_dossiers, write_whatif_chart
from jumpup.safe_text import write_csv
from jumpup.schemas import DECISIONS, SCORES
from jumpup.settings import PROJECT_ROOT, Settings
from jumpup.step1.decisions import Step1Result, screen

DECISION_LOG = PROJECT_ROOT / "registry" / "step1_decision_log.jsonl"


def decide_round(scores: pd.DataFrame, ingested: IngestResult, settings: Settings, scale: MasterScale) -> Step1Result:
    """STEP 1 on an ingested round and its scores, with the hand-over contracts checked.

    ``scale`` is the master scale the scores were graded on, with the round's reference grade.
    """
    SCORES.validate(scores)
    result = screen(
        scores, ingested.tables["applications"], ingested.tables.get("audits"), audit_rubric(), settings.step1, scale
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
    log_path: Path = DECISION_LOG,
    growth_summary: dict[str, str] | None = None,
) -> dict:
    """Write STEP 1's files into ``out_dir`` and append one record to the decision log.

    ``model`` describes the model that scored the round (version, run id, hash). Returns the
    record, with the recommendation-share check, warnings and dossier count added.
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
    dossiers = write_dossiers(
        result.decisions,
        scores,
        result.audit_summary,
        ingested.tables["firms"],
        rubric,
        out_dir / "dossiers",
        growth_summary,
    )
    applications = ingested.tables["applications"]
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
        "counts": {
            "applicants": len(result.decisions),
            "passed": int((result.decisions["decision"] == "pass").sum()),
            "quarantined_rows": len(ingested.quarantine),
        },
        "decisions_sha256": file_sha256(decisions_file),
        "code_version": code_version(),
    }
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    report = {
        **record,
        "recommendation_share": result.share,
        "warnings": result.warnings,
        "dossiers": len(dossiers),
        "icc_total": result.quality["icc_total"],
    }
    write_json(out_dir / "step1_summary.json", {k: v for k, v in report.items() if k != "at"})
    return report


def run(
    scores_path: Path,
    ingested: IngestResult,
    out_dir: Path,
    settings: Settings,
    log_path: Path = DECISION_LOG,
) -> dict:
    """``jumpup step1``: STEP 1 from a ``scores.csv`` and an ingested round."""
    started = time.perf_counter()
    scores = pd.read_csv(scores_path, dtype={"firm_id": str})
    try:
        result = decide_round(scores, ingested, settings, MasterScale.from_settings(settings.grade_scale))
    except ValueError as exc:
        raise ValueError(f"{scores_path}: {exc}") from None
    manifest_file = Path(scores_path).with_name("scores_manifest.json")
    model = json.loads(manifest_file.read_text()) if manifest_file.exists() else {}
    report = write_step1(result, scores, ingested, out_dir, settings, model, log_path)
    report["seconds"] = round(time.perf_counter() - started, 2)
    return report
