"""Decision logs go to the configured store or inside --out, never into the project tree."""

from __future__ import annotations

from pathlib import Path

from jumpup.pipelines.step1 import decision_log_path
from jumpup.settings import load_settings


def test_without_a_store_every_step_logs_inside_its_out(tmp_path):
    settings = load_settings(overrides={"paths": {"decision_log": None}})
    for step in ("step1", "step2", "review"):
        assert decision_log_path(settings, tmp_path / "out", step) == tmp_path / "out" / f"{step}_decision_log.jsonl"


def test_a_configured_store_holds_every_steps_log_side_by_side(tmp_path):
    store = tmp_path / "store" / "decisions.jsonl"
    settings = load_settings(overrides={"paths": {"decision_log": str(store)}})
    assert decision_log_path(settings, tmp_path / "out") == store
    assert decision_log_path(settings, tmp_path / "out", "step2") == store.with_name("step2_decision_log.jsonl")
    assert decision_log_path(settings, tmp_path / "out", "review").parent == Path(store).parent
