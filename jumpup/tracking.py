"""Embedded MLflow tracking: a SQLite store and artifact folder inside the project by default.

No server is needed. ``MLFLOW_TRACKING_URI`` overrides the store, as MLflow users expect.
"""

from __future__ import annotations

import os
from pathlib import Path

from jumpup.settings import PROJECT_ROOT, TrackingSettings

REGISTERED_MODEL = "jumpup_growth"
CHAMPION_URI = f"models:/{REGISTERED_MODEL}@champion"


def tracking_uri(settings: TrackingSettings) -> str:
    """The tracking URI in force: the environment's, else the project's SQLite file (made absolute)."""
    override = os.environ.get("MLFLOW_TRACKING_URI")
    if override:
        return override
    prefix = "sqlite:///"
    if settings.tracking_uri.startswith(prefix):
        path = Path(settings.tracking_uri[len(prefix) :])
        path = path if path.is_absolute() else PROJECT_ROOT / path
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"{prefix}{path}"
    return settings.tracking_uri


def artifact_root(settings: TrackingSettings) -> Path:
    """Where a new experiment keeps its artifacts: beside the store in force.

    With the configured store, ``artifact_location`` (relative to the project root); with a SQLite
    store named by ``MLFLOW_TRACKING_URI`` (tests, other users), an ``artifacts`` folder next to
    that database, so runs in another store never leave artifact folders in the project.
    """
    override = os.environ.get("MLFLOW_TRACKING_URI", "")
    if override.startswith("sqlite:///"):
        return Path(override[len("sqlite:///") :]).parent / "artifacts"
    artifacts = Path(settings.artifact_location)
    return artifacts if artifacts.is_absolute() else PROJECT_ROOT / artifacts


def promotion_log_path(settings: TrackingSettings) -> Path:
    """The promotion log sits beside the store whose aliases it records (MLflow keeps no alias history)."""
    return artifact_root(settings).parent / "promotion_log.jsonl"


def start_experiment(settings: TrackingSettings):
    """Point MLflow at the store and make sure the experiment exists; returns the mlflow module."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(settings))
    if mlflow.get_experiment_by_name(settings.experiment) is None:
        artifacts = artifact_root(settings)
        artifacts.mkdir(parents=True, exist_ok=True)
        mlflow.create_experiment(settings.experiment, artifact_location=artifacts.as_uri())
    mlflow.set_experiment(settings.experiment)
    return mlflow
