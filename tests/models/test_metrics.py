"""The bootstrap helpers and the probability calibration, on data whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from jumpup.models.metrics import bootstrap_intervals, bootstrap_samples, discrimination, paired_auc_difference
from jumpup.models.training import ProbabilityCalibrator, fit_calibrator


def _firms(n_firms: int = 300, years: int = 3, seed: int = 0):
    """Firm-years whose event depends on a latent firm quality; ``strong`` sees it, ``weak`` barely."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(size=n_firms)
    firm = np.repeat(np.arange(n_firms), years)
    latent = quality[firm] + rng.normal(scale=0.5, size=len(firm))
    y = (latent > 0.8).astype(int)
    strong = latent + rng.normal(scale=0.3, size=len(firm))
    weak = latent + rng.normal(scale=3.0, size=len(firm))
    return y, strong, weak, np.array([f"F{g:04d}" for g in firm])


def test_cluster_samples_draw_whole_firms():
    y, _, _, groups = _firms(n_firms=50, years=4)
    for index in bootstrap_samples(y, groups, n_boot=20, seed=1):
        counts = np.unique(groups[index], return_counts=True)[1]
        assert (counts % 4 == 0).all()  # every drawn firm brings all its four years
        assert len(index) == len(y)


def test_samples_are_reproducible_and_skip_single_class_draws():
    y, _, _, groups = _firms()
    one = [i.tolist() for i in bootstrap_samples(y, groups, 10, seed=5)]
    two = [i.tolist() for i in bootstrap_samples(y, groups, 10, seed=5)]
    assert one == two and len(one) == 10
    rare = np.zeros(40, dtype=int)
    rare[0] = 1
    kept = list(bootstrap_samples(rare, None, 100, seed=0))
    assert 0 < len(kept) < 200 and all(rare[i].sum() > 0 for i in kept)


def test_identical_models_give_a_difference_of_zero_inside_the_interval():
    y, strong, _, groups = _firms()
    result = paired_auc_difference(y, strong, strong.copy(), groups, n_boot=100, seed=0)
    assert result["value"] == 0.0 and result["ci_low"] <= 0.0 <= result["ci_high"]


def test_two_noisy_copies_of_one_signal_are_not_declared_different():
    y, strong, _, groups = _firms()
    rng = np.random.default_rng(9)
    a = strong + rng.normal(scale=0.5, size=len(y))
    b = strong + rng.normal(scale=0.5, size=len(y))
    result = paired_auc_difference(y, a, b, groups, n_boot=100, seed=0)
    assert result["ci_low"] < 0.0 < result["ci_high"]


def test_a_clearly_better_model_has_an_interval_above_zero_and_the_reverse_below():
    y, strong, weak, groups = _firms()
    better = paired_auc_difference(y, strong, weak, groups, n_boot=100, seed=0)
    worse = paired_auc_difference(y, weak, strong, groups, n_boot=100, seed=0)
    expected = discrimination(y, strong)["auc"] - discrimination(y, weak)["auc"]
    assert better["value"] == pytest.approx(expected) and better["ci_low"] > 0
    assert worse["ci_high"] < 0 and worse["value"] == pytest.approx(-expected)


def test_paired_interval_is_narrower_than_the_two_separate_intervals_suggest():
    """Pairing removes the shared sampling noise: the CI of the difference is tighter than AUC CIs added up."""
    y, strong, weak, groups = _firms()
    paired = paired_auc_difference(y, strong, weak, groups, n_boot=100, seed=0)
    separate = [bootstrap_intervals(y, p, groups, 100, seed=0)["auc"] for p in (strong, weak)]
    assert paired["ci_high"] - paired["ci_low"] < sum(s["ci_high"] - s["ci_low"] for s in separate)


def test_paired_difference_rejects_scores_of_different_rows():
    y, strong, weak, groups = _firms()
    with pytest.raises(ValueError, match="same rows"):
        paired_auc_difference(y, strong, weak[:-1], groups)


def test_firm_clustering_widens_the_interval_when_firms_repeat():
    y, strong, _, groups = _firms(years=6)
    clustered = bootstrap_intervals(y, strong, groups, 100, seed=0)["auc"]
    rows = bootstrap_intervals(y, strong, None, 100, seed=0)["auc"]
    assert clustered["ci_high"] - clustered["ci_low"] > rows["ci_high"] - rows["ci_low"]


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_calibration_maps_over_confident_scores_back_to_observed_rates(method):
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.05, 0.6, 4000)
    y = (rng.random(4000) < truth).astype(int)
    raw = truth**0.3  # monotone but far too high
    calibrated = fit_calibrator(raw, y, method).predict(raw)
    assert calibrated.shape == raw.shape and ((calibrated >= 0) & (calibrated <= 1)).all()
    assert abs(calibrated.mean() - y.mean()) < 0.01 < abs(raw.mean() - y.mean())
    assert (np.diff(calibrated[np.argsort(raw)]) >= -1e-12).all()  # ranks are kept


def test_calibration_rejects_one_class_unknown_methods_and_mismatched_rows():
    raw = np.linspace(0.1, 0.9, 20)
    with pytest.raises(ValueError, match="single outcome class"):
        fit_calibrator(raw, np.zeros(20, dtype=int), "sigmoid")
    with pytest.raises(ValueError, match="'sigmoid' or 'isotonic'"):
        ProbabilityCalibrator("beta").fit(raw, np.arange(20) % 2)
    with pytest.raises(ValueError, match="one outcome per probability"):
        fit_calibrator(raw, np.arange(19) % 2, "isotonic")


@pytest.mark.parametrize("decimals", [1, 2, 6])
def test_discrimination_gives_scikit_learns_auc_and_ks_exactly_with_tied_scores(decimals):
    from sklearn.metrics import roc_auc_score, roc_curve

    y, strong, _, _ = _firms()
    scores = np.round(strong, decimals)  # one decimal: many tied scores
    figures = discrimination(y, scores)
    fpr, tpr, _ = roc_curve(y, scores)
    assert figures["auc"] == roc_auc_score(y, scores)
    assert figures["gini"] == 2 * roc_auc_score(y, scores) - 1
    assert figures["ks"] == float(np.max(tpr - fpr))
