"""``jumpup step2``: STEP 2 records and the final selection from a scored round.

Reads what ``jumpup round`` wrote (STEP 1 decisions, scores, growth paths, the ingested round)
and the committee's evaluation file, checks the files against their contracts with quarantine,
calls the pure rules (``jumpup.step2.selection.decide_step2``) and writes the STEP 2 record, the
selected cohort (with everything the yearly review needs: forecasts, scores at selection, the
statement history), the selection page, a manifest and the decision log.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pandas as pd

from jumpup.features.focus_fields import load_focus_fields
from jumpup.intake.ingest import load_ingested
from jumpup.intake.readers import InputFileError
from jumpup.intake.step2_contracts import (
    EVALUATORS,
    OVERRIDES,
    STEP2_EVALUATIONS,
    KnownIds,
    evaluations_schema,
    evaluators_schema,
    overrides_schema,
    read_checked,
)
from jumpup.pipelines.score import unpromoted_notice
from jumpup.pipelines.step1 import decision_log_path
from jumpup.provenance import code_version, file_sha256, frame_sha256, write_json
from jumpup.rendering.cohort_pages import write_selection_page
from jumpup.safe_text import guard_formulas, unguard_formulas
from jumpup.settings import Settings
from jumpup.step2.selection import GENERAL_COMMITTEE, SELECTION, decide_step2

ROUND_FILES = ("step1_decisions.csv", "scores.csv", "growth_paths.csv", "manifest.json", "ingested")
COHORT_FILES = ("selection.csv", "manifest.json", "cohort/growth_paths.csv", "cohort/scores.csv")


def read_round(round_out: Path) -> dict:
    """The outputs of ``jumpup round`` that STEP 2 reads; a clear ``InputFileError`` when one is missing."""
    round_out = Path(round_out)
    missing = [name for name in ROUND_FILES if not (round_out / name).exists()]
    if missing:
        raise InputFileError(
            f"{round_out}: not the output of 'jumpup round' (missing {', '.join(missing)}); run 'jumpup round' first"
        )
    return {
        "step1": pd.read_csv(round_out / "step1_decisions.csv", dtype={"firm_id": str, "round_id": str}),
        "scores": pd.read_csv(round_out / "scores.csv", dtype={"firm_id": str}),
        "paths": pd.read_csv(round_out / "growth_paths.csv", dtype={"firm_id": str}),
        "manifest": json.loads((round_out / "manifest.json").read_text(encoding="utf-8")),
        "ingested": load_ingested(round_out / "ingested"),
    }


def committee_names() -> dict[str, str]:
    """Korean committee names: one per focus field, and the general committee."""
    return {**{f["id"]: f"{f['ko']} 분과" for f in load_focus_fields()[0]}, GENERAL_COMMITTEE: "일반 분과"}


def run_step2(
    round_out: Path,
    evaluations_path: Path,
    out_dir: Path,
    settings: Settings,
    evaluators_path: Path | None = None,
    overrides_path: Path | None = None,
    log_path: Path | None = None,
    previous_dir: Path | None = None,
) -> dict:
    """STEP 2 and the final selection for the round in ``round_out``; returns the manifest.

    Raises ``InputFileError`` when a file is missing, unreadable or lacks a required column. Rows
    that break a contract (a score off the scale, an evaluation for a firm that did not pass
    STEP 1, an override without a reason) are quarantined in ``quarantine.csv``. With
    ``previous_dir`` (the output of an earlier STEP 2 run of the round), each firm's earlier
    decision is shown beside the new one and every change is logged as a re-evaluation.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    inputs = read_round(round_out)
    step1, ingested = inputs["step1"], inputs["ingested"]
    passed = step1[step1["decision"] == "pass"].reset_index(drop=True)
    applicants = frozenset(step1["firm_id"])
    passed_ids = frozenset(passed["firm_id"])
    known = (
        KnownIds("firm_id", applicants, "unknown_firm", "firm_id is not an applicant of this round"),
        KnownIds(
            "firm_id",
            passed_ids,
            "not_passed_step1",
            "the firm did not pass STEP 1; STEP 2 evaluates only firms that passed",
        ),
    )
    s2 = settings.step2
    checked = {
        "step2_evaluations": read_checked(
            evaluations_path, STEP2_EVALUATIONS, evaluations_schema(s2.score_min, s2.score_max), known
        )
    }
    if evaluators_path is not None:
        checked["evaluators"] = read_checked(evaluators_path, EVALUATORS, evaluators_schema())
    if overrides_path is not None:
        checked["overrides"] = read_checked(overrides_path, OVERRIDES, overrides_schema(), known)
    empty = {
        "evaluators": pd.DataFrame(columns=["evaluator_id", "affiliation"]),
        "overrides": pd.DataFrame(columns=["firm_id", "kind", "decision", "reason", "author"]),
    }
    tables = {name: checked[name].frame if name in checked else frame for name, frame in empty.items()}
    previous = None
    if previous_dir is not None:
        earlier = Path(previous_dir) / "step2_decisions.csv"
        if not earlier.is_file():
            raise InputFileError(f"{earlier}: earlier STEP 2 decisions not found (--previous must be a step2 output)")
        previous = pd.read_csv(earlier, dtype=str, keep_default_na=False)
        previous["firm_id"] = unguard_formulas(previous["firm_id"])
    audits = ingested.tables.get("audits", pd.DataFrame(columns=["firm_id", "evaluator_id", "evaluator_role"]))
    result = decide_step2(
        passed,
        ingested.tables["firms"],
        ingested.tables["financials"],
        audits,
        checked["step2_evaluations"].frame,
        tables["evaluators"],
        tables["overrides"],
        s2,
        committee_names(),
        previous,
    )
    warnings = list(result.warnings)
    unpromoted = unpromoted_notice(inputs["manifest"].get("model", {}))  # the model that decided STEP 1
    if unpromoted:
        warnings.insert(0, unpromoted)
    if evaluators_path is None:
        warnings.append(
            "no evaluator registry (--evaluators): field-audit conflicts of interest were not checked; "
            "STEP 2 conflicts only where the evaluations carry an affiliation"
        )

    out_dir.mkdir(parents=True, exist_ok=True)
    quarantine = pd.concat([c.quarantine for c in checked.values()], ignore_index=True)
    decisions_file = out_dir / "step2_decisions.csv"
    guard_formulas(result.decisions).to_csv(decisions_file, index=False, encoding="utf-8", float_format="%.6g")
    guard_formulas(result.votes).to_csv(
        out_dir / "committee_votes.csv", index=False, encoding="utf-8", float_format="%.6g"
    )
    guard_formulas(result.conflicts).to_csv(out_dir / "conflicts.csv", index=False, encoding="utf-8")
    guard_formulas(result.governance).to_csv(out_dir / "audit_governance.csv", index=False, encoding="utf-8")
    guard_formulas(quarantine).to_csv(out_dir / "quarantine.csv", index=False, encoding="utf-8")
    selection = _selection_table(result.selection, ingested.tables["firms"])
    SELECTION.validate(selection)
    guard_formulas(selection).to_csv(out_dir / "selection.csv", index=False, encoding="utf-8", float_format="%.6g")
    cohort_ids = set(selection["firm_id"])
    cohort_dir = out_dir / "cohort"
    cohort_dir.mkdir(exist_ok=True)
    inputs["paths"][inputs["paths"]["firm_id"].isin(cohort_ids)].to_csv(
        cohort_dir / "growth_paths.csv", index=False, encoding="utf-8"
    )
    inputs["scores"][inputs["scores"]["firm_id"].isin(cohort_ids)].to_csv(
        cohort_dir / "scores.csv", index=False, encoding="utf-8"
    )
    for name in ("firms", "financials"):
        table = ingested.tables[name]
        table[table["firm_id"].isin(cohort_ids)].reset_index(drop=True).to_parquet(
            cohort_dir / f"{name}.parquet", index=False
        )

    files = [c.report.__dict__ for c in checked.values()]
    counts = {
        "passed_step1": len(passed),
        "evaluated": int(result.decisions["consensus"].ne("not_evaluated").sum()),
        "unanimous_select": int((result.decisions["consensus"] == "unanimous_select").sum()),
        "unanimous_reject": int((result.decisions["consensus"] == "unanimous_reject").sum()),
        "split": int((result.decisions["consensus"] == "split").sum()),
        "too_few_members": int((result.decisions["consensus"] == "too_few_members").sum()),
        "overrides": sum(e["event"] in ("override", "appeal") for e in result.log_entries),
        "re_evaluated_changes": sum(e["event"] == "re_evaluation" for e in result.log_entries),
        "selected": len(selection),
        "over_cap": int((result.decisions["final"] == "over_cap").sum()),
        "conflicts": len(result.conflicts),
        "governance_breaches": int((~result.governance["governance_ok"]).sum()) if len(result.governance) else 0,
        "quarantined_rows": len(quarantine),
    }
    tracks = selection["track"].value_counts().reindex(["entry", "growth"], fill_value=0).to_dict()
    manifest = {
        "stage": "step2",
        "round_id": inputs["manifest"].get("round_id"),
        "as_of": inputs["manifest"].get("as_of"),
        "selection_year": int(inputs["manifest"].get("as_of")) + 1,
        "model": inputs["manifest"].get("model", {}),
        "code_version": code_version(),
        "round_outputs_sha256": {
            name: file_sha256(Path(round_out) / name)
            for name in ("step1_decisions.csv", "scores.csv", "growth_paths.csv")
        },
        "files": files,
        "params": {"step2": s2.model_dump(mode="json")},
        "counts": counts,
        "tracks": {k: int(v) for k, v in tracks.items()},
        "recommendation_share": result.share,
        "outputs_sha256": {
            name: file_sha256(out_dir / name)
            for name in (
                "step2_decisions.csv",
                "selection.csv",
                "committee_votes.csv",
                "conflicts.csv",
                "quarantine.csv",
            )
        },
        "warnings": warnings,
        "warnings_ko": [getattr(w, "ko", str(w)) for w in warnings],
    }
    manifest["reports"] = {
        "selection": str(write_selection_page(result, selection, manifest, out_dir / "reports" / "selection.html"))
    }
    write_json(out_dir / "manifest.json", manifest)
    _log(log_path or decision_log_path(settings, out_dir, "step2"), manifest, result, decisions_file)
    manifest["seconds"] = round(time.perf_counter() - started, 2)
    return manifest


