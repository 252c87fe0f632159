"""The MLflow store: artifacts and the promotion log sit beside the store in force, never in the project."""

from __future__ import annotations


def test_artifacts_and_the_promotion_log_follow_the_store_in_force(tmp_path, monkeypatch):
    from jumpup.settings import load_settings
    from jumpup.tracking import artifact_root, promotion_log_path

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    tracking = load_settings().tracking
    assert artifact_root(tracking) == tmp_path / "store" / "artifacts"
    assert promotion_log_path(tracking) == tmp_path / "store" / "promotion_log.jsonl"


def test_a_use_run_is_running_inside_its_block_and_ends_failed_when_the_block_raises(tmp_path, monkeypatch):
    import mlflow
    import pytest

    from jumpup.settings import load_settings
    from jumpup.tracking import use_run

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    tracking = load_settings().tracking
    record = {"as_of": 2024, "data_sha256": "ab" * 32, "code_version": "test"}
    with use_run(tracking, "round", record, {"applicants": 3.0}) as run_id:
        assert mlflow.get_run(run_id).info.status == "RUNNING"
    finished = mlflow.get_run(run_id)
    assert finished.info.status == "FINISHED" and finished.data.metrics == {"applicants": 3.0}
    assert finished.data.tags["data_sha256"] == "ab" * 32
    with pytest.raises(RuntimeError), use_run(tracking, "round", record, {}) as failed_id:
        raise RuntimeError("the round failed after its figures were logged")
    assert mlflow.get_run(failed_id).info.status == "FAILED"
