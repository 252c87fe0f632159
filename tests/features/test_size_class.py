"""SME Act size classes against the program plan's examples and at every threshold."""

from __future__ import annotations

import pandas as pd
import pytest

from jumpup.features.size_class import EOK, classify_size, eligibility
from jumpup.reference import table_version
from jumpup.settings import ProgramSettings, load_settings

SETTINGS = load_settings().size_class


def classify(division, revenues_eok, assets_eok=100.0, rd_eok=None, code=None, year=2021):
    """One firm with the given revenue path (oldest first), classified in its last year."""
    years = range(year - len(revenues_eok) + 1, year + 1)
    financials = pd.DataFrame(
        {
            "firm_id": "f",
            "fiscal_year": list(years),
            "revenue": [r * EOK for r in revenues_eok],
            "total_assets": assets_eok * EOK,
            "rd_expense": [None if rd_eok is None else rd_eok * EOK] * len(revenues_eok),
        }
    )
    firms = pd.DataFrame({"firm_id": ["f"], "ksic_division": [division], "ksic_code": [code], "founded_year": [1990]})
    return classify_size(financials, firms, SETTINGS).iloc[-1]


# The plan's table (KRW 억): medium above, candidate from, mid-size above.
PLAN_EXAMPLES = [
    ("C28", 120, 1000, 1500),
    ("C22", 80, 700, 1000),
    ("J58", 50, 550, 800),
    ("M70", 30, 400, 600),
    ("P85", 10, 300, 400),
]


@pytest.mark.parametrize(("division", "small_cap", "candidate_floor", "medium_cap"), PLAN_EXAMPLES)
def test_plan_examples_and_edges_at_every_threshold(division, small_cap, candidate_floor, medium_cap):
    flat = lambda value: [value, value, value]  # noqa: E731 - a three-year flat path keeps growth at zero
    assert classify(division, flat(small_cap))["size_class"] == "small"  # 이하 -> small
    assert classify(division, flat(small_cap + 0.01))["size_class"] == "medium"
    row = classify(division, flat(candidate_floor), rd_eok=candidate_floor * 0.03)
    assert row["size_class"] == "midsize_candidate" and row["size_rule"] == "candidate_band+rd"
    assert classify(division, flat(candidate_floor - 0.01))["size_class"] == "medium"
    assert classify(division, flat(medium_cap), rd_eok=medium_cap * 0.03)["size_class"] == "midsize_candidate"
    above = classify(division, flat(medium_cap + 0.01))
    assert above["size_class"] == "midsize" and above["size_rule"] == "above_medium_cap"
    assert (above["small_max_eok"], above["candidate_min_eok"], above["medium_max_eok"]) == (
        small_cap,
        candidate_floor,
        medium_cap,
    )


def test_candidate_condition_growth_rd_and_unknown():
    revenue_path = [900.0, 900 * 1.16, 900 * 1.16**2, 900 * 1.16**3]  # 16% a year; 3-year average in the band
    grown = classify("C28", revenue_path)
    assert grown["size_rule"] == "candidate_band+growth" and grown["size_class"] == "midsize_candidate"
    flat = classify("C28", [1100, 1100, 1100, 1100], rd_eok=1.0)  # no growth, R&D < 2%
    assert flat["size_class"] == "medium" and flat["size_rule"] == "candidate_band_without_growth_or_rd"
    unknown = classify("C28", [1100, 1100, 1100, 1100])  # no R&D data: the band alone decides
    assert unknown["size_class"] == "midsize_candidate"
    assert unknown["size_rule"] == "candidate_band_only(condition_not_determinable)"


def test_assets_cap_and_young_firm_average():
    assert classify("C26", [200, 200, 200], assets_eok=5000)["size_rule"] == "total_assets_cap"
    assert classify("C26", [200, 200, 200], assets_eok=4999.99)["size_class"] == "medium"
    young = classify("C26", [200, 100])
    assert young["average_revenue"] == 150 * EOK and young["average_revenue_years"] == 2


def test_industry_exception_row():
    seats = classify("C30", [1200, 1200, 1200], rd_eok=100, code="30393")
    assert seats["medium_max_eok"] == 1500 and seats["size_class"] == "midsize_candidate"
    other = classify("C30", [1200, 1200, 1200], code="30310")
    assert other["size_class"] == "midsize"


def test_table_is_chosen_by_date_and_a_gap_is_a_clear_error():
    assert table_version("sme_size_criteria", pd.Timestamp("2021-12-31").date()).version == "2015-01-01"
    with pytest.raises(LookupError, match="no version of 'sme_size_criteria' is valid on 2025-12-31"):
        table_version("sme_size_criteria", pd.Timestamp("2025-12-31").date())
    # a year no table covers gets no class, with the reason, instead of another period's thresholds
    unknown = classify("C26", [100, 100, 100], year=2025)
    assert pd.isna(unknown["size_class"]) and unknown["size_rule"] == "no_size_table_for_this_date"
    assert unknown["size_table_version"] == "none valid on 2025-12-31"


def test_eligibility_size_and_minimum_age():
    size = pd.DataFrame(
        {"firm_id": ["a", "b", "c"], "fiscal_year": [2024] * 3, "size_class": ["medium", "midsize", "medium"]}
    )
    firms = pd.DataFrame({"firm_id": ["a", "b", "c"], "founded_year": [2010, 2000, 2020]})
    result = eligibility(size, firms, None, ProgramSettings(min_age_years=7))
    assert result["eligible"].tolist() == [True, False, False]
    assert result["ineligible_reason"].tolist() == ["", "size_class_not_eligible", "younger_than_minimum_age"]


def test_every_size_rule_the_classifier_can_give_has_a_korean_label():
    import inspect
    import re

    from jumpup.features import size_class as module

    source = inspect.getsource(module)
    block = source[source.index("rule = np.select(") :]
    block = block[: block.index(")\n", block.index("default="))]  # the rule names and the default
    rules = set(re.findall(r'"([^"]+)"', block))
    assert "total_assets_cap" in rules and "medium_band" in rules
    missing = rules - set(module.SIZE_RULE_KO)
    assert not missing, f"size rules without a Korean label for the reports: {sorted(missing)}"
