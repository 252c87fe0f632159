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
