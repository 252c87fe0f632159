"""Shared fixtures: real-data location (skips with a reason when absent) and the --run-slow flag."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
KOSDAQ_PANEL = SHARED_DATA / "kosdaq_panel"
DART_BULK = SHARED_DATA / "dart_bulk"
TS2000 = SHARED_DATA / "ts2000_audited"
FNGUIDE = SHARED_DATA / "fnguide_listed"
DART_EMPLOYEES = SHARED_DATA / "dart_employees"


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False, help="run long benchmarks and scale tests")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --run-slow (make test-all)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture(scope="session")
def kosdaq_panel() -> Path:
    if not (KOSDAQ_PANEL / "financials.csv").exists():
        pytest.skip(f"real data absent: {KOSDAQ_PANEL} not found (see shared/data/README.md)")
    return KOSDAQ_PANEL


@pytest.fixture(scope="session")
def dart_bulk() -> Path:
    if not DART_BULK.is_dir() or not any(DART_BULK.glob("*.txt")):
        pytest.skip(f"real data absent: {DART_BULK} has no DART bulk files (see shared/data/README.md)")
    return DART_BULK


@pytest.fixture(scope="session")
def ts2000_audited() -> Path:
    if not (TS2000 / "income").is_dir():
        pytest.skip(f"real data absent: {TS2000} not found (see shared/data/README.md)")
    return TS2000


@pytest.fixture(scope="session")
def fnguide_listed() -> Path:
    path = FNGUIDE / "statements_eok.csv"
    if not path.exists():
        pytest.skip(f"real data absent: {path} not found (see shared/data/README.md)")
    return path


@pytest.fixture(scope="session")
def dart_employees() -> Path:
    path = DART_EMPLOYEES / "employees_2021_2025.csv"
    if not path.exists():
        pytest.skip(f"real data absent: {path} not found (see shared/data/README.md)")
    return path


@pytest.fixture(scope="session", autouse=True)
def _session_mlflow(tmp_path_factory):
    """Module- and session-scoped fixtures run before per-test fixtures: give them a temporary store too."""
    import os

    before = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path_factory.mktemp('mlflow_session') / 'mlflow.db'}"
    yield
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before


@pytest.fixture(autouse=True)
def _isolated_mlflow(tmp_path, monkeypatch):
    """Every test writes MLflow runs to its own temporary store, never the project's."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")


def quick_settings(firms: int, applicants: int, bootstrap: int = 20, leaves=(3,)):
    """Settings for a small, fast synthetic panel and model (tests only): the growth engine's pooled
    quantile models with 40 trees, as the growth-path tests use (half a training's time at 150)."""
    from jumpup.settings import load_settings

    return load_settings(
        overrides={
            "synth": {"firms": firms, "applicants": applicants},
            "ingest": {"max_fiscal_year": 2024},
            "validation": {"bootstrap": bootstrap},
            "model": {"tuning_grid": {"num_leaves": list(leaves)}},
            "growth_paths": {"pooled_estimators": 40},
        }
    )


def synth_and_train(root: Path, settings, seed: int) -> Path:
    """Generate a synthetic panel under ``root/data`` and train an unregistered bundle; its path."""
    from jumpup.pipelines import synth
    from jumpup.pipelines.train import train_panel

    synth.run(settings, root / "data", seed=seed)
    train_panel(root / "data" / "history", root / "model", settings, register=False)
    return root / "model" / "bundle"
