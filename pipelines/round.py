"""``jumpup round``: score one application round end to end, in one batch.

ingest with quarantine → features against the model's reference population (size class, focus
field) → graded scores with reasons → peer growth paths → STEP 1 decisions → reports. Every
stage records a fingerprint of what it read (input hashes, model, params, code version); run again
on the same inputs, a finished stage is reused instead of redone, and a stage whose inputs changed
is redone, so an interrupted run resumes and no output is ever duplicated.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from jumpup.features.builder import panel_rows
from jumpup.models.bundle import GrowthModelBundle, model_matrix
from jumpup.models.grading import feature_label
from jumpup.models.validation import psi
from jumpup.notices import Notice
from jumpup.pipelines import reports, step1
from jumpup.pipelines.growth import forecast_paths
from jumpup.pipelines.ingest import load_panel, write_outputs
from jumpup.pipelines.round_reports import RoundOutputs, write_round_reports
from jumpup.pipelines.score import load_bundle
from jumpup.provenance import code_version, file_sha256, frame_sha256, write_json
from jumpup.settings import Settings

STAGES = ("ingest", "score", "growth_paths", "step1", "reports")


class StageState:
    """Fingerprints of finished stages, kept in ``<out>/.stages.json``."""

    def __init__(self, out_dir: Path):
        self.path = out_dir / ".stages.json"
        self.done = json.loads(self.path.read_text()) if self.path.exists() else {}

    def fresh(self, stage: str, fingerprint: str, outputs: list[Path]) -> bool:
        return self.done.get(stage) == fingerprint and all(p.exists() for p in outputs)

    def finish(self, stage: str, fingerprint: str) -> None:
        self.done[stage] = fingerprint
        for later in STAGES[STAGES.index(stage) + 1 :]:
            self.done.pop(later, None)  # anything downstream must be redone
        self.path.write_text(json.dumps(self.done, indent=2, sort_keys=True))


def _fingerprint(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def run_round(
    round_dir: Path,
    out_dir: Path,
    settings: Settings,
    model: str,
    with_reports: bool = True,
    language: str = "ko",
    progress: Callable[[str], None] | None = None,
    log_path: Path = step1.DECISION_LOG,
    with_workbook: bool = True,
) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    notify = progress or (lambda stage: None)
    state = StageState(out_dir)
    timings: dict[str, float] = {}
    code = code_version()

    notify("ingest")
    started = time.perf_counter()
    result = load_panel(Path(round_dir), settings.ingest, round_mode=True)
    ingest_report = write_outputs(result, out_dir / "ingested")
    (out_dir / "quarantine.csv").write_bytes((out_dir / "ingested" / "quarantine.csv").read_bytes())
    inputs = {r.table: r.sha256 for r in result.reports}
    timings["ingest"] = time.perf_counter() - started

    notify("score")
    started = time.perf_counter()
    bundle, model_info = load_bundle(model, settings)
    rows = panel_rows(result.tables["firms"], result.tables["financials"])
    applications = result.tables["applications"]
    as_of = int(pd.to_datetime(applications["applied_on"]).dt.year.max()) - 1
    rows = rows[rows["firm_id"].isin(applications["firm_id"]) & (rows["fiscal_year"] <= as_of)]
    score_fp = _fingerprint(inputs, model_info, settings.model_dump(mode="json"), code, language, "score")
    score_files = [out_dir / "scores.csv", out_dir / "scores.parquet", out_dir / "features.parquet"]
    if state.fresh("score", score_fp, score_files):
        scores = pd.read_parquet(out_dir / "scores.parquet")
        features = pd.read_parquet(out_dir / "features.parquet")
    else:
        features = bundle.builder.transform(rows)
        latest = features.groupby("firm_id")["fiscal_year"].transform("max")
        features = features[features["fiscal_year"] == latest].reset_index(drop=True)
        scores = bundle.score_features(features, language).sort_values("firm_id", kind="stable").reset_index(drop=True)
        scores.to_csv(out_dir / "scores.csv", index=False, encoding="utf-8")
        scores.to_parquet(out_dir / "scores.parquet", index=False)
        features.to_parquet(out_dir / "features.parquet", index=False)
        write_json(
            out_dir / "scores_manifest.json",
            {
                **model_info,
                "as_of": as_of,
                "code_version": code,
                "data_sha256": frame_sha256(rows.reset_index(drop=True)),
            },
        )
        state.finish("score", score_fp)
    timings["score"] = time.perf_counter() - started

    notify("growth paths")
    started = time.perf_counter()
    growth_fp = _fingerprint(score_fp, settings.growth_paths.model_dump(mode="json"), "growth")
    growth_file = out_dir / "growth_paths.parquet"
    if state.fresh("growth_paths", growth_fp, [growth_file]):
        paths = pd.read_parquet(growth_file)
    else:
        paths = round_growth_paths(bundle, features, as_of, settings)
        paths.to_parquet(growth_file, index=False)
        paths.to_csv(out_dir / "growth_paths.csv", index=False, encoding="utf-8")
        state.finish("growth_paths", growth_fp)
    timings["growth_paths"] = time.perf_counter() - started

    notify("STEP 1")
    started = time.perf_counter()
    summary = step1.run(
        out_dir / "scores.csv",
        round_dir,
        out_dir / "step1",
        settings,
        log_path=log_path,
        growth_summary=growth_sentences(paths),
        ingested=result,
    )
    (out_dir / "step1_decisions.csv").write_bytes((out_dir / "step1" / "step1_decisions.csv").read_bytes())
    decisions = pd.read_csv(out_dir / "step1_decisions.csv", dtype={"firm_id": str})
    timings["step1"] = time.perf_counter() - started

    notify("reports")
    started = time.perf_counter()
    stability = stability_table(bundle, features, scores, settings)
    warnings = list(ingest_report["warnings"]) + list(summary["warnings"])
    warnings += [
        Notice(
            f"{r['variable']}: PSI {r['psi']:.3f} beyond its small-sample critical value {r['critical_value']:.3f}",
            f"{_variable_ko(r['variable'])}: PSI {r['psi']:.3f}가 소표본 임계값 {r['critical_value']:.3f}를 넘었습니다 "
            f"(학습 데이터와 분포가 다릅니다).",
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
    manifest = {
        "round_id": sorted(applications["round_id"].unique().tolist()),
        "as_of": as_of,
        "code_version": code,
        "model": model_info,
        "input_sha256": inputs,
        "files": ingest_report["files"],
        "params": {k: getattr(settings, k).model_dump(mode="json") for k in ("step1", "grade_scale", "growth_paths")},
        "counts": {
            "applicants": len(applications),
            "scored": len(scores),
            "passed": int((decisions["decision"] == "pass").sum()),
            "quarantined_rows": int(quarantined),
        },
        "outputs_sha256": {
            name: file_sha256(out_dir / name)
            for name in ("scores.csv", "step1_decisions.csv", "growth_paths.csv", "quarantine.csv")
        },
    }
    sheets = {
        "점수": scores.drop(columns=[c for c in scores if c.startswith("family_points")]),
        "STEP1 결정": decisions,
        "성장경로": paths,
        "격리": result.quarantine,
        "현장실사 품질": pd.DataFrame(json.loads((out_dir / "step1" / "audit_quality.json").read_text())["evaluators"]),
    }
    workbook_started = time.perf_counter()
    if with_workbook:
        reports.write_workbook(out_dir / "round_workbook.xlsx", sheets)
    else:
        (out_dir / "round_workbook.xlsx").unlink(missing_ok=True)  # never leave an earlier run's workbook
    workbook_seconds = time.perf_counter() - workbook_started
    outputs = RoundOutputs(result, bundle, features, scores, paths, decisions, manifest, stability, warnings, summary)
    written = write_round_reports(out_dir, outputs, settings, language, progress=notify, firm_reports=with_reports)
    warnings += written.pop("warnings")
    manifest["reports"] = written
    timings["reports"] = time.perf_counter() - started - workbook_seconds
    if with_workbook:
        timings["workbook"] = workbook_seconds
    manifest["timings_seconds"] = {k: round(v, 2) for k, v in timings.items()}
    manifest["warnings"] = warnings
    write_json(out_dir / "manifest.json", manifest)
    return manifest


def _variable_ko(variable: str) -> str:
    if variable.startswith("score"):
        return "AI 점수 (확률)"
    return f"{feature_label(variable, 'ko')} ({variable})"


def round_growth_paths(
    bundle: GrowthModelBundle, features: pd.DataFrame, as_of: int, settings: Settings
) -> pd.DataFrame:
    """Growth paths of the round's firms against the peer history the model carries."""
    if bundle.history is None or bundle.history.empty:
        return pd.DataFrame(columns=["firm_id", "horizon", "year"])
    queries = features[features["fiscal_year"] == as_of].copy()
    revenue = queries["revenue"].astype("float64")
    queries["log_revenue"] = np.log(revenue.where(revenue > 0))
    model = getattr(bundle, "growth_model", None)  # bundles from before the engine was stored have none
    return forecast_paths(bundle.history, queries, as_of, settings, model=model)[0]


def growth_sentences(paths: pd.DataFrame) -> dict[str, str]:
    if paths.empty:
        return {}
    last = paths.sort_values("horizon").groupby("firm_id").tail(1)
    return {
        r.firm_id: (
            f"{int(r.year)}년 매출 중앙값 {r.revenue_q50 / 1e8:,.0f}억 원 (80% 구간 {r.revenue_q10 / 1e8:,.0f}"
            f"–{r.revenue_q90 / 1e8:,.0f}억 원), 연 20% 초과 고성장 확률 {r.p_high_growth:.0%}, "
            f"유사기업 {int(r.peer_count)}개 기준"
        )
        for r in last.itertuples(index=False)
    }


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
