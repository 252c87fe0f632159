"""Predictions and reason contributions do not depend on how many threads compute them."""

import numpy as np
import pandas as pd

from jumpup.models import gbm


def test_thread_count_changes_no_prediction_or_contribution(monkeypatch):
    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.normal(size=(3000, 6)), columns=[f"x{i}" for i in range(6)])
    X.iloc[rng.uniform(size=3000) < 0.1, 2] = np.nan
    y = (X["x0"] + 0.5 * X["x1"].fillna(0) + rng.normal(size=3000) > 0).astype(int)
    model = gbm.GrowthGBM(n_estimators=60, random_state=0).fit(X, y)
    results = {}
    for threads in (1, 2):
        monkeypatch.setattr(gbm, "PREDICT_THREADS", threads)
        results[threads] = (model.predict_proba(X), model.raw_score(X), model.contributions(X).to_numpy())
    for one, two in zip(results[1], results[2], strict=True):
        assert np.array_equal(one, two)
    assert np.allclose(results[1][2].sum(axis=1), results[1][1])  # contributions add up to the raw score
