"""``jumpup promote``: move the ``champion`` alias to a candidate only if it passes the gates.

Gates (``params.yaml`` → ``promotion``): out-of-time AUC not worse than the champion's by more
than ``max_auc_drop``; the share of grades failing the Jeffreys test on the out-of-time split at
most ``max_failed_grade_tests_share``; no grade holding more than ``max_grade_share`` of firms.
The crisis model (``--target crisis``, registry ``crisis.registered_model``) has its own gates
(``crisis.promotion``): the same three, plus realised rates monotone across the early-warning
grades (``max_grade_inversions``) and the paired interval of its AUC gain over the plain
LightGBM above ``min_baseline_gain_ci_low``.
MLflow keeps no history of aliases, so every decision — promoted or refused — is appended to
the promotion log beside the MLflow store (``jumpup.tracking.promotion_log_path``), which says which model was
champion when.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from jumpup.provenance import code_version
from jumpup.settings import PromotionSettings, Settings
from jumpup.tracking import REGISTERED_MODEL, promotion_log_path, start_experiment


class PromotionError(ValueError):
    """No candidate to judge (unknown model, version or alias); the message is one line."""


def _limit_gate(name: str, value: float | None, limit: float) -> dict:
    """A gate that passes when the candidate's figure is present and at most ``limit``."""
    return {"gate": name, "candidate": value, "limit": limit, "passed": value is not None and value <= limit}


def gate_results(
    candidate: dict[str, float], champion: dict[str, float] | None, gates: PromotionSettings
) -> list[dict]:
    """Each gate with its figures and whether it passed; pure, so it can be tested alone."""
    split = "out_of_time"
    results = []
    auc = candidate.get(f"{split}.auc")
    if champion is not None:
        reference = champion.get(f"{split}.auc")
        results.append(
            {
                "gate": "discrimination_not_worse",
                "candidate": auc,
                "champion": reference,
                "passed": auc is not None and reference is not None and auc >= reference - gates.max_auc_drop,
            }
        )
    results.append(
        _limit_gate(
            "calibration_tests", candidate.get(f"{split}.failed_grade_tests_share"), gates.max_failed_grade_tests_share
        )
    )
    results.append(_limit_gate("grade_concentration", candidate.get(f"{split}.max_grade_share"), gates.max_grade_share))
    if gates.max_grade_inversions is not None:
        results.append(
            _limit_gate("monotone_grades", candidate.get(f"{split}.grade_inversions"), gates.max_grade_inversions)
        )
    if gates.min_baseline_gain_ci_low is not None:
        low = candidate.get(f"{split}.auc_gain_over_baseline_ci_low")
        results.append(
            {
                "gate": "discrimination_over_baseline",
                "candidate": low,
                "limit": gates.min_baseline_gain_ci_low,
                "passed": low is not None and low > gates.min_baseline_gain_ci_low,
            }
        )
    return results


def registry_and_gates(target: str, settings: Settings) -> tuple[str, PromotionSettings]:
    """The registered model name and its gates: the growth model's, or the crisis model's."""
    if target == "crisis":
        return settings.crisis.registered_model, settings.crisis.promotion
    if target == "growth":
        return REGISTERED_MODEL, settings.promotion
    raise ValueError(f"--target must be growth or crisis, got {target!r}")


def promote(
    version: str | None,
    settings: Settings,
    log_path: Path | None = None,
    force: bool = False,
    target: str = "growth",
) -> dict:
    """Promote ``version`` (default: the ``challenger``) of the ``target`` model (``growth``: the
    graded growth model; ``crisis``: the early-warning model) if it passes; always append to the log."""
    registered_model, gate_settings = registry_and_gates(target, settings)
    mlflow = start_experiment(settings.tracking)
    client = mlflow.MlflowClient()
    try:
        candidate = (
            client.get_model_version_by_alias(registered_model, "challenger")
            if version is None
            else client.get_model_version(registered_model, str(version))
        )
    except Exception:  # MLflow raises its own types for a missing model, version or alias
        wanted = f"version {version}" if version is not None else "challenger"
        raise PromotionError(
            f"{registered_model}: no {wanted} in the registry; train one first"
            + (" (`jumpup train --target crisis`)" if target == "crisis" else " (`jumpup train`)")
        ) from None
    try:
        champion = client.get_model_version_by_alias(registered_model, "champion")
    except Exception:  # no champion yet
        champion = None
    candidate_metrics = client.get_run(candidate.run_id).data.metrics
    champion_metrics = client.get_run(champion.run_id).data.metrics if champion is not None else None
    gates = gate_results(candidate_metrics, champion_metrics, gate_settings)
    passed = all(g["passed"] for g in gates)
    promoted = passed or force
    if promoted:
        client.set_registered_model_alias(registered_model, "champion", candidate.version)
        try:
            if client.get_model_version_by_alias(registered_model, "challenger").version == candidate.version:
                client.delete_registered_model_alias(registered_model, "challenger")
        except Exception:  # no challenger alias to clear
            pass
    record = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model": registered_model,
        "candidate_version": str(candidate.version),
        "candidate_run_id": candidate.run_id,
        "previous_champion_version": str(champion.version) if champion is not None else None,
        "decision": "promoted" if passed else ("forced" if force else "refused"),
        "champion_after": str(candidate.version) if promoted else (str(champion.version) if champion else None),
        "gates": gates,
        "code_version": code_version(),
        "log": str(log_path or promotion_log_path(settings.tracking)),
    }
    log_path = Path(log_path) if log_path else promotion_log_path(settings.tracking)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    return record
