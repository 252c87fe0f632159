"""Growth stages 잠재/예비/선도 from the versioned rule table."""

from __future__ import annotations

import pandas as pd
import pytest

from jumpup.features.growth_stages import growth_stages, stage_rules


def _firm(firm_id, revenue, employees=None, rd=None):
    years = range(2018, 2018 + len(revenue))
    frame = pd.DataFrame({"firm_id": firm_id, "fiscal_year": years, "revenue": revenue})
    if employees is not None:
        frame["employees"] = employees
    if rd is not None:
        frame["rd_expense"] = rd
    return frame


def _latest(rows):
    rules, _ = stage_rules()
    out = growth_stages(rows, rules)
    return out[out["fiscal_year"] == out["fiscal_year"].max()].set_index("firm_id")


def test_stages_follow_the_rule_table():
    rows = pd.concat(
        [
            _firm("lead", [100, 120, 150, 180], [50, 53, 56, 60], [3, 3, 4, 5]),  # 22% CAGR, 6% jobs, 2.8% R&D
            _firm("pre", [100, 105, 110, 118], [50, 50, 51, 51], [1, 1, 1, 1.5]),  # 5.7% CAGR, R&D 1.3%
            _firm("pot", [100, 100, 101, 101], [50, 49, 48, 47], [0, 0, 0, 0]),
            _firm("none", [100, 90, 80, 70], [50, 49, 48, 47], [0, 0, 0, 0]),
        ],
        ignore_index=True,
    )
    latest = _latest(rows)
    assert latest.loc["lead", "growth_stage"] == "leading" and latest.loc["lead", "growth_stage_ko"] == "선도"
    assert latest.loc["pre", "growth_stage"] == "preliminary"
    assert latest.loc["pot", "growth_stage"] == "potential"
    assert latest.loc["none", "growth_stage"] == "none"
    assert latest["stage_complete"].all() and (latest["missing_inputs"] == "").all()


def test_missing_inputs_are_named_where_they_would_decide():
    rows = pd.concat(
        [
            _firm("no_rd", [100, 120, 150, 180], [50, 53, 56, 60]),  # would be 선도 or 예비 given R&D
            _firm("shrinking", [100, 90, 80, 70]),  # fails every stage on revenue: complete
        ],
        ignore_index=True,
    )
    latest = _latest(rows)
    assert latest.loc["no_rd", "growth_stage"] == "potential"
    assert not latest.loc["no_rd", "stage_complete"]
    assert latest.loc["no_rd", "missing_inputs"] == "rd_expense"
    assert latest.loc["shrinking", "growth_stage"] == "none" and latest.loc["shrinking", "stage_complete"]


def test_unknown_indicator_in_the_table_is_refused(tmp_path, monkeypatch):
    import jumpup.features.growth_stages as module
    from jumpup.reference import TableVersion

    bad = tmp_path / "stages.csv"
    bad.write_text("stage,stage_ko,rank,indicator,operator,threshold,input,note\nx,x,1,profit,>=,0,revenue,\n")
    version = TableVersion("growth_stages", "test", bad, None, None, "test")
    monkeypatch.setattr(module, "table_version", lambda name, on=None: version)
    with pytest.raises(ValueError, match="row 2, column indicator, value 'profit'"):
        stage_rules()
