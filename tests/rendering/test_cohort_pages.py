"""File names from data go through a safe slug; the fan chart draws the realised point."""

from __future__ import annotations

import pandas as pd

from jumpup.rendering.cohort_pages import realised_fan


def test_realised_fan_draws_history_bands_and_the_realised_point():
    history = pd.DataFrame({"fiscal_year": [2022, 2023, 2024], "revenue": [80e8, 90e8, 100e8]})
    path = pd.DataFrame(
        {
            "year": [2025, 2026],
            **{
                f"revenue_q{q}": [v * 1e8, v * 1.1e8]
                for q, v in zip((10, 25, 50, 75, 90), (80, 95, 105, 115, 130), strict=True)
            },
        }
    )
    svg = realised_fan(history, path, (2025, 140.0))
    assert svg.startswith("<svg") and 'class="realised"' in svg and 'class="band-80"' in svg
    assert 'class="realised"' not in realised_fan(history, path, None)
