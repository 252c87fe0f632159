"""DVC stage ``synth``: generate the synthetic history and round into ``paths.synthetic_dir``."""

from __future__ import annotations

import time
from pathlib import Path

from jumpup.provenance import code_version, file_sha256, stage_code_version, write_json
from jumpup.settings import Settings, load_settings
from jumpup.synthetic.cohort import generate_cohort_inputs, write_cohort_inputs
from jumpup.synthetic.generator import generate, write_synthetic


def run(settings: Settings, out_dir: Path, seed: int, fmt: str = "csv") -> dict:
    """Generate with the given settings, write the files and a manifest with their hashes."""
    started = time.perf_counter()
    data = generate(settings.synth, seed)
    paths = write_synthetic(data, out_dir, fmt)
    cohort = generate_cohort_inputs(
        data, settings.synth, settings.review, seed, (settings.step2.score_min, settings.step2.score_max)
    )
    paths.update(write_cohort_inputs(cohort, out_dir))
    manifest = {
        "stage": "synth",
        "seed": seed,
        "code_version": code_version(),
        "firms": len(data.history_firms),
        "firm_years": len(data.history_financials),
        "applicants": len(data.applications),
        "audit_scores": len(data.audits),
        "step2_evaluations": len(cohort.step2_evaluations),
        "review_statements": len(cohort.statements_financials),
        "files": {name: {"path": str(p.relative_to(out_dir)), "sha256": file_sha256(p)} for name, p in paths.items()},
    }
    write_json(Path(out_dir) / "synth_manifest.json", manifest)
    manifest["seconds"] = round(time.perf_counter() - started, 2)
    return manifest


def main() -> None:
    """DVC entry point: generate into paths.synthetic_dir with params.yaml."""
    settings = load_settings()
    with stage_code_version("synth"):
        manifest = run(settings, settings.paths.resolve(settings.paths.synthetic_dir), settings.seed)
    print(f"synth: {manifest['firms']} firms, {manifest['applicants']} applicants in {manifest['seconds']} s")


if __name__ == "__main__":
    main()
