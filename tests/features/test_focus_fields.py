from __future__ import annotations

import pandas as pd

from jumpup.features.focus_fields import classify_focus_fields


def test_text_outweighs_code_and_evidence_is_recorded():
    firms = pd.DataFrame(
        {
            "firm_id": ["motor", "powder", "vision", "plain", "english"],
            "ksic_division": ["C28", "C23", "C29", "C10", "J58"],
            "ksic_code": ["28111", "23991", "29299", "10799", "58221"],
            "main_products": [
                "전기차 구동모터",
                "이차전지 양극재용 세라믹 분말",
                "AI 비전 검사 장비",
                "김치",
                "cloud security software",
            ],
        }
    )
    result = classify_focus_fields(firms).set_index("firm_id")
    assert result.loc["motor", "focus_field"] == "future_mobility"  # 전기차 beats KSIC 28 (advanced manufacturing)
    assert result.loc["powder", "focus_field"] == "energy"
    assert result.loc["vision", "focus_field"] == "ai_smart"
    assert result.loc["plain", "focus_field"] == "none" and result.loc["plain", "focus_field_evidence"] == ""
    assert result.loc["english", "focus_field"] == "digital_comm"
    assert "전기차" in result.loc["motor", "focus_field_evidence"]
    assert result["focus_field_version"].nunique() == 1


def test_latin_keywords_match_whole_words_only():
    firms = pd.DataFrame({"firm_id": ["x"], "ksic_division": ["C10"], "main_products": ["TRAINING shoes"]})
    assert classify_focus_fields(firms).loc[0, "focus_field"] == "none"


def test_real_panel_distribution_has_every_field(kosdaq_panel):
    firms = pd.read_csv(kosdaq_panel / "firms.csv", dtype=str)
    counts = classify_focus_fields(firms)["focus_field"].value_counts()
    assert set(counts.index) >= {
        "advanced_manufacturing",
        "energy",
        "digital_comm",
        "ai_smart",
        "bio",
        "future_mobility",
        "none",
    }
