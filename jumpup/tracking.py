"""Embedded MLflow tracking: a SQLite store and artifact folder inside the project by default.

No server is needed. ``MLFLOW_TRACKING_URI`` overrides the store, as MLflow users expect.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
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


@contextlib.contextmanager
def use_run(settings: TrackingSettings, stage: str, record: dict, metrics: dict[str, float]) -> Iterator[str]:
    """One MLflow run for a round or a scoring run, linked to the model version it used; yields its run id.

    ``record`` carries ``as_of``, ``data_sha256``, ``code_version`` and the model description of
    ``load_bundle`` (model, model_version, model_alias, model_run_id, model_sha256). The run is
    named by stage, as-of year and data hash; its tags name the model version and the training
    run, so the registry's version page and the run list lead to each other. The run is open
    (RUNNING) inside the ``with`` block and ends FINISHED when the block does, KILLED when Ctrl-C
    stops it (``interrupted``) and FAILED on any other error, so a stage may open it as soon as its
    figures are known and finish its outputs after.
    """
    mlflow = start_experiment(settings)
    data = str(record.get("data_sha256", ""))
    name = f"{stage}-{record.get('as_of')}-data{data[:8]}"
    tags = {
        "stage": stage,
        "as_of": str(record.get("as_of")),
        "data_sha256": data,
        "code_version": str(record.get("code_version", "")),
        "model_uri": str(record.get("model", "")),
        "model_version": str(record.get("model_version", "")),
        "model_alias": str(record.get("model_alias", "")),
        "model_run_id": str(record.get("model_run_id", "")),
        "model_sha256": str(record.get("model_sha256", "")),
    }
    run = mlflow.start_run(run_name=name)
    try:
        mlflow.set_tags({k: v for k, v in tags.items() if v})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        yield run.info.run_id
    except BaseException as exc:
        mlflow.end_run("KILLED" if interrupted(exc) else "FAILED")
        raise
    mlflow.end_run("FINISHED")


def interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is a Ctrl-C: a ``KeyboardInterrupt``, or an error it caused (its ``__cause__`` chain).

    Python 3.11 reports a Ctrl-C that lands while a class is being created (inside an import)
    as a ``RuntimeError`` caused by it.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__cause__
    return False


def track_use(settings: TrackingSettings, stage: str, record: dict, metrics: dict[str, float]) -> str:
    """``use_run`` for a stage whose outputs are already written: the run is logged and ended at once."""
    with use_run(settings, stage, record, metrics) as run_id:
        return run_id


def log_model_from_code(mlflow, **log_model):
    """``mlflow.pyfunc.log_model(**log_model)`` for a model from code with a signature and no input example.

    The signature carries the input schema; an input example would copy firms' rows (financial
    statements) into every logged model, so none is given, and MLflow's warning that asks for one
    is not shown. Every other warning is. Returns MLflow's ``ModelInfo``.
    """
    with warnings.catch_warnings():
        # MLflow colours the message: it starts with a terminal escape code, not with these words.
        warnings.filterwarnings("ignore", message=r".*An input example was not provided", category=UserWarning)
        return mlflow.pyfunc.log_model(**log_model)


REQUIRED_INTEGER_COLUMNS = frozenset({"fiscal_year"})  # every input contract requires it: never missing


def model_signature(example, output, params: dict):
    """``mlflow.models.infer_signature(example, output, params=params)`` of a model's example rows.

    MLflow warns that an integer input column cannot hold a missing value when the model is called
    (only inputs are checked against the schema then). When the only integer columns of ``example``
    (a pandas frame) are ``REQUIRED_INTEGER_COLUMNS``, which intake never lets be missing, that
    warning says nothing true and is not shown; any other integer input column keeps it.
    """
    import pandas as pd
    from mlflow.models import infer_signature

    integers = {c for c in example.columns if pd.api.types.is_integer_dtype(example[c])}
    with warnings.catch_warnings():
        if integers <= REQUIRED_INTEGER_COLUMNS:
            warnings.filterwarnings(
                "ignore", message=r".*Inferred schema contains integer column", category=UserWarning
            )
        return infer_signature(example, output, params=params)
