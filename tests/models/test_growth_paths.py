"""Growth paths: peers only from the known past, recalibration, outputs, backtest, real panels."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from jumpup.intake.dart_bulk import import_dart_bulk
from jumpup.models import growth_engine
from jumpup.models.growth_engine import GrowthPathModel
from jumpup.models.growth_peers import (
    PeerIndex,
    Recalibration,
    find_peers,
    peer_quantiles,
    pinball,
    position_in,
    probability_above,
    row_quantiles,
)
from jumpup.pipelines import growth_paths as growth
from jumpup.pipelines import synth
from jumpup.settings import GrowthPathSettings, load_settings

SETTINGS = load_settings(
    overrides={
        "ingest": {"max_fiscal_year": 2024},
        "validation": {"bootstrap": 30},
        "growth_paths": {"neighbours": 25, "min_peers": 10, "pooled_estimators": 40},
    }
)


def test_peers_come_from_the_pool_and_widen_when_the_industry_is_thin():
    rng = np.random.default_rng(0)
    pool = pd.DataFrame(
        {
            "firm_id": [f"p{i}" for i in range(60)],
            "fiscal_year": 2018,
            "ksic_division": ["C26"] * 40 + ["J58"] * 10 + ["J62"] * 10,
            "log_revenue": rng.normal(24, 1, 60),
            "revenue_growth_1y": rng.normal(0, 0.2, 60),
            "y": rng.normal(0, 0.3, 60),
        }
    )
    queries = pool.head(3).assign(ksic_division=["C26", "J58", "Z99"]).reset_index(drop=True)
    settings = GrowthPathSettings(neighbours=20, min_peers=15, weights={"log_revenue": 1.0, "revenue_growth_1y": 1.0})
    draws = find_peers(pool, queries, "y", settings)
    assert draws.level.tolist() == ["division", "section", "all"]  # J58 has 10 < 15; section J has 20
    assert (draws.pool_size == [40, 20, 60]).all()
    assert all(p.split(":")[0].startswith("p") for p in draws.peer_ids[0] if p)
    assert draws.peer_ids[0][0] == "p0:2018"  # a row's nearest neighbour in the pool is itself here


def test_recalibration_widens_an_overconfident_peer_distribution():
    rng = np.random.default_rng(1)
    draws = rng.normal(0, 0.5, size=(4000, 60))  # peers say sd 0.5
    actual = rng.normal(0, 1.0, size=4000)  # truth has sd 1.0
    raw = peer_quantiles(draws, (0.1, 0.5, 0.9), Recalibration(np.empty(0)))
    coverage_raw = np.mean((raw[:, 0] <= actual) & (actual <= raw[:, 2]))
    recal = Recalibration(position_in(draws[:2000], actual[:2000]))
    fixed = peer_quantiles(draws[2000:], (0.1, 0.5, 0.9), recal)
    coverage = np.mean((fixed[:, 0] <= actual[2000:]) & (actual[2000:] <= fixed[:, 2]))
    assert coverage_raw < 0.6 and 0.7 < coverage < 0.86
    assert 0.35 < probability_above(draws[2000:], 0.0, recal).mean() < 0.65


def test_row_quantiles_equal_numpy_nanquantile_with_padding():
    rng = np.random.default_rng(3)
    draws = rng.normal(size=(500, 40))
    draws[rng.random(draws.shape) < 0.3] = np.nan
    draws[7] = np.nan  # a row with no peer at all
    draws[8, 1:] = np.nan  # a row with one peer
    levels = [0.0, 0.1, 0.37, 0.5, 0.9, 1.0]
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanquantile(draws, levels, axis=1).T
    np.testing.assert_allclose(row_quantiles(draws, levels), expected, rtol=0, atol=1e-12)


def test_pinball_is_zero_at_the_truth_and_grows_with_error():
    q = (0.1, 0.5, 0.9)
    assert pinball(np.array([1.0]), np.array([[1.0, 1.0, 1.0]]), q)[0] == 0
    assert (
        pinball(np.array([1.0]), np.array([[0.0, 0.0, 0.0]]), q)[0]
        > pinball(np.array([1.0]), np.array([[0.5, 0.5, 0.5]]), q)[0]
    )


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    root = tmp_path_factory.mktemp("growth")
    settings = load_settings(overrides={"synth": {"firms": 700, "applicants": 20}})
    synth.run(settings, root, seed=4)
    return root / "history"


def test_growth_path_output_rows_quantiles_probabilities_and_point_in_time(panel, tmp_path):
    paths, peers, _ = growth.growth_paths(panel, 2021, SETTINGS)
    firms = paths["firm_id"].nunique()
    assert len(paths) == firms * SETTINGS.growth_paths.horizon and set(paths["year"]) == {2022, 2023, 2024}
    quantiles = paths[["revenue_q10", "revenue_q25", "revenue_q50", "revenue_q75", "revenue_q90"]].to_numpy()
    assert (np.diff(quantiles, axis=1) >= 0).all()
    for column in ("p_high_growth", "p_decline"):
        assert paths[column].between(0, 1).all()
    assert set(paths["peer_level"]) <= {"division", "section", "all"} and (paths["peer_count"] > 0).all()
    assert peers["nearest_peers"].str.len().gt(0).all()
    # peers at horizon k come only from years <= as_of - k
    years = peers.assign(
        year=peers["nearest_peers"].str.split(";").map(lambda ids: max(int(i.split(":")[1]) for i in ids))
    )
    assert (years["year"] <= 2021 - years["horizon"]).all()
    # data after the origin is never read
    shifted = tmp_path / "p"
    shifted.mkdir()
    (shifted / "firms.csv").write_bytes((panel / "firms.csv").read_bytes())
    fin = pd.read_csv(panel / "financials.csv", dtype={"firm_id": str})
    fin.loc[fin["fiscal_year"] > 2021, "revenue"] *= 7
    fin.to_csv(shifted / "financials.csv", index=False)
    pd.testing.assert_frame_equal(paths, growth.growth_paths(shifted, 2021, SETTINGS)[0])


def test_fitted_engine_serves_later_rounds_identically_and_refits_when_it_cannot(panel, tmp_path):
    from jumpup.models.bundle_store import load_growth_engine, save_growth_engine

    history, _ = growth._history(panel, SETTINGS, up_to=2021)
    queries = history[history["fiscal_year"] == 2021]
    fresh, fresh_peers = growth_engine.forecast_paths(history, queries, 2021, SETTINGS)
    model = GrowthPathModel(SETTINGS.growth_paths, SETTINGS.seed).fit(history)
    assert model.as_of_ == 2021 and model.serves(2021, SETTINGS.growth_paths, SETTINGS.seed)
    stored = load_growth_engine(save_growth_engine(model, tmp_path / "engine"))  # stored as data; trees rebuilt
    reused, reused_peers = growth_engine.forecast_paths(history, queries, 2021, SETTINGS, model=stored)
    pd.testing.assert_frame_equal(fresh, reused)
    pd.testing.assert_frame_equal(fresh_peers, reused_peers)
    # a later as-of year knows no more outcomes than the history holds: same state
    assert model.serves(2023, SETTINGS.growth_paths, SETTINGS.seed)
    # an earlier as-of year would see outcomes after it, other settings give other forecasts
    assert not model.serves(2020, SETTINGS.growth_paths, SETTINGS.seed)
    assert not model.serves(2021, SETTINGS.growth_paths.model_copy(update={"neighbours": 30}), SETTINGS.seed)
    assert model.serves(2021, SETTINGS.growth_paths.model_copy(update={"workers": 1}), SETTINGS.seed)
    earlier = history[history["fiscal_year"] <= 2019]
    at_2019 = growth_engine.forecast_paths(
        history, earlier[earlier["fiscal_year"] == 2019], 2019, SETTINGS, model=model
    )[0]
    refit = GrowthPathModel(SETTINGS.growth_paths, SETTINGS.seed).fit(earlier)
    expected = growth_engine.forecast_paths(
        earlier, earlier[earlier["fiscal_year"] == 2019], 2019, SETTINGS, model=refit
    )[0]
    pd.testing.assert_frame_equal(at_2019, expected)


def test_the_forecast_thread_count_changes_no_growth_path(panel):
    settings = SETTINGS.model_copy(
        update={"growth_paths": SETTINGS.growth_paths.model_copy(update={"workers": 2, "parallel_query_rows": 1})}
    )
    history, _ = growth._history(panel, settings, up_to=2021)
    queries = history[history["fiscal_year"] == 2021]
    model = GrowthPathModel(settings.growth_paths, settings.seed).fit(history)
    threaded = growth_engine.forecast_paths(history, queries, 2021, settings, model=model)  # peer queries in 2 threads
    single = growth_engine.forecast_paths(history, queries, 2021, settings, model=model, workers=1)
    pd.testing.assert_frame_equal(threaded[0], single[0])
    pd.testing.assert_frame_equal(threaded[1], single[1])


def test_backtest_reports_every_method_and_both_baselines(panel, tmp_path):
    summary = growth.backtest(panel, SETTINGS, tmp_path / "metrics.json", log_mlflow=False)
    methods = {row["method"]: row for row in summary["methods"]}
    assert set(methods) == {"peers", "pooled", "blend", "auto", "baseline_pooled_history", "baseline_industry_median"}
    for row in methods.values():
        assert 0.5 < row["coverage_80"] < 0.98 and row["coverage_50"] < row["coverage_80"]
        assert row["coverage_80_ci_low"] <= row["coverage_80"] <= row["coverage_80_ci_high"]
    assert (tmp_path / "metrics.json").exists() and (tmp_path / "growth_backtest.json").exists()
    # the summary is figures and hashes only: no table of the panel's firms is written into it
    assert not {"firms", "financials", "quarantine"} & summary.keys() and summary["rows_quarantined"] == 0


def test_real_dart_panel_backtest_meets_coverage_and_beats_both_baselines(dart_bulk, tmp_path):
    import_dart_bulk(dart_bulk, tmp_path / "dart")
    settings = load_settings(overrides={"ingest": {"max_fiscal_year": 2024}, "validation": {"bootstrap": 50}})
    methods = {r["method"]: r for r in growth.backtest(tmp_path / "dart", settings, log_mlflow=False)["methods"]}
    blend = methods["blend"]
    assert 0.75 <= blend["coverage_80"] <= 0.85
    assert blend["pinball"] < methods["baseline_pooled_history"]["pinball"]
    assert blend["pinball"] < methods["baseline_industry_median"]["pinball"]


def test_real_kosdaq_high_growth_probability_has_signal(kosdaq_panel):
    settings = load_settings(overrides={"ingest": {"max_fiscal_year": 2021}, "validation": {"bootstrap": 50}})
    result = growth.high_growth_auc(kosdaq_panel, 2018, settings)
    assert result["firms"] > 1000 and result["auc"]["ci_low"] > 0.5


def test_shrinkage_mixes_model_and_pooled_quantiles_without_crossing():
    predicted = np.array([[0.0, 0.2, 0.1], [np.nan, 0.0, 0.1]])
    reference = np.array([-0.5, 0.0, 0.5])
    assert np.allclose(growth_engine.shrink_quantiles(predicted[:1], reference, 1.0), [[0.0, 0.1, 0.2]])
    assert np.allclose(growth_engine.shrink_quantiles(predicted[:1], reference, 0.0), [reference])
    half = growth_engine.shrink_quantiles(predicted, reference, 0.5)
    assert np.allclose(half[0], [-0.25, 0.1, 0.3])
    assert np.all(np.diff(half, axis=1) >= 0)
    assert half[1, 0] == -0.5  # a missing model quantile takes the pooled one


def test_calibration_picks_the_weight_that_fits_and_widens_to_nominal_coverage():
    rng = np.random.default_rng(2)
    quantiles = (0.1, 0.25, 0.5, 0.75, 0.9)
    z = np.array([-1.2816, -0.6745, 0.0, 0.6745, 1.2816])
    centre = rng.normal(0, 1, 4000)
    actual = centre + rng.normal(0, 0.5, 4000)
    reference = np.quantile(actual, quantiles)
    # An informative but overconfident model: right centres, half the true spread.
    predicted = centre[:, None] + 0.25 * z
    fitted = growth_engine.fit_quantile_calibration(predicted, reference, actual, quantiles)
    assert fitted.weight >= 0.8  # the model carries the information
    calibrated = growth_engine.apply_quantile_calibration(predicted, reference, fitted, quantiles)
    inside = (calibrated[:, 0] <= actual) & (actual <= calibrated[:, 4])
    assert 0.78 <= inside.mean() <= 0.82
    # A model of pure noise gets no weight: the pooled forecast is better.
    noise = rng.normal(0, 1, 4000)[:, None] + 0.25 * z
    assert growth_engine.fit_quantile_calibration(noise, reference, actual, quantiles).weight == 0.0
    with pytest.raises(ValueError, match="known outcome"):
        growth_engine.fit_quantile_calibration(predicted, reference, np.full(4000, np.nan), quantiles)


def test_the_growth_path_table_skips_the_peer_ids_and_equals_the_full_forecast(panel):
    history, _ = growth._history(panel, SETTINGS, up_to=2021)
    queries = history[history["fiscal_year"] == 2021]
    model = GrowthPathModel(SETTINGS.growth_paths, SETTINGS.seed).fit(history)
    paths, peers = growth_engine.forecast_paths(history, queries, 2021, SETTINGS, model=model)
    assert len(peers) and peers["nearest_peers"].str.len().gt(0).all()
    frames = model.predict(queries, with_draws=False, with_peer_ids=False)
    assert all("nearest_peers" not in f["frame"] for f in frames.values())  # no id is looked up
    pd.testing.assert_frame_equal(growth_engine.growth_path_table(history, queries, 2021, SETTINGS, model), paths)


def _three_firm_pool(settings: GrowthPathSettings, **columns) -> pd.DataFrame:
    """A pool of three firm-years (A 2019, B 2020, C 2021) in one division, with ``columns`` added."""
    return pd.DataFrame(
        {
            "firm_id": ["A", "B", "C"],
            "fiscal_year": [2019, 2020, 2021],
            "ksic_division": ["C26"] * 3,
            "log_growth_1": [0.1, 0.2, 0.3],
            **columns,
            **{name: [1.0, 2.0, 3.0] for name in settings.weights},
        }
    )


def test_gathered_peer_values_equal_the_padded_definition():
    settings = load_settings().growth_paths
    pool = _three_firm_pool(settings, margin_1=[0.05, np.nan, 0.07])
    index = PeerIndex(pool, "log_growth_1", settings, keep=("margin_1",))
    rows = np.array([[2, 0, -1], [-1, -1, -1], [1, 1, 0]])
    expected = np.array([[0.07, 0.05, np.nan], [np.nan] * 3, [np.nan, np.nan, 0.05]])
    np.testing.assert_array_equal(index.gather("margin_1", rows), expected)  # -1 is missing, never position 0
    np.testing.assert_array_equal(index.gather("log_growth_1", rows[:1]), [[0.3, 0.1, np.nan]])
    assert np.isnan(index.gather("employee_log_growth_1", rows)).all()  # a column the index does not keep


def test_row_median_equals_numpy_nanmedian_row_by_row():
    rng = np.random.default_rng(3)
    values = rng.normal(size=(400, 60))
    values[rng.random(values.shape) < 0.4] = np.nan
    values[:5] = np.nan  # rows without any peer value
    values[5:9, :] = np.nan
    values[5, 0], values[6, :2], values[7, :3] = 1.5, [1.0, 4.0], [7.0, -1.0, 2.0]  # one, two, three values
    got = growth_engine._row_median(values)
    assert np.isnan(got[:5]).all()
    assert got[5] == 1.5 and got[6] == 2.5 and got[7] == 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows
        expected = np.nanmedian(values, axis=1)
    np.testing.assert_array_equal(got, expected)  # bit for bit, NaN where no peer has the value


def test_peer_labels_name_firm_and_year_and_leave_padding_empty():
    settings = load_settings().growth_paths
    index = PeerIndex(_three_firm_pool(settings), "log_growth_1", settings)
    rows = np.array([[2, 0, -1], [-1, -1, -1]])
    np.testing.assert_array_equal(index.labels(rows), np.array([["C:2021", "A:2019", ""], ["", "", ""]], dtype=object))
    assert "_labels" not in index.__getstate__()  # made again on first use, never stored


def test_backtest_table_gives_a_paired_interval_for_the_ratio_to_the_pooled_history():
    rng = np.random.default_rng(11)
    quantiles = (0.1, 0.25, 0.5, 0.75, 0.9)
    z = np.array([-1.2816, -0.6745, 0.0, 0.6745, 1.2816])
    n = 800
    centre = rng.normal(0, 1, n)
    actual = centre + rng.normal(0, 0.2, n)
    frame = pd.DataFrame({"firm_id": [f"f{i // 2}" for i in range(n)], "actual": actual, "auto_method": "peers"})
    sharp = centre[:, None] + 0.2 * z[None, :]
    pooled = np.tile(np.quantile(actual, quantiles), (n, 1))
    for name in (*growth_engine.METHODS, "baseline_industry_median"):
        frame[growth_engine.quantile_columns(name, quantiles)] = sharp
    frame[growth_engine.quantile_columns("baseline_pooled_history", quantiles)] = pooled
    result = growth_engine.OriginResult(2020, 1, frame)
    table = growth_engine.evaluate([result], quantiles, n_boot=40, seed=0).set_index("method")
    base = table.loc["baseline_pooled_history"]
    assert base["pinball_ratio_ci_low"] == base["pinball_ratio_ci_high"] == 1.0
    peers = table.loc["peers"]
    ratio = peers["pinball_vs_pooled_history"] + 1
    assert peers["pinball_ratio_ci_low"] <= ratio <= peers["pinball_ratio_ci_high"] < 0.5
