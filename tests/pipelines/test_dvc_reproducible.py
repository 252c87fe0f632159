"""`dvc repro` gives the same bytes every time, and a stage's outputs change only with its own inputs and code.

Each test works in a copy of the project (the tracked files as they are in the working tree, in a
fresh git repository) whose own code runs the stages, with a small synthetic panel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_ROOT

STAGES = ("synth", "ingest", "ingest_round", "features", "train", "evaluate", "backtest_growth")


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout


def project_copy(target: Path, firms: int = 400, applicants: int = 30) -> Path:
    """The project's tracked files under ``target``, committed in a new repository, with a small panel.

    ``jumpup.features``, ``.models`` and ``.pipelines`` are linked into ``jumpup/`` as the installed
    package lays them out, so with ``PYTHONPATH=target`` the copy's own code is imported.
    """
    files = _git(PROJECT_ROOT, "ls-files", "-z").split("\0")
    for name in filter(None, files):
        source = PROJECT_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    for folder in ("features", "models", "pipelines"):
        (target / "jumpup" / folder).symlink_to(target / folder, target_is_directory=True)
    params = yaml.safe_load((target / "params.yaml").read_text(encoding="utf-8"))
    params["synth"].update(firms=firms, applicants=applicants)
    params["validation"].update(bootstrap=20)
    params["model"]["tuning_grid"]["num_leaves"] = [3]
    (target / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), "utf-8")
    _git(target, "init", "-q")
    (target / ".git" / "info" / "exclude").write_text("jumpup/features\njumpup/models\njumpup/pipelines\n")
    _git(target, "add", "-A")
    _git(target, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "copy")
    return target


def run_in(root: Path, *command: str) -> subprocess.CompletedProcess:
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PYTHONPATH": str(root), "PATH": bin_dir + os.pathsep + os.environ["PATH"]}
    env.pop("SOURCE_DATE_EPOCH", None)
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_stage_output_does_not_change_with_an_unrelated_commit(tmp_path):
    root = project_copy(tmp_path / "p", firms=150, applicants=20)
    run_in(root, sys.executable, "-m", "jumpup.pipelines.synth")
    first = snapshot(root / "data" / "synthetic")
    manifest = yaml.safe_load(first["synth_manifest.json"])
    assert manifest["code_version"].startswith("0.1.0+src.")
    # a commit that touches only the README: same bytes
    (root / "README.md").write_text((root / "README.md").read_text(encoding="utf-8") + "\nmore words\n", "utf-8")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", "readme")
    run_in(root, sys.executable, "-m", "jumpup.pipelines.synth")
    assert snapshot(root / "data" / "synthetic") == first
    # an edit of the stage's own code: the recorded code version follows it (left uncommitted: no matter)
    with (root / "pipelines" / "synth.py").open("a", encoding="utf-8") as handle:
        handle.write("\n# changed\n")
    run_in(root, sys.executable, "-m", "jumpup.pipelines.synth")
    changed = yaml.safe_load((root / "data" / "synthetic" / "synth_manifest.json").read_text(encoding="utf-8"))
    assert changed["code_version"] != manifest["code_version"]
    assert {k: v for k, v in changed.items() if k != "code_version"} == {
        k: v for k, v in manifest.items() if k != "code_version"
    }


@pytest.mark.slow
def test_dvc_repro_twice_gives_the_same_bytes_and_a_third_run_skips_every_stage(tmp_path):
    root = project_copy(tmp_path / "p")
    outs = [root / "data" / d for d in ("synthetic", "interim", "processed", "models", "evaluation", "growth")]
    run_in(root, "dvc", "repro")
    first = {str(d): snapshot(d) for d in outs}
    lock = (root / "dvc.lock").read_bytes()
    run_in(root, "dvc", "repro", "--force")
    second = {str(d): snapshot(d) for d in outs}
    for folder in first:
        assert first[folder].keys() == second[folder].keys(), folder
        differ = [name for name in first[folder] if first[folder][name] != second[folder][name]]
        assert not differ, (folder, differ)
    assert (root / "dvc.lock").read_bytes() == lock
    again = run_in(root, "dvc", "repro").stdout
    for stage in STAGES:
        assert f"Stage '{stage}' didn't change, skipping" in again, again
    # git sees no file the runs wrote, only the lock and the metrics kept in git, which the small panel changed
    kept_in_git = {"dvc.lock", *(name for name in _git(root, "ls-files", "data").split() if "reference" not in name)}
    changed = {line[3:] for line in _git(root, "status", "--porcelain", "--untracked-files=all").splitlines()}
    assert changed <= kept_in_git, changed - kept_in_git
