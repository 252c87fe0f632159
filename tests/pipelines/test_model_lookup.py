"""A model that cannot be found is one line naming the URI, the store, the registered models and the fix."""

from __future__ import annotations

import pytest

from jumpup.pipelines.score import ModelNotFoundError, load_bundle
from jumpup.settings import load_settings


@pytest.mark.parametrize("uri", ["models:/jumpup_growth@champion", "models:/jumpup_growht/3", "runs:/nope/model"])
def test_a_missing_or_mistyped_model_is_one_line_with_the_store_and_a_hint(uri, tmp_path, monkeypatch):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    with pytest.raises(ModelNotFoundError) as caught:
        load_bundle(uri, load_settings())
    message = str(caught.value)
    assert "\n" not in message and repr(uri) in message and store in message
    assert "no registered models" in message and "jumpup train" in message
    assert isinstance(caught.value, ValueError)  # the CLI turns it into one line and exit code 2


def test_a_mistyped_version_or_name_says_what_the_store_holds(tmp_path, monkeypatch):
    import mlflow

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    mlflow.set_tracking_uri(store)
    client = mlflow.MlflowClient()
    client.create_registered_model("jumpup_growth")
    client.create_model_version("jumpup_growth", source=(tmp_path / "m").as_uri())
    expected = {
        "models:/jumpup_growth/9": "jumpup_growth has no version '9'",
        "models:/jumpup_growth@gold": "jumpup_growth has no alias @gold",
        "models:/jumpup_growth": "the URI names no version or alias of jumpup_growth",
        "models:/jumpup_growht/1": "no registered model named 'jumpup_growht'",
    }
    for uri, says in expected.items():
        with pytest.raises(ModelNotFoundError) as caught:
            load_bundle(uri, load_settings())
        message = str(caught.value)
        assert says in message and "jumpup_growth (versions v1" in message, message
        assert "no such file" not in message and "jumpup train" not in message  # the store has a model


def test_a_missing_model_in_a_new_store_is_one_line_and_nothing_else(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'new.db'}"}
    env.pop("MLFLOW_LOGGING_LEVEL", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jumpup.pipelines.cli",
            "score",
            "--panel",
            str(tmp_path),
            "--as-of",
            "2024",
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 2
    assert len(lines) == 1 and lines[0].startswith("error: model 'models:/jumpup_growth@champion' not found")
    assert not (tmp_path / "out").exists()


# `jumpup round` and `jumpup score` with no --model; "{inputs}" stands for the input folder.
WITHOUT_MODEL = {"round": ["round", "{inputs}"], "score": ["score", "--panel", "{inputs}", "--as-of", "2024"]}


def _in_empty_store(command: list[str], inputs, out, tmp_path):
    """Run ``command`` against a new, empty MLflow store (no champion); returns the finished process."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'new.db'}"}
    args = [part.replace("{inputs}", str(inputs)) for part in command]
    return subprocess.run(
        [sys.executable, "-m", "jumpup.pipelines.cli", *args, "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.parametrize("command", WITHOUT_MODEL.values(), ids=WITHOUT_MODEL.keys())
def test_a_missing_input_folder_is_named_before_a_missing_model(command, tmp_path):
    """Without --model and with no champion in the store, a mistyped folder is still what the error names."""
    missing = tmp_path / "no_such_round"
    done = _in_empty_store(command, missing, tmp_path / "out", tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == f"error: {missing}: not a directory"
    assert not (tmp_path / "out").exists() and not (tmp_path / "new.db").exists()


@pytest.mark.parametrize("command", WITHOUT_MODEL.values(), ids=WITHOUT_MODEL.keys())
def test_an_out_that_is_a_file_is_refused_before_any_work(command, tmp_path):
    taken = tmp_path / "notes.txt"
    taken.write_text("keep me\n", encoding="utf-8")
    done = _in_empty_store(command, tmp_path, taken, tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == f"error: {taken}: exists and is not a folder; choose another --out"
    assert taken.read_text(encoding="utf-8") == "keep me\n" and not (tmp_path / "new.db").exists()


def test_commands_send_no_mlflow_telemetry_and_write_nothing_under_home(tmp_path):
    """MLflow's usage telemetry (a remote endpoint, an id under ~/.config/mlflow) stays off."""
    import os
    import subprocess
    import sys

    home = tmp_path / "home"
    home.mkdir()
    ci_markers = (
        "PYTEST_CURRENT_TEST",
        "CI",
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "MLFLOW_DISABLE_TELEMETRY",
        "DO_NOT_TRACK",
    )
    env = {k: v for k, v in os.environ.items() if k not in ci_markers and not k.startswith("XDG_")}
    env.update(HOME=str(home), MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'store.db'}")
    script = (
        "import jumpup, mlflow, mlflow.telemetry as t; "
        "mlflow.set_experiment('x'); "
        "print(t.get_telemetry_client() is None, os.environ.get('MLFLOW_DISABLE_TELEMETRY'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", "import os; " + script], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "true"]
    assert not (home / ".config" / "mlflow").exists()
