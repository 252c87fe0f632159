"""File names from data go through a safe slug; the fan chart draws the realised point."""

from __future__ import annotations

import pandas as pd

from jumpup.rendering.cohort_pages import realised_fan, safe_slug


def test_safe_slug_keeps_plain_ids_and_never_leaves_the_folder():
    assert safe_slug("R0000001") == "R0000001"
    hostile = ["../../etc/passwd", "a/b", "a\\b", "", ".", "..", "기업 1", "con:", "x" * 300]
    slugs = [safe_slug(h) for h in hostile]
    for slug in slugs:
        assert slug and set(slug) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
        assert len(slug) <= 60
    assert len(set(slugs)) == len(slugs)  # different ids never share a file
    assert safe_slug("a/b") != safe_slug("a_b")
    assert safe_slug(None) == safe_slug("") and safe_slug(None).startswith("id-")


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
