"""Stage ``evaluate``: recompute the validation figures from the saved predictions.

Reads ``predictions.parquet`` written by ``train`` (every labelled row with its split, target,
probability and grade) and the bundle's master scale, recomputes discrimination, grade tests,
calibration and concentration per split, and writes the DVC metrics file and plot data. Because
it starts from the predictions alone, it also checks that the training report can be reproduced.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from jumpup.models.bundle_store import load_bundle_dir
from jumpup.models.metrics import evaluate_split
from jumpup.provenance import stage_code_version, write_json
from jumpup.settings import Settings, load_settings


def evaluate(model_dir: Path, out_dir: Path, settings: Settings) -> dict:
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    predictions = pd.read_parquet(model_dir / "predictions.parquet")
    bundle = load_bundle_dir(model_dir / "bundle")
    v = settings.validation
    metrics, plots = {}, []
    for split in ("train", "out_of_sample", "out_of_time"):
        part = predictions[predictions["split"] == split]
        if part.empty or part["target"].nunique() < 2:
            continue
        result = evaluate_split(
            part["target"].to_numpy(),
            part["probability"].to_numpy(),
            part["grade"].to_numpy(),
            bundle.scale.labels,
            part["firm_id"].to_numpy(),
            v.bootstrap,
            v.alpha,
            v.reliability_bins,
            settings.seed,
        )
        for key, value in result["discrimination"].items():
            metrics[f"{split}.{key}"] = round(value["value"], 6)
        metrics[f"{split}.brier"] = round(result["calibration"]["brier"], 6)
        metrics[f"{split}.ece"] = round(result["calibration"]["ece"], 6)
        metrics[f"{split}.hhi"] = round(result["concentration"]["hhi"], 6)
        metrics[f"{split}.grade_inversions"] = result["monotonicity"]["inversions"]
        metrics[f"{split}.failed_grade_tests"] = result["failed_grade_tests"]
        plots += [{"split": split, **point} for point in result["calibration"]["reliability"]]
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "metrics.json", metrics)
    pd.DataFrame(plots).to_csv(out_dir / "reliability.csv", index=False)
    return metrics


def main() -> None:
    settings = load_settings()
    root = settings.paths.resolve(Path("data"))
    with stage_code_version("evaluate"):
        evaluate(root / "models", root / "evaluation", settings)


if __name__ == "__main__":
    main()
