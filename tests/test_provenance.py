"""The code version every output records, read from the checkout without writing to it."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest


def _git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_checkout_version_reads_git_without_taking_the_index_lock(tmp_path, monkeypatch):
    import jumpup.provenance as provenance

    repo = tmp_path / "checkout"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "params.yaml").write_text("seed: 1\n", encoding="utf-8")
    _git(repo, "add", "params.yaml")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "first")
    monkeypatch.setattr(provenance, "PROJECT_ROOT", repo)
    # New stat data on a tracked file: a plain `git status` would refresh and rewrite the index.
    time.sleep(1.1)
    (repo / "params.yaml").write_text("seed: 1\n", encoding="utf-8")
    index = repo / ".git" / "index"
    before = (index.stat().st_mtime_ns, (repo / ".git").stat().st_mtime_ns)
    version = provenance.checkout_version.__wrapped__()
    assert version.endswith(
        "+g"
        + subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    assert (index.stat().st_mtime_ns, (repo / ".git").stat().st_mtime_ns) == before  # nothing written
    (repo / "params.yaml").write_text("seed: 2\n", encoding="utf-8")
    assert provenance.checkout_version.__wrapped__().endswith("+dirty")


def test_json_outputs_are_strict_json_with_null_for_a_figure_not_computed(tmp_path):
    import json
    import math

    import numpy as np

    from jumpup.provenance import write_json

    path = tmp_path / "report.json"
    write_json(path, {"psi": {"critical_value": float("nan"), "values": [1.5, np.float64("inf"), -math.inf]}, "n": 3})

    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    assert json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse) == {
        "n": 3,
        "psi": {"critical_value": None, "values": [1.5, None, None]},
    }
