"""Promotion gates on a registry of runs whose figures are set by hand: fail a gate, stay out; pass, go in."""

from __future__ import annotations

import json

import pytest

from jumpup.pipelines import promote as promotion
from jumpup.settings import load_settings
from jumpup.tracking import REGISTERED_MODEL, start_experiment

GOOD = {"out_of_time.auc": 0.70, "out_of_time.failed_grade_tests_share": 0.1, "out_of_time.max_grade_share": 0.2}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One MLflow store for the module (creating a SQLite store is the slow part); each test empties the registry."""
    return tmp_path_factory.mktemp("promote")


@pytest.fixture
def registry(store, monkeypatch):
    """A function registering a model version whose run logged ``metrics``, with an optional alias."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    settings = load_settings(overrides={"tracking": {"artifact_location": str(store / "artifacts")}})
    mlflow = start_experiment(settings.tracking)
    client = mlflow.MlflowClient()
    if client.search_registered_models(f"name = '{REGISTERED_MODEL}'"):
        client.delete_registered_model(REGISTERED_MODEL)
    client.create_registered_model(REGISTERED_MODEL)

    def register(metrics: dict[str, float], alias: str | None = None) -> str:
        with mlflow.start_run() as run:
            mlflow.log_metrics(metrics)
        version = client.create_model_version(REGISTERED_MODEL, f"{run.info.artifact_uri}/model", run.info.run_id)
        if alias:
            client.set_registered_model_alias(REGISTERED_MODEL, alias, version.version)
        return str(version.version)

    return settings, client, register


def _champion(client) -> str:
    return str(client.get_model_version_by_alias(REGISTERED_MODEL, "champion").version)


def _settings(settings, **promotion):
    return settings.model_copy(update={"promotion": settings.promotion.model_copy(update=promotion)})


def test_a_candidate_passing_every_gate_becomes_champion_and_the_challenger_alias_is_cleared(registry, tmp_path):
    settings, client, register = registry
    old = register(GOOD, "champion")
    new = register({**GOOD, "out_of_time.auc": 0.72}, "challenger")
    log = tmp_path / "log.jsonl"
    record = promotion.promote(None, settings, log_path=log)
    assert record["decision"] == "promoted" and record["previous_champion_version"] == old
    assert _champion(client) == new == record["champion_after"]
    assert "challenger" not in client.get_registered_model(REGISTERED_MODEL).aliases
    assert json.loads(log.read_text())["decision"] == "promoted"


@pytest.mark.parametrize(
    ("metrics", "failed_gate"),
    [
        ({**GOOD, "out_of_time.auc": 0.65}, "discrimination_not_worse"),
        ({**GOOD, "out_of_time.failed_grade_tests_share": 0.5}, "calibration_tests"),
        ({**GOOD, "out_of_time.max_grade_share": 0.6}, "grade_concentration"),
        ({k: v for k, v in GOOD.items() if k != "out_of_time.max_grade_share"}, "grade_concentration"),  # not measured
    ],
)
def test_a_candidate_failing_one_gate_is_refused_and_the_champion_stays(registry, tmp_path, metrics, failed_gate):
    settings, client, register = registry
    old = register(GOOD, "champion")
    register(metrics, "challenger")
    log = tmp_path / "log.jsonl"
    record = promotion.promote(None, settings, log_path=log)
    assert record["decision"] == "refused" and record["champion_after"] == old == _champion(client)
    assert [g["gate"] for g in record["gates"] if not g["passed"]] == [failed_gate]
    assert "challenger" in client.get_registered_model(REGISTERED_MODEL).aliases
    assert json.loads(log.read_text())["decision"] == "refused"  # refusals are logged too


def test_the_auc_gate_allows_the_configured_drop_and_no_more(registry, tmp_path):
    settings, client, register = registry
    register(GOOD, "champion")
    within = register({**GOOD, "out_of_time.auc": 0.68}, "challenger")
    tolerant = _settings(settings, max_auc_drop=0.02)
    assert promotion.promote(None, tolerant, log_path=tmp_path / "log.jsonl")["decision"] == "promoted"
    register({**GOOD, "out_of_time.auc": 0.6599}, "challenger")  # 0.02 below the new champion's 0.68, and a bit
    assert promotion.promote(None, tolerant, log_path=tmp_path / "log.jsonl")["decision"] == "refused"
    assert _champion(client) == within


def test_force_moves_the_champion_but_the_log_says_forced(registry, tmp_path):
    settings, client, register = registry
    register(GOOD, "champion")
    weak = register({**GOOD, "out_of_time.auc": 0.5}, "challenger")
    log = tmp_path / "log.jsonl"
    record = promotion.promote(None, settings, log_path=log, force=True)
    assert record["decision"] == "forced" and _champion(client) == weak
    assert any(not g["passed"] for g in record["gates"])


def test_the_first_model_has_no_champion_to_beat_but_still_meets_the_other_gates(registry, tmp_path):
    settings, client, register = registry
    crowded = register({**GOOD, "out_of_time.max_grade_share": 0.9})
    record = promotion.promote(crowded, settings, log_path=tmp_path / "log.jsonl")
    assert record["decision"] == "refused" and record["champion_after"] is None
    assert [g["gate"] for g in record["gates"]] == ["calibration_tests", "grade_concentration"]
    first = register(GOOD)
    record = promotion.promote(first, settings, log_path=tmp_path / "log.jsonl")
    assert record["decision"] == "promoted" and _champion(client) == first
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 2


def test_the_crisis_model_has_its_own_registry_and_gates_monotone_grades_and_a_gain_over_the_baseline():
    settings = load_settings()
    name, gates = promotion.registry_and_gates("crisis", settings)
    assert name == settings.crisis.registered_model != REGISTERED_MODEL
    good = {**GOOD, "out_of_time.grade_inversions": 0, "out_of_time.auc_gain_over_baseline_ci_low": 0.004}
    assert all(g["passed"] for g in promotion.gate_results(good, None, gates))
    for metrics, failed in (
        ({**good, "out_of_time.grade_inversions": 1}, "monotone_grades"),
        ({**good, "out_of_time.auc_gain_over_baseline_ci_low": -0.001}, "discrimination_over_baseline"),
        ({**good, "out_of_time.auc_gain_over_baseline_ci_low": 0.0}, "discrimination_over_baseline"),
        ({k: v for k, v in good.items() if k != "out_of_time.grade_inversions"}, "monotone_grades"),
    ):
        assert [g["gate"] for g in promotion.gate_results(metrics, None, gates) if not g["passed"]] == [failed]
    # the growth model's gates are unchanged: neither crisis gate applies to it
    _, growth = promotion.registry_and_gates("growth", settings)
    applied = {g["gate"] for g in promotion.gate_results(GOOD, None, growth)}
    assert applied == {"calibration_tests", "grade_concentration"}
    with pytest.raises(ValueError, match="--target"):
        promotion.registry_and_gates("other", settings)


def test_promoting_a_model_without_a_candidate_is_one_clear_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from jumpup.pipelines.cli import app

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    result = CliRunner().invoke(app, ["promote", "--target", "crisis"])
    assert result.exit_code == 2
    assert "jumpup-crisis" in result.output and "Traceback" not in result.output
    assert "jumpup-crisis: no challenger in the registry; train one first" in result.output
