"""Stage ``features``: a panel directory in, the feature table (one row per firm-year) out.

Reads the panel through the ingest contract (rejected rows go to ``<out>.quarantine.csv``),
fits the reference population on it — or loads a saved one with ``reference`` (a directory of
data files with a hashed manifest, ``jumpup.models.bundle_store``; never a pickle) — and writes
the features as Parquet with a schema file and a manifest beside it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from jumpup.features.builder import FeatureBuilder, panel_rows
from jumpup.features.registry import BY_NAME
from jumpup.intake.ingest import open_panel
from jumpup.models.bundle_store import load_feature_reference, save_feature_reference
from jumpup.provenance import code_version, file_sha256, frame_sha256, shown_path, stage_code_version, write_json
from jumpup.safe_text import write_csv
from jumpup.schemas import FEATURES
from jumpup.settings import Settings, load_settings


def build_features(
    firms: pd.DataFrame, financials: pd.DataFrame, settings: Settings, builder: FeatureBuilder | None = None
) -> tuple[pd.DataFrame, FeatureBuilder]:
    """Pure step: accepted panel tables -> (features, fitted builder)."""
    rows = panel_rows(firms, financials)
    if builder is None:
        builder = FeatureBuilder(settings.features, settings.size_class, settings.program).fit(rows)
    return builder.transform(rows), builder


def feature_schema(features: pd.DataFrame) -> list[dict]:
    """Column, dtype and, for indicators, the registry's Korean name, unit and formula."""
    schema = []
    for column in features.columns:
        entry = {"column": column, "dtype": str(features[column].dtype)}
        base = column.replace("peer_median_", "")
        if base in BY_NAME:
            indicator = BY_NAME[base]
            entry.update(
                {"family": indicator.family, "ko": indicator.ko, "unit": indicator.unit, "formula": indicator.formula}
            )
        schema.append(entry)
    return schema


def run(
    panel_dir: Path,
    out_file: Path,
    settings: Settings,
    reference: Path | None = None,
    save_reference: Path | None = None,
) -> dict:
    started = time.perf_counter()
    result = open_panel(panel_dir, settings.ingest)
    builder = None
    if reference is not None:
        builder = load_feature_reference(Path(reference))
    features, builder = build_features(result.tables["firms"], result.tables["financials"], settings, builder)
    FEATURES.validate(features)
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    features.to_parquet(out_file, index=False)
    stem = out_file.with_suffix("")
    write_csv(result.quarantine, Path(f"{stem}.quarantine.csv"))
    write_json(Path(f"{stem}.schema.json"), {"columns": feature_schema(features)})
    if save_reference is not None:
        save_feature_reference(builder, Path(save_reference))
    numeric = features.select_dtypes("number")
    manifest = {
        "stage": "features",
        "code_version": code_version(),
        "panel": shown_path(panel_dir),
        "input_sha256": {r.table: r.sha256 for r in result.reports},
        "rows_read": {r.table: r.rows_read for r in result.reports},
        "rows_quarantined": {r.table: r.quarantined for r in result.reports},
        "firm_years": len(features),
        "features_sha256": frame_sha256(features),
        "reference": shown_path(reference) if reference else "fitted on this panel",
        "missing_share": {c: round(float(v), 4) for c, v in features.isna().mean().items() if v > 0},
        "infinite_values": int(
            (~pd.DataFrame(numeric).apply(lambda c: c.isna() | c.abs().lt(float("inf")))).sum().sum()
        ),
        "output_sha256": file_sha256(out_file),
    }
    write_json(Path(f"{stem}.manifest.json"), manifest)
    manifest["seconds"] = round(time.perf_counter() - started, 2)
    return manifest


def main() -> None:
    """DVC entry point: features of the ingested synthetic history."""
    settings = load_settings()
    root = settings.paths.resolve(Path("data"))
    with stage_code_version("features"):
        manifest = run(
            settings.paths.resolve(settings.paths.ingested_dir),
            root / "processed" / "features.parquet",
            settings,
            save_reference=root / "processed" / "feature_reference",
        )
    print(f"features: {manifest['firm_years']} firm-years in {manifest['seconds']} s")


if __name__ == "__main__":
    main()
