"""Synthetic panel: deterministic bytes, a clean contract, and marginals near the real panel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jumpup.intake.ingest import ingest_directory
from jumpup.pipelines import synth
from jumpup.provenance import file_sha256
from jumpup.settings import load_settings


@pytest.fixture(scope="module")
def small_settings():
    return load_settings(overrides={"synth": {"firms": 1500, "applicants": 200}, "ingest": {"max_fiscal_year": 2024}})


@pytest.fixture(scope="module")
def generated(small_settings, tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    synth.run(small_settings, out, seed=11)
    return out


def hashes(directory):
    return {p.relative_to(directory).as_posix(): file_sha256(p) for p in sorted(directory.rglob("*.csv"))}


def test_same_seed_gives_byte_identical_files(small_settings, generated, tmp_path):
    synth.run(small_settings, tmp_path, seed=11)
    assert hashes(tmp_path) == hashes(generated)
    assert len(hashes(generated)) == 11  # history 2, round 4, STEP 2 2, review 3


def test_different_seed_gives_different_data(small_settings, generated, tmp_path):
    synth.run(small_settings, tmp_path, seed=12)
    assert hashes(tmp_path)["history/financials.csv"] != hashes(generated)["history/financials.csv"]


def test_synthetic_history_and_round_pass_the_contract_whole(small_settings, generated):
    for name, round_mode in (("history", False), ("round", True)):
        result = ingest_directory(generated / name, small_settings.ingest, round_mode=round_mode)
        assert result.quarantine.empty, result.quarantine.head()
        assert all(r.rows_read == r.accepted for r in result.reports)


def test_round_has_audits_from_every_role_and_some_recommendations(small_settings, generated):
    applications = pd.read_csv(generated / "round" / "applications.csv", dtype=str)
    audits = pd.read_csv(generated / "round" / "audits.csv", dtype=str)
    share = applications["recommending_investor"].notna().mean()
    assert 0.15 < share < 0.6
    roles = audits.groupby("firm_id")["evaluator_role"].nunique()
    assert (roles == 3).all()
    assert set(audits["firm_id"]) == set(applications["firm_id"])


def test_marginals_resemble_the_kosdaq_panel(generated):
    """Targets measured on the KOSDAQ panel (FY2018-2021); see docs/synthetic.md."""
    fin = pd.read_csv(generated / "history" / "financials.csv", dtype={"firm_id": str})
    year = fin[fin["fiscal_year"] == 2021]
    log_revenue = np.log(year["revenue"])
    assert 24.3 < log_revenue.mean() < 25.1  # real 24.67
    assert 0.9 < log_revenue.std() < 1.6  # real 1.22
    margin = (year["operating_income"] / year["revenue"]).median()
    assert 0.02 < margin < 0.08  # real 0.047
    equity_ratio = (year["total_equity"] / year["total_assets"]).median()
    assert 0.55 < equity_ratio < 0.75  # real 0.65
    wide = fin.pivot(index="firm_id", columns="fiscal_year", values="revenue")
    growth = np.log(wide).diff(axis=1)[[2019, 2020, 2021]].stack()
    assert 0.3 < growth.std() < 0.5  # real 0.40
    high_growth = (((wide[2021] / wide[2018]) ** (1 / 3) - 1) > 0.2).mean()
    assert 0.10 < high_growth < 0.30  # real 0.17
    distress = fin["administrative_issue"].mean()
    assert 0.005 < distress < 0.06  # real 0.014-0.034


def test_young_firms_start_at_their_founding_and_some_firms_exit(generated):
    firms = pd.read_csv(generated / "history" / "firms.csv", dtype={"firm_id": str})
    fin = pd.read_csv(generated / "history" / "financials.csv", dtype={"firm_id": str})
    first = fin.groupby("firm_id")["fiscal_year"].min()
    founded = firms.set_index("firm_id")["founded_year"]
    assert (first >= founded.reindex(first.index)).all()
    last = fin.groupby("firm_id")["fiscal_year"].max()
    assert (last < 2024).mean() > 0.02  # exits


@pytest.mark.real_data
def test_real_panel_marginals_match_the_targets_used(kosdaq_panel):
    fin = pd.read_csv(kosdaq_panel / "financials.csv", dtype={"firm_id": str})
    year = fin[fin["fiscal_year"] == 2018]
    assert abs(np.log(year["revenue"]).mean() - 24.67) < 0.01
    assert abs((year["operating_income"] / year["revenue"]).median() - 0.047) < 0.001


def test_cohort_inputs_cover_every_applicant_and_pass_their_contracts(small_settings, generated):
    from jumpup.intake.step2_contracts import (
        REVIEW_INPUTS,
        STEP2_EVALUATIONS,
        evaluations_schema,
        read_checked,
        review_inputs_schema,
    )

    applicants = set(pd.read_csv(generated / "round" / "applications.csv", dtype=str)["firm_id"])
    evaluations = read_checked(generated / "step2" / "evaluations.csv", STEP2_EVALUATIONS, evaluations_schema(1, 5))
    assert evaluations.report.quarantined == 0 and set(evaluations.frame["firm_id"]) == applicants
    votes = evaluations.frame.drop_duplicates(["firm_id", "evaluator_id"]).groupby("firm_id")["vote"].nunique()
    assert (votes == 1).mean() > 0.5 and (votes == 2).any()  # most committees agree, some split
    inputs = read_checked(generated / "review" / "review_inputs.csv", REVIEW_INPUTS, review_inputs_schema())
    assert inputs.report.quarantined == 0 and set(inputs.frame["fiscal_year"]) == {2025}
    settings = small_settings.ingest.model_copy(update={"max_fiscal_year": 2025})
    statements = ingest_directory(generated / "review" / "statements", settings)
    assert sum(r.quarantined for r in statements.reports) == 0
    filed = set(statements.tables["financials"]["firm_id"])
    assert filed <= applicants and len(filed) > 0.9 * len(applicants)  # a few firms stop filing
