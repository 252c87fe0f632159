"""``jumpup round``: score one application round end to end, in one batch.

ingest with quarantine → features against the model's reference population (size class, focus
field) → graded scores with reasons → STEP 1 decisions, with the peer growth paths forecast beside
them in a side branch (``pipelines/branches.py``) → dossiers and reports. Every
stage records a fingerprint of what it read (input hashes, model, params, code version); run again
on the same inputs, a finished stage is reused instead of redone, and a stage whose inputs changed
is redone, so an interrupted run resumes and no output is ever duplicated.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from jumpup.features.builder import panel_rows
from jumpup.frames import is_known
from jumpup.intake.ingest import (
    PanelChecked,
    check_audits,
    input_sha256,
    open_checked_panel,
    require_directory,
    write_outputs,
)
from jumpup.locks import check_out_dir, out_dir_lock, removed_on_failure
from jumpup.models.bundle import GrowthModelBundle, attach_missing_inputs, model_matrix
from jumpup.models.grading import MasterScale, feature_label
from jumpup.models.metrics import psi
from jumpup.notices import Notice
from jumpup.pipelines.branches import SideBranch, checked_growth_paths, side_branch
from jumpup.pipelines.score import load_bundle, unpromoted_notice
from jumpup.pipelines.step1 import (
    append_decision_record,
    audit_round,
    clear_dossiers,
    decide_round,
    decision_log_path,
    dossier_inputs,
    dossier_shares,
    eligibility_inputs,
    write_dossier_files,
    write_step1_files,
)
from jumpup.provenance import code_version, file_sha256, frame_sha256, write_json
from jumpup.reference import audit_rubric
from jumpup.rendering.round_reports import RoundOutputs, dossier_scores, write_round_reports
from jumpup.rendering.wording import growth_sentence, josa
from jumpup.rendering.workbook import evaluator_frame, write_workbook
from jumpup.safe_text import write_csv
from jumpup.schemas import FEATURES, GROWTH_PATHS, SCORES
from jumpup.settings import Settings
from jumpup.step1.decisions import as_of_year
from jumpup.step1.eligibility import round_eligibility
from jumpup.tracking import use_run

STAGES = ("score", "growth_paths")


def has_finished_stage(out_dir: Path) -> bool:
    """Whether ``out_dir`` holds a finished stage a rerun of the round resumes from (``StageState``)."""
    return (Path(out_dir) / ".stages" / "fingerprints.json").is_file()


class StageState:
    """Results of finished stages, kept in ``<out>/.stages/`` with the fingerprint of their inputs.

    A stage whose fingerprint matches is loaded instead of recomputed; finishing a stage drops every
    later stage's result, so nothing downstream of a changed input is ever reused. ``resumed``
    lists the stages loaded so, in order.
    """

    def __init__(self, out_dir: Path):
        self.dir = out_dir / ".stages"
        self.path = self.dir / "fingerprints.json"
        self.done = self._read_fingerprints()
        self.resumed: list[str] = []

    def _damaged(self, path: Path, why: str) -> ResumeFileError:
        return ResumeFileError(
            f"{path}: resume file is damaged ({why}); delete {self.dir} to run the round afresh "
            f"(the inputs are untouched; finished stages are redone)"
        )

    def _read_fingerprints(self) -> dict:
        if not self.path.exists():
            return {}
        try:
            done = json.loads(self.path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self._damaged(self.path, f"not valid JSON: {exc}") from None
        if not isinstance(done, dict) or not all(isinstance(v, str) for v in done.values()):
            raise self._damaged(self.path, "expected a mapping of stage to fingerprint")
        return done

    def load(self, stage: str, fingerprint: str, tables: tuple[str, ...]) -> dict[str, pd.DataFrame] | None:
        files = {name: self.dir / f"{stage}.{name}.parquet" for name in tables}
        if self.done.get(stage) != fingerprint or not all(f.exists() for f in files.values()):
            return None
        loaded = {}
        for name, f in files.items():
            try:
                loaded[name] = pd.read_parquet(f)
            except (OSError, ValueError) as exc:  # pyarrow's errors for a torn file derive from these
                raise self._damaged(f, f"not a readable Parquet file: {str(exc).splitlines()[0]}") from None
        self.resumed.append(stage)
        return loaded

    def save(self, stage: str, fingerprint: str, tables: dict[str, pd.DataFrame]) -> None:
        """Write each table and then the fingerprints, every file whole or not at all (write, then rename)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        for name, frame in tables.items():
            target = self.dir / f"{stage}.{name}.parquet"
            partial = target.with_suffix(".parquet.partial")
            frame.to_parquet(partial, index=False)
            os.replace(partial, target)
        self.done[stage] = fingerprint
        for later in STAGES[STAGES.index(stage) + 1 :]:
            self.done.pop(later, None)  # anything downstream must be redone
        partial = self.path.with_suffix(".json.partial")
        partial.write_text(json.dumps(self.done, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(partial, self.path)


class ResumeFileError(ValueError):
    """A file under ``<out>/.stages/`` cannot be read: the message names it and how to recover."""


def _fingerprint(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def round_scale(bundle: GrowthModelBundle, settings: Settings) -> MasterScale:
    """The master scale of a round: the model's cut-points, and the reference grade (policy) from params."""
    return dataclasses.replace(bundle.scale, reference_grade=settings.grade_scale.reference_grade)


def run_round(
    round_dir: Path,
    out_dir: Path,
    settings: Settings,
    model: str,
    with_reports: bool = True,
    language: str = "ko",
    progress: Callable[[str], None] | None = None,
    log_path: Path | None = None,
    with_workbook: bool = True,
) -> dict:
    """Score one application round end to end; returns the round manifest.

    Holds the lock of ``out_dir`` while it runs (``jumpup.locks``): a second run on the same
    folder is refused with ``OutputLocked``.

    The model is loaded first and the round ingested next, both before ``out_dir`` is touched: a
    missing or mistyped model (``ModelNotFoundError``) or a bad input file fails in seconds and
    leaves no folder behind. A run that fails later removes what it created (``removed_on_failure``).

    The round is a data flow in memory: ingest → features → scores → STEP 1, with the growth paths
    forecast beside them in a side branch → dossiers and reports, each stage handing its table to
    the next through a contract (``jumpup.schemas``).
    A finished stage's result is kept as Parquet under ``<out>/.stages/`` with a fingerprint of
    its inputs, so a rerun on the same inputs resumes from it; the files people read (CSV,
    workbook, reports) are written once, at the end.
    """
    out_dir = Path(out_dir)
    notify = progress or (lambda stage: None)
    notify("ingest")
    started = time.perf_counter()
    require_directory(round_dir)  # a mistyped round folder is named before the model is loaded
    check_out_dir(out_dir)
    bundle, model_info = load_bundle(model, settings)  # a mistyped model stops here, before any work
    # Every file is read, and all but the field audit checked, before the folder exists; the audit
    # file's rows (the largest file, which only STEP 1 reads) are checked once the growth branch has
    # its features, and its bad rows quarantined like any other.
    panel = open_checked_panel(Path(round_dir), settings.ingest, round_mode=True)
    result = panel.result
    # Eligibility is policy read with this run's params; a round without applications, or with a
    # date no size table covers, stops here. The applicants are judged in the side branch.
    eligibility = eligibility_inputs(result, settings)
    checked = Checked(bundle, model_info, panel, eligibility, time.perf_counter() - started)
    # Exits in reverse order: the side branch's tasks end before the lock is released or a failed run's folder removed.
    with (
        removed_on_failure(out_dir, resumable=has_finished_stage),  # Ctrl-C keeps what a rerun resumes from
        out_dir_lock(out_dir, "round"),
        side_branch(len(result.tables["applications"]), settings.growth_paths) as side,
        contextlib.ExitStack() as run_scope,  # the round's MLflow run: FINISHED on return, FAILED on an error
    ):
        return _run_round(
            checked, out_dir, settings, side, run_scope, with_reports, language, notify, log_path, with_workbook
        )


@dataclasses.dataclass(frozen=True)
class Checked:
    """What a round reads before its output folder exists: the model and the round, its panel checked."""

    bundle: GrowthModelBundle
    model_info: dict
    panel: PanelChecked
    eligibility: dict  # the checked arguments of ``round_eligibility``
    seconds: float


def _run_round(
    checked: Checked,
    out_dir: Path,
    settings: Settings,
    side: SideBranch,
    run_scope: contextlib.ExitStack,
    with_reports: bool,
    language: str,
    notify: Callable[[str], None],
    log_path: Path,
    with_workbook: bool,
) -> dict:
    state = StageState(out_dir)
    timings: dict[str, float] = {}
    code = code_version()
    bundle, model_info = checked.bundle, checked.model_info
    result = checked.panel.result  # firms, financials and applications; the audits join it below
    inputs = input_sha256(checked.panel)
    timings["ingest"] = checked.seconds
    # Each applicant's size class, age and focus field, judged in the side branch while the features are built.
    judged = side.submit("eligibility", round_eligibility, **checked.eligibility)

    notify("score")
    started = time.perf_counter()
    scale = round_scale(bundle, settings)
    applications = result.tables["applications"]
    as_of = as_of_year(applications)
    rows = panel_rows(result.tables["firms"], result.tables["financials"])
    rows = rows[is_known(rows["firm_id"], applications["firm_id"]) & (rows["fiscal_year"] <= as_of)]
    score_fp = _fingerprint(inputs, model_info, settings.model_dump(mode="json"), code, language, "score")
    cached = state.load("score", score_fp, ("scores", "features"))
    features = cached["features"] if cached else bundle.builder.transform_latest(rows)
    FEATURES.validate(features)

    growth_fp = _fingerprint(score_fp, settings.growth_paths.model_dump(mode="json"), "growth")
    # A redone score stage drops every later stage's result (StageState.save): reuse paths only after a reused score.
    cached_paths = state.load("growth_paths", growth_fp, ("growth_paths",)) if cached else None
    queries = growth_queries(features, as_of)
    # Growth paths read only the feature table, and scoring, STEP 1 and the score files never read
    # them: the two branches of the flow run side by side from here, and meet where the dossiers
    # need both. The side branch also writes the finished tables nobody reads back.
    growth = None
    if not cached_paths and bundle.history is not None and not bundle.history.empty:
        model = getattr(bundle, "growth_model", None)  # bundles from before the engine was stored have none
        growth = side.submit(
            "growth_paths", checked_growth_paths, bundle.history, queries, as_of, settings, model, side.workers
        )

    if cached:
        scores = cached["scores"]
    else:
        scores = bundle.score_features(features, language).sort_values("firm_id", kind="stable")
        scores = attach_missing_inputs(scores.reset_index(drop=True), rows)
        state.save("score", score_fp, {"scores": scores, "features": features})
    eligibility = side.result(judged)
    scores = with_round_eligibility(scores, eligibility)
    SCORES.validate(scores)
    scores_manifest = {
        **model_info,
        "as_of": as_of,
        "code_version": code,
        "data_sha256": frame_sha256(rows.reset_index(drop=True)),
    }
    # Copies: a process's arguments are pickled after submit returns, while the main flow goes on.
    # The tables the manifest hashes, written by the side branch (the growth paths' file joins them below).
    tables_written = [side.submit("scores.csv", write_csv, scores.copy(), out_dir / "scores.csv", encoding="utf-8")]
    timings["score"] = time.perf_counter() - started

    notify("ingest")
    started = time.perf_counter()
    result = check_audits(checked.panel, settings.ingest)
    ingest_report = write_outputs(result, out_dir / "ingested")
    tables_written.append(
        side.submit("quarantine.csv", write_csv, result.quarantine.copy(), out_dir / "quarantine.csv", encoding="utf-8")
    )
    timings["ingest"] += time.perf_counter() - started

    notify("audit")
    started = time.perf_counter()
    audits = audit_round(result, settings)  # the field audit scored: STEP 1 reads it, the panel's quality too
    timings["audit"] = time.perf_counter() - started

    notify("STEP 1")
    started = time.perf_counter()
    step1 = decide_round(scores, result, settings, scale, eligibility, audits)
    timings["step1"] = time.perf_counter() - started

    notify("write")
    started = time.perf_counter()
    write_json(out_dir / "scores_manifest.json", scores_manifest)
    passed = step1.decisions.loc[step1.decisions["decision"] == "pass", "firm_id"]
    # Reasons worded as on the reports: for the dossiers (passed firms) and the workbook (every firm).
    worded = scores if with_workbook else scores[is_known(scores["firm_id"], passed)]
    dossier = dossier_scores(bundle, worded, features, settings.reports.min_group_size)

    # Everything that does not read the growth paths is done while the side branch forecasts them.
    summary = write_step1_files(step1, scores, result, out_dir / "step1", settings, scores_manifest)
    shutil.copyfile(out_dir / "step1" / "step1_decisions.csv", out_dir / "step1_decisions.csv")  # the same bytes
    timings["write"] = time.perf_counter() - started

    notify("checks")
    started = time.perf_counter()
    stability = stability_table(bundle, features, scores, settings)  # drift of the round against training
    warnings = list(ingest_report["warnings"]) + list(summary["warnings"])
    unpromoted = unpromoted_notice(model_info)
    if unpromoted:
        warnings.insert(0, unpromoted)
    warnings += [
        Notice(
            f"{r['variable']}: PSI {r['psi']:.3f} beyond its small-sample critical value {r['critical_value']:.3f}",
            f"{_variable_ko(r['variable'])}: {josa('PSI ' + format(r['psi'], '.3f'), '이')} 소표본 임계값 "
            f"{josa(format(r['critical_value'], '.3f'), '을')} 넘었습니다 (학습 데이터와 분포가 다릅니다).",
        )
        for r in stability
        if r["shifted"]
    ]
    quarantined = sum(f["quarantined"] for f in ingest_report["files"])
    if quarantined:
        warnings.append(
            Notice(
                f"{quarantined} input row(s) quarantined — see quarantine.csv",
                f"입력 행 {quarantined}건이 격리되었습니다 — quarantine.csv 참조.",
            )
        )
    decisions = step1.decisions
    counts = {
        "applicants": len(applications),
        "scored": len(scores),
        "passed": int((decisions["decision"] == "pass").sum()),
        "quarantined_rows": int(quarantined),
    }
    timings["checks"] = time.perf_counter() - started

    # The round's MLflow run opens now, while the side branch still forecasts: its figures are known.
    # It stays RUNNING until the outputs are written and ends FAILED if anything after this fails.
    started = time.perf_counter()
    metrics = {k: float(v) for k, v in counts.items()}
    run_id = run_scope.enter_context(use_run(settings.tracking, "round", scores_manifest, metrics))
    timings["tracking"] = time.perf_counter() - started

    cut = dossier_inputs(step1, dossier, result)  # the dossiers' inputs but the growth paths

    notify("growth paths")
    started = time.perf_counter()
    if growth:
        paths = side.result(growth)
        state.save("growth_paths", growth_fp, {"growth_paths": paths})
    else:
        paths = cached_paths["growth_paths"] if cached_paths else pd.DataFrame(columns=["firm_id", "horizon", "year"])
        if not cached_paths:
            state.save("growth_paths", growth_fp, {"growth_paths": paths})
        if len(paths):
            GROWTH_PATHS.validate(paths)
    timings["growth_paths_wait"] = time.perf_counter() - started

    notify("write")
    started = time.perf_counter()
    # The dossiers (from their inputs cut to the passed firms) are written in two shares: the side
    # branch writes its share and then the growth paths' file, the main flow the workbook, the
    # reports and then its share.
    sentences = growth_sentences(paths, passed)
    clear_dossiers(out_dir / "step1")
    side_share, main_share = dossier_shares(cut, 2)
    write_share = functools.partial(
        write_dossier_files, out_dir / "step1", growth_summary=sentences, model=scores_manifest, clear=False
    )
    side.submit("dossiers", write_share, **side_share)
    tables_written.append(
        side.submit("growth_paths.csv", write_csv, paths.copy(), out_dir / "growth_paths.csv", encoding="utf-8")
    )
    timings["write"] += time.perf_counter() - started

    notify("reports")
    started = time.perf_counter()
    manifest = {
        "round_id": sorted(applications["round_id"].unique().tolist()),
        "as_of": as_of,
        "code_version": code,
        "model": model_info,
        "input_sha256": inputs,
        "files": ingest_report["files"],
        "params": {
            k: getattr(settings, k).model_dump(mode="json")
            for k in ("step1", "grade_scale", "growth_paths", "program", "size_class")
        },
        "eligibility": summary["eligibility"],
        "counts": counts,
        "outputs_sha256": None,  # once the side branch has written them, below
    }
    workbook_started = time.perf_counter()
    if with_workbook:
        roles = audit_rubric()["roles"]
        # An unpromoted model is named on the workbook's first sheet, before any grade is read.
        notice_sheet = {"모형 안내": pd.DataFrame({"안내": [unpromoted.ko]})} if unpromoted else {}
        sheets = {
            name: evaluator_frame(frame, roles)
            for name, frame in {
                **notice_sheet,
                "점수": dossier,  # reasons worded as on the reports, with value and peer median
                "STEP1 결정": decisions,
                "성장경로": paths,
                "격리": result.quarantine,
                "현장실사 품질": pd.DataFrame(step1.quality["evaluators"]),
            }.items()
        }
        write_workbook(out_dir / "round_workbook.xlsx", sheets)
    else:
        (out_dir / "round_workbook.xlsx").unlink(missing_ok=True)  # never leave an earlier run's workbook
    workbook_seconds = time.perf_counter() - workbook_started
    outputs = RoundOutputs(result, bundle, scale, features, scores, paths, step1, manifest, stability, warnings)
    written = write_round_reports(out_dir, outputs, settings, language, progress=notify, firm_reports=with_reports)
    warnings += written.pop("warnings")
    manifest["reports"] = written
    timings["reports"] = time.perf_counter() - started - workbook_seconds
    if with_workbook:
        timings["workbook"] = workbook_seconds
    started = time.perf_counter()
    write_share(**main_share)
    timings["write"] += time.perf_counter() - started
    started = time.perf_counter()
    for future in tables_written:
        side.result(future)  # the tables are whole before the manifest hashes them
    manifest["outputs_sha256"] = {
        name: file_sha256(out_dir / name)
        for name in ("scores.csv", "step1_decisions.csv", "growth_paths.csv", "quarantine.csv")
    }
    side.finish()  # every side task done, the dossiers included, or its error raised here
    timings["side_branch_wait"] = time.perf_counter() - started
    timings.update({f"side: {name}": seconds for name, seconds in side.seconds.items()})
    # The decision-log record once the round's own outputs are all written (a failed branch leaves none).
    append_decision_record(summary, Path(log_path) if log_path else decision_log_path(settings, out_dir))
    manifest["timings_seconds"] = {k: round(v, 2) for k, v in timings.items()}
    # Stages loaded from <out>/.stages/ instead of computed; their timings are the loading.
    manifest["resumed_stages"] = state.resumed
    manifest["mlflow_run_id"] = run_id
    manifest["warnings"] = warnings
    write_json(out_dir / "manifest.json", manifest)
    return manifest


def with_round_eligibility(scores: pd.DataFrame, eligibility: pd.DataFrame) -> pd.DataFrame:
    """Scores with the round-time eligibility (this run's ``program`` settings) in place of the model's.

    The feature table carries eligibility as judged with the settings the model was trained with;
    the round's scores, workbook and reports show the one its decisions used.
    """
    columns = [c for c in eligibility.columns if c != "firm_id"]
    merged = scores.drop(columns=[c for c in columns if c in scores]).merge(
        eligibility, on="firm_id", how="left", validate="one_to_one"
    )
    return merged[[*[c for c in scores.columns if c in merged], *[c for c in columns if c not in scores]]]


def _variable_ko(variable: str) -> str:
    if variable.startswith("score"):
        return "AI 점수 (확률)"
    return feature_label(variable, "ko")


def growth_queries(features: pd.DataFrame, as_of: int) -> pd.DataFrame:
    """The growth engine's query rows: the round's feature rows at ``as_of``, with their log revenue."""
    queries = features[features["fiscal_year"] == as_of].copy()
    revenue = queries["revenue"].astype("float64")
    queries["log_revenue"] = np.log(revenue.where(revenue > 0))
    return queries


def growth_sentences(paths: pd.DataFrame, firm_ids: pd.Series | None = None) -> dict[str, str]:
    """The STEP 2 dossier's growth sentence per firm: the grade report's wording, from the plotted quantiles.

    ``firm_ids``: the firms that get a dossier (all firms in ``paths`` when None).
    """
    if firm_ids is not None:
        paths = paths[is_known(paths["firm_id"], firm_ids)]
    if paths.empty:
        return {}
    last = paths.sort_values("horizon").groupby("firm_id").tail(1)
    return {row["firm_id"]: growth_sentence(row, int(row["as_of"])) for row in last.to_dict("records")}


def stability_table(
    bundle: GrowthModelBundle, features: pd.DataFrame, scores: pd.DataFrame, settings: Settings
) -> list[dict]:
    """PSI of the score and of each model feature: round against the latest training year."""
    reference = bundle.history if bundle.history is not None else bundle.builder.transform(bundle.builder.reference_)
    reference = reference[reference["fiscal_year"] == reference["fiscal_year"].max()]
    ref_matrix = model_matrix(reference, bundle.feature_names)
    round_matrix = model_matrix(features, bundle.feature_names)
    v = settings.validation
    rows = [
        {
            "variable": "score (probability)",
            **psi(bundle.probability(ref_matrix), scores["probability"].to_numpy(), v.psi_bins, v.alpha),
        }
    ]
    for name in bundle.feature_names:
        rows.append(
            {"variable": name, **psi(ref_matrix[name].to_numpy(), round_matrix[name].to_numpy(), v.psi_bins, v.alpha)}
        )
    return rows
