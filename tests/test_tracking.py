"""The MLflow store: artifacts and the promotion log sit beside the store in force, never in the project."""

from __future__ import annotations


def test_artifacts_and_the_promotion_log_follow_the_store_in_force(tmp_path, monkeypatch):
    from jumpup.settings import load_settings
    from jumpup.tracking import artifact_root, promotion_log_path

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    tracking = load_settings().tracking
    assert artifact_root(tracking) == tmp_path / "store" / "artifacts"
    assert promotion_log_path(tracking) == tmp_path / "store" / "promotion_log.jsonl"


def test_a_use_run_is_running_inside_its_block_ends_failed_on_an_error_and_killed_on_ctrl_c(tmp_path, monkeypatch):
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
    with pytest.raises(KeyboardInterrupt), use_run(tracking, "round", record, {}) as stopped_id:
        raise KeyboardInterrupt
    assert mlflow.get_run(stopped_id).info.status == "KILLED"
    # Python 3.11 reports a Ctrl-C inside an import as a RuntimeError caused by it: the same stop.
    with pytest.raises(RuntimeError), use_run(tracking, "round", record, {}) as stopped_id:
        raise RuntimeError("interrupted while importing") from KeyboardInterrupt()
    assert mlflow.get_run(stopped_id).info.status == "KILLED"
    assert mlflow.active_run() is None


def test_a_model_from_code_is_logged_with_its_signature_no_example_and_no_warning_asking_for_one(tmp_path, monkeypatch):
    import warnings

    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    from jumpup.settings import load_settings
    from jumpup.tracking import log_model_from_code, start_experiment

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    start_experiment(load_settings().tracking)
    code = tmp_path / "echo_model.py"
    code.write_text(
        "import mlflow.pyfunc\nfrom mlflow.models import set_model\n\n\n"
        "class Echo(mlflow.pyfunc.PythonModel):\n"
        "    def predict(self, context, model_input, params=None):\n"
        "        return model_input\n\n\n"
        "set_model(Echo())\n",
        encoding="utf-8",
    )
    rows = pd.DataFrame({"firm_id": ["F1"], "revenue": [1.0]})
    with warnings.catch_warnings(record=True) as caught, mlflow.start_run():
        warnings.simplefilter("always")
        info = log_model_from_code(
            mlflow, name="model", python_model=str(code), signature=infer_signature(rows, rows), pip_requirements=[]
        )
    asked = [str(w.message) for w in caught if "An input example was not provided" in str(w.message)]
    assert not asked, asked
    assert info.signature is not None and info.saved_input_example_info is None  # no firm rows in the model


def test_the_integer_column_hint_is_shown_only_for_integer_columns_that_may_be_missing():
    import warnings

    import pandas as pd

    from jumpup.tracking import model_signature

    def hints(example: pd.DataFrame) -> list[str]:
        # Outputs are never checked against the schema: their integer counts do not matter.
        output = pd.DataFrame({"firm_id": example["firm_id"], "probability": 0.5, "peer_group_size": 30})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model_signature(example, output, params={"reasons": True})
        return [str(w.message) for w in caught if "integer column" in str(w.message)]

    rows = pd.DataFrame({"firm_id": ["F1", "F2"], "fiscal_year": [2023, 2023], "revenue": [1.0, 2.0]})
    assert hints(rows) == []  # fiscal_year is required by every input contract
    assert hints(rows.assign(patents_granted=[1, 2]))  # a count may be missing: MLflow's hint stays