def _selection_table(selection: pd.DataFrame, firms: pd.DataFrame) -> pd.DataFrame:
    names = (
        firms.drop_duplicates("firm_id").set_index("firm_id")["name"] if "name" in firms else pd.Series(dtype=object)
    )
    table = selection[
        [
            "firm_id",
            "round_id",
            "committee",
            "track",
            "track_basis",
            "recommended",
            "recommending_investor",
            "step1_grade",
            "step1_points",
            "ai_grade",
            "size_class",
            "focus_field",
            "as_of",
            "decided_by",
        ]
    ].copy()
    table.insert(1, "name", table["firm_id"].map(names))
    table["selection_year"] = table["as_of"].astype(int) + 1
    return table.sort_values("firm_id", kind="stable").reset_index(drop=True)


def _log(log_path: Path, manifest: dict, result, decisions_file: Path) -> None:
    """Append one record per run: inputs, counts, every firm's decision and every override or appeal."""
    record = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "stage": "step2",
        "round_id": manifest["round_id"],
        "inputs_sha256": {f["table"]: f["sha256"] for f in manifest["files"]} | manifest["round_outputs_sha256"],
        "model": {k: manifest["model"].get(k) for k in ("model", "model_version", "model_run_id", "model_sha256")},
        "params": manifest["params"],
        "counts": manifest["counts"],
        "recommendation_share": manifest["recommendation_share"],
        "decisions": [
            {
                "firm_id": r.firm_id,
                "committee": r.committee,
                "consensus": r.consensus,
                "committee_decision": r.committee_decision,
                "decision": r.decision,
                "decided_by": r.decided_by,
                "final": r.final,
            }
            for r in result.decisions.itertuples(index=False)
        ],
        "overrides": result.log_entries,
        "decisions_sha256": file_sha256(decisions_file),
        "data_sha256": frame_sha256(result.decisions.astype(str)),
        "code_version": manifest["code_version"],
    }
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
