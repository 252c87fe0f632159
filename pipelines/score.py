"""Stage ``score``: a panel as of one fiscal year, scored with a model URI or a saved bundle.

``--model`` takes an MLflow URI (``models:/jumpup_growth@champion``, ``models:/jumpup_growth/3``,
``runs:/<id>/model``) or the path of a bundle directory (``train`` writes ``<out>/bundle``); a
pickle is refused (docs/trust_model.md). Only rows up to ``as_of`` are read.
Writes ``scores.csv`` (firm_id, as_of, probability, score, grade, reasons, family points),
``skipped.csv`` (every firm of the panel not scored, with the reason: read = scored + skipped) and
``scores_manifest.json`` (model version, data hash, code version, counts).
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import pandas as pd

from jumpup.features.builder import panel_rows
from jumpup.intake.ingest import IngestResult, open_panel, require_directory
from jumpup.intake.readers import InputFileError
from jumpup.locks import check_out_dir, out_dir_lock, removed_on_failure
from jumpup.models.bundle import GrowthModelBundle
from jumpup.models.bundle_store import BundleError, bundle_sha256, is_bundle_dir, load_bundle_dir
from jumpup.notices import Notice
from jumpup.provenance import code_version, file_sha256, frame_sha256, skipped_firms, write_json
from jumpup.safe_text import write_csv
from jumpup.settings import Settings
from jumpup.tracking import REGISTERED_MODEL, start_experiment, track_use


class ModelNotFoundError(BundleError):
    """A ``--model`` that is neither a file nor a model in the tracking store (one line for the user)."""


def model_lookup_error(model: str, settings: Settings) -> ModelNotFoundError:
    """One line naming the URI, the store, the registered models with their aliases, and the fix."""
    from jumpup.tracking import tracking_uri

    known, versions = [], {}
    try:
        import mlflow

        client = mlflow.MlflowClient()
        for registered in client.search_registered_models():
            aliases = registered.aliases or {}
            named = ", ".join(f"@{alias} = v{version}" for alias, version in sorted(aliases.items()))
            found = sorted(int(v.version) for v in client.search_model_versions(f"name = '{registered.name}'"))
            versions[registered.name] = found
            listed = ", ".join(f"v{v}" for v in found)
            known.append(f"{registered.name} (versions {listed or 'none'}; {named or 'no aliases'})")
    except Exception:  # the store itself cannot be read: say so instead of listing
        known = []
    listing = "; ".join(known) if known else "no registered models"
    name, _, alias = model.removeprefix("models:/").partition("@")
    if model.startswith("models:/") and alias == "champion" and versions.get(name):
        latest = versions[name][-1]
        return ModelNotFoundError(
            f"model {model!r} not found: {name} has no champion yet, because no version has passed the promotion "
            f"gates ({listing}). Pass --model models:/{name}/{latest} to use a candidate (its outputs say it is "
            f"unpromoted), or run `jumpup promote` to check a version against the gates."
        )
    store = tracking_uri(settings.tracking)
    fix = "Pass --model with a bundle path, models:/<name>/<version> or models:/<name>@<alias>" + (
        "." if known else ", or run `jumpup train` to register one."
    )
    if not model.startswith("models:/"):  # runs:/, a mistyped scheme: the store cannot say more
        return ModelNotFoundError(f"model {model!r} not found in the MLflow store {store} ({listing}). {fix}")
    registered, _, version = name.rpartition("/") if "/" in name and not alias else (name, "", "")
    if registered not in versions:
        return ModelNotFoundError(
            f"model {model!r} not found: no registered model named {registered!r} in the MLflow store {store} "
            f"({listing}). {fix}"
        )
    listed = ", ".join(f"v{v}" for v in versions[registered]) or "none"
    if version or alias:
        why = f"{registered} has " + (f"no version {version!r}" if version else f"no alias @{alias}")
    else:
        why = f"the URI names no version or alias of {registered}"
    return ModelNotFoundError(
        f"model {model!r} not found: {why} in the MLflow store {store} ({listing}). "
        f"Pass --model models:/{registered}/<version> with one of {listed}, or models:/{registered}@<alias>."
    )


MODEL_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/")

# The promotion gates (jumpup.pipelines.promote.gate_results) as evaluators read them.
GATE_KO = {
    "calibration_tests": "등급별 보정 검정(Jeffreys) 불합격 비율",
    "grade_concentration": "한 등급에 몰린 기업 비율",
    "discrimination_not_worse": "변별력(AUC)이 현 챔피언 모형보다 낮지 않을 것",
}


def promotion_status(client, name: str, version: str, run_id: str | None, settings: Settings) -> dict:
    """Whether a registered version is the champion, and the promotion gates it fails on its own figures.

    ``model_promoted`` is true only for the version the ``champion`` alias points to (a model becomes
    champion only through the gates or a logged ``jumpup promote --force``). ``model_failed_gates``
    lists each failed gate with the candidate's figure and the limit (``params.yaml`` → ``promotion``),
    recomputed from the training run's metrics; the comparison with a champion is not part of it.
    """
    from jumpup.pipelines.promote import gate_results

    try:
        champion = str(client.get_model_version_by_alias(name, "champion").version)
    except Exception:  # no champion alias yet
        champion = None
    failed = []
    if run_id:
        metrics = client.get_run(run_id).data.metrics
        failed = [
            {"gate": g["gate"], "candidate": g.get("candidate"), "limit": g.get("limit")}
            for g in gate_results(metrics, None, settings.promotion)
            if not g["passed"]
        ]
    promoted = champion == str(version)
    return {"model_promoted": promoted, "model_champion_version": champion, "model_failed_gates": failed}


def unpromoted_notice(info: dict) -> Notice | None:
    """The warning every output of a run carries when its model is not the promoted champion (else None)."""
    if info.get("model_promoted", True):
        return None
    gates = info.get("model_failed_gates") or []
    version = info.get("model_version", info.get("model"))
    en_gates = ", ".join(f"{g['gate']} ({_figure(g['candidate'])} > limit {_figure(g['limit'])})" for g in gates)
    ko_gates = ", ".join(
        f"{GATE_KO.get(g['gate'], g['gate'])} {_figure(g['candidate'])} (한도 {_figure(g['limit'])})" for g in gates
    )
    champion = info.get("model_champion_version")
    en = (
        f"model version {version} is an unpromoted candidate, not the champion"
        + (f" (champion: version {champion})" if champion else " (the registry has no champion)")
        + (f"; failed promotion gates: {en_gates}" if gates else "")
        + ". Its grades are for review, not for decisions, until a model passes `jumpup promote`."
    )
    ko = (
        f"이 결과의 모형(버전 {version})은 승격되지 않은 후보 모형으로, 챔피언 모형이 아닙니다"
        + (f" (현 챔피언: 버전 {champion})" if champion else " (등록된 챔피언 모형 없음)")
        + (f". 통과하지 못한 승격 기준: {ko_gates}" if gates else "")
        + ". 승격된 모형이 나오기 전까지 등급은 참고용입니다."
    )
    return Notice(en, ko)


def _figure(value) -> str:
    return "—" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def load_bundle(model: str, settings: Settings) -> tuple[GrowthModelBundle, dict]:
    """The model bundle from a bundle directory or an MLflow URI, and which version it is.

    A string with a URI scheme (``models:/``, ``runs:/``, ...) is always an MLflow URI, so nothing
    in the working directory is read by a name that looks like one. Anything else is a path that
    must be a bundle directory (``jumpup.models.bundle_store``); a pickle or any other file is
    refused with ``BundleError``. From MLflow the logged bundle artifact is downloaded and read
    the same way, as data: the logged code file is not run.
    """
    if not MODEL_URI.match(model):
        path = Path(model)
        bundle = load_bundle_dir(path)
        digest = bundle_sha256(path)
        return bundle, {
            "model": str(path),
            "model_sha256": digest,
            "model_version": f"bundle {digest[:12]}",
            **bundle.metadata,
        }
    mlflow = start_experiment(settings.tracking)
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    try:
        with tempfile.TemporaryDirectory(prefix="jumpup-model-") as scratch:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model, dst_path=scratch))
            run_id = Model.load(str(local)).run_id
            bundle_dir = local / "artifacts" / "bundle"
            if not is_bundle_dir(bundle_dir):
                raise BundleError(
                    f"{model}: the logged model has no data-only bundle (an older pickled format, "
                    "which is not loaded); train again with `jumpup train`"
                )
            bundle = load_bundle_dir(bundle_dir)
            digest = bundle_sha256(bundle_dir)
        description = {"model": model, "model_run_id": run_id, "model_version": model, "model_sha256": digest}
        client = mlflow.MlflowClient()
        if model.startswith("models:/"):
            name, _, alias = model.removeprefix("models:/").partition("@")
            if alias:
                version = client.get_model_version_by_alias(name, alias).version
                description.update({"model_version": str(version), "model_alias": alias})
            else:
                name, _, version = name.rpartition("/")
                description["model_version"] = version
            description.update(promotion_status(client, name, str(version), run_id, settings))
        else:  # a run's model outside the registry was never promoted
            description.update(promotion_status(client, REGISTERED_MODEL, "", run_id, settings))
    except (MlflowException, OSError):  # a missing alias, version, run or a mistyped URI
        raise model_lookup_error(model, settings) from None
    return bundle, description


def missing_input_summary(scores: pd.DataFrame, as_of: int) -> dict:
    """Counts for the manifest and a warning when firms were graded with optional inputs missing."""
    lacking = scores[scores["missing_inputs"].fillna("") != ""]
    by_input = lacking["missing_inputs"].str.split(";").explode().value_counts().sort_index()
    summary: dict = {
        "firms_with_missing_inputs": len(lacking),
        "missing_inputs_by_input": {str(k): int(v) for k, v in by_input.items()},
        "warnings": [],
    }
    if len(lacking):
        common = ", ".join(f"{k} ({v})" for k, v in by_input.sort_values(ascending=False, kind="stable").items())
        summary["warnings"].append(
            f"{len(lacking)} of {len(scores)} firm(s) lack optional inputs in {as_of}: {common}; they are graded "
            f"with those inputs missing, on fewer facts. See missing_inputs and missing_features in scores.csv."
        )
    return summary


def score_panel(
    panel_dir: Path, as_of: int, model: str, out_dir: Path, settings: Settings, language: str = "ko"
) -> dict:
    """Score ``panel_dir`` as of ``as_of`` with ``model`` into ``out_dir``; returns the manifest.

    The model is loaded and the panel read before ``out_dir`` is made, so a missing model or a bad
    input leaves no folder behind; a run that fails later removes what it created. Raises
    ``InputFileError`` (one line) when the panel has no statements in ``as_of``.
    """
    started = time.perf_counter()
    require_directory(panel_dir)  # a mistyped panel folder is named before the model is loaded
    check_out_dir(Path(out_dir))
    bundle, description = load_bundle(model, settings)
    result = open_panel(Path(panel_dir), settings.ingest)
    years = sorted({int(y) for y in result.tables["financials"]["fiscal_year"].dropna()})
    if as_of not in years:
        on_file = f"fiscal years on file: {years[0]}-{years[-1]}" if years else "no accepted statements"
        raise InputFileError(f"{panel_dir}: no statements for --as-of {as_of} ({on_file}); choose a year on file")
    with removed_on_failure(Path(out_dir)), out_dir_lock(Path(out_dir), "score"):
        manifest = _score_panel(result, bundle, description, as_of, Path(out_dir), settings, language)
    manifest["seconds"] = round(time.perf_counter() - started, 2)
    return manifest


def _score_panel(
    result: IngestResult,
    bundle: GrowthModelBundle,
    description: dict,
    as_of: int,
    out_dir: Path,
    settings: Settings,
    language: str,
) -> dict:
    rows = panel_rows(result.tables["firms"], result.tables["financials"])
    rows = rows[rows["fiscal_year"] <= as_of].reset_index(drop=True)
    scores = bundle.score_rows(rows, as_of, language)[0].sort_values("firm_id", kind="stable").reset_index(drop=True)
    write_csv(scores, out_dir / "scores.csv", encoding="utf-8")
    write_csv(result.quarantine, out_dir / "quarantine.csv")
    firms = result.tables["firms"]
    skipped = skipped_firms(firms, result.tables["financials"], scores["firm_id"], as_of)
    write_csv(skipped, out_dir / "skipped.csv", encoding="utf-8")
    manifest = {
        "stage": "score",
        "as_of": as_of,
        "code_version": code_version(),
        "data_sha256": frame_sha256(rows),
        "input_sha256": {r.table: r.sha256 for r in result.reports},
        **description,
        "firms_read": int(firms["firm_id"].nunique()),
        "firms_scored": len(scores),
        "firms_skipped": len(skipped),
        "rows_quarantined": len(result.quarantine),
        "skipped_by_reason": skipped["reason"].value_counts().sort_index().to_dict(),
        "grades": scores["grade"].value_counts().sort_index().to_dict(),
        "scores_sha256": file_sha256(out_dir / "scores.csv"),
    }
    manifest.update(missing_input_summary(scores, as_of))
    unpromoted = unpromoted_notice(description)
    if unpromoted:
        manifest["warnings"].insert(0, unpromoted)
        manifest["warnings_ko"] = [getattr(w, "ko", str(w)) for w in manifest["warnings"]]
    manifest["mlflow_run_id"] = track_use(settings.tracking, "score", manifest, {"firms_scored": len(scores)})
    write_json(out_dir / "scores_manifest.json", manifest)
    return manifest
