"""The MLflow store: artifacts and the promotion log sit beside the store in force, never in the project."""

from __future__ import annotations


def test_artifacts_and_the_promotion_log_follow_the_store_in_force(tmp_path, monkeypatch):
    from jumpup.settings import load_settings
    from jumpup.tracking import artifact_root, promotion_log_path

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    tracking = load_settings().tracking
    assert artifact_root(tracking) == tmp_path / "store" / "artifacts"
    assert promotion_log_path(tracking) == tmp_path / "store" / "promotion_log.jsonl"
