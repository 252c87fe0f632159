"""Reports render in a real headless browser, with a CJK font, and a screenshot is produced."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from jumpup.pipelines.reports import _find_cjk_font, _korean_font
from jumpup.pipelines.round import run_round
from tests.conftest import quick_settings, synth_and_train

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def render(url: str, tmp_path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *extra, url],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on this machine (Debian package 'chromium'; .ci/run installs it)"
)
def test_firm_report_renders_with_korean_text_and_charts(tmp_path):
    settings = quick_settings(firms=800, applicants=6)
    bundle = synth_and_train(tmp_path, settings, seed=3)
    run_round(
        tmp_path / "data" / "round",
        tmp_path / "out",
        settings,
        str(bundle),
        log_path=tmp_path / "log.jsonl",
    )
    page = sorted((tmp_path / "out" / "reports" / "firms").glob("*.html"))[0]
    dom = render(page.as_uri(), tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "기업 성장성 평가 보고서" in dom.stdout and dom.stdout.count("data:image/png;base64") == 2
    screenshot = tmp_path / "report.png"
    shot = render(page.as_uri(), tmp_path, f"--screenshot={screenshot}", "--window-size=900,1600")
    assert shot.returncode == 0 and screenshot.stat().st_size > 50_000
    index = render((tmp_path / "out" / "reports" / "index.html").as_uri(), tmp_path, "--dump-dom")
    assert "round_summary.html" in index.stdout


@pytest.mark.skipif(shutil.which("fc-list") is None, reason="no fontconfig on this machine")
def test_a_real_cjk_font_is_available_for_reports_and_charts():
    fonts = subprocess.run(["fc-list", ":lang=ko"], capture_output=True, text=True).stdout
    if not fonts.strip():
        pytest.skip("no Korean font installed (Debian package 'fonts-noto-cjk'; .ci/run installs it)")
    _korean_font()
    assert _find_cjk_font() is not None
