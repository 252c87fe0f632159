"""The probability read off a quantile function equals the row-by-row definition, bit for bit."""

import numpy as np

from jumpup.models.growth_engine import probability_above_quantiles


def _one_row_at_a_time(quantile_values, levels, threshold):
    values = np.asarray(quantile_values, dtype="float64")
    levels = np.asarray(levels, dtype="float64")
    threshold = np.broadcast_to(np.asarray(threshold, dtype="float64"), (values.shape[0],))
    out = np.full(values.shape[0], np.nan)
    for i, (row, t) in enumerate(zip(values, threshold, strict=True)):
        if np.isnan(row).any() or np.isnan(t):
            continue
        row = np.maximum.accumulate(row)
        if row[-1] - row[0] <= 0:
            out[i] = float(t < row[0])
            continue
        if t <= row[0]:
            j = np.flatnonzero(row > row[0])[0]
            slope = (levels[j] - levels[0]) / (row[j] - row[0])
            cdf = levels[0] - slope * (row[0] - t)
        elif t >= row[-1]:
            j = np.flatnonzero(row < row[-1])[-1]
            slope = (levels[-1] - levels[j]) / (row[-1] - row[j])
            cdf = levels[-1] + slope * (t - row[-1])
        else:
            cdf = float(np.interp(t, row, levels))
        out[i] = 1.0 - min(max(cdf, 0.0), 1.0)
    return out


def test_bulk_reading_equals_the_row_by_row_definition():
    rng = np.random.default_rng(0)
    levels = [0.1, 0.25, 0.5, 0.75, 0.9]
    for trial in range(6):
        n = 5000
        v = np.sort(rng.normal(0, 0.3, (n, 5)), axis=1)
        v[rng.uniform(size=(n, 5)) < 0.05] = np.nan  # missing quantiles
        ties = rng.uniform(size=n) < 0.2
        v[ties, 2] = v[ties, 1]
        v[rng.uniform(size=n) < 0.05] = 0.1  # point distributions
        v[rng.uniform(size=n) < 0.05, 3] -= 0.5  # crossing quantiles
        if trial % 2:
            t = rng.choice([0.0, 0.3, -0.2, np.nan], n)
            t = np.where(rng.uniform(size=n) < 0.1, v[:, 1], t)  # thresholds on a quantile
        else:
            t = rng.normal(0, 0.4)
        fast, slow = probability_above_quantiles(v, levels, t), _one_row_at_a_time(v, levels, t)
        assert np.array_equal(fast, slow, equal_nan=True)
        assert np.isfinite(fast).sum() > n // 2


def test_no_usable_row_gives_missing():
    assert np.isnan(probability_above_quantiles(np.full((3, 5), np.nan), [0.1, 0.25, 0.5, 0.75, 0.9], 0.0)).all()
