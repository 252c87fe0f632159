"""Reports render in a real headless browser, in a real CJK font, print to PDF, and a screenshot is produced."""

from __future__ import annotations

import re
import shutil
import subprocess

import pandas as pd
import pytest

from jumpup.pipelines.round import run_round
from jumpup.rendering.browser import HeadlessBrowser, find_browser
from jumpup.rendering.fonts import REPORT_FONT_FAMILY, find_cjk_font
from tests.conftest import quick_settings, synth_and_train

needs_browser = pytest.mark.skipif(
    find_browser() is None, reason="no chromium on this machine (Debian package 'chromium'; .ci/run installs it)"
)
needs_cjk_font = pytest.mark.skipif(
    find_cjk_font() is None, reason="no Korean font installed (Debian package 'fonts-noto-cjk'; .ci/run installs it)"
)


@pytest.fixture(scope="module")
def round_out(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    settings = quick_settings(firms=800, applicants=6)
    bundle = synth_and_train(root, settings, seed=3)
    run_round(root / "data" / "round", root / "out", settings, str(bundle), log_path=root / "log.jsonl")
    return root / "out"


@needs_browser
@needs_cjk_font
def test_firm_report_renders_korean_in_the_shipped_cjk_font_with_both_charts(round_out, tmp_path):
    page = sorted((round_out / "reports" / "firms").glob("*.html"))[0]
    with HeadlessBrowser() as browser:
        url = page.as_uri()
        assert browser.evaluate(url, "document.querySelector('h1').textContent").startswith("기업 성장성 평가 보고서")
        charts = browser.evaluate(
            url,
            "[...document.querySelectorAll('figure.chart svg')].map(s => [s.getBBox().width, "
            "s.querySelectorAll('rect.family-bar, polygon.band-80').length])",
        )
        assert len(charts) == 2 and all(width > 100 and marks > 0 for width, marks in charts)
        # the Hangul of the title is drawn with the Korean font that ships in reports/assets
        assert browser.evaluate(url, f"document.fonts.check('12px \"{REPORT_FONT_FAMILY}\"', '가')")
        assert any("CJK" in name or "KR" in name for name in browser.fonts_used(url, "h1"))
        shot = tmp_path / "report.png"
        assert browser.screenshot(url, shot) > 50_000
        # the index lists every applicant: an operator page, outside the evaluators' reports folder
        assert not (round_out / "reports" / "index.html").exists()
        index = browser.evaluate((round_out / "operator" / "index.html").as_uri(), "document.body.innerHTML")
        assert "round_summary.html" in index and ".pdf" in index and "운영자 전용" in index and "판정 사유" in index
        text = browser.evaluate(url, "document.body.innerText")
        for english in ("PASS", "FAIL", "champion", "what-if", "file "):
            assert english not in text
        assert "평균 매출" in text and "유사그룹 중앙값" in text


@needs_browser
def test_every_firm_gets_an_a4_pdf_from_one_browser_session(round_out):
    htmls = sorted((round_out / "reports" / "firms").glob("*.html"))
    pdfs = sorted((round_out / "reports" / "firms").glob("*.pdf"))
    assert len(pdfs) == len(htmls) > 0
    for pdf in pdfs:
        data = pdf.read_bytes()
        boxes = re.findall(rb"/MediaBox ?\[0 0 ([\d.]+) ([\d.]+)\]", data)
        assert data.startswith(b"%PDF-") and boxes
        assert all(abs(float(w) - 595.3) < 1 and abs(float(h) - 841.9) < 1 for w, h in boxes)  # A4 in points
        assert len(boxes) == 1, f"{pdf.name} runs over one A4 page"
    assert (round_out / "reports" / "round_summary.pdf").read_bytes().startswith(b"%PDF-")


@needs_cjk_font
def test_the_shipped_font_is_cut_to_the_pages_characters(round_out):
    from fontTools.ttLib import TTFont

    font_file = round_out / "reports" / "assets" / "report-sans-regular.otf"
    assert font_file.stat().st_size < 1_000_000  # the system collection is about 20 MB
    cmap = TTFont(font_file).getBestCmap()
    page_text = (sorted((round_out / "reports" / "firms").glob("*.html"))[0]).read_text(encoding="utf-8")
    hangul = {c for c in page_text if "가" <= c <= "힣"}
    assert hangul and all(ord(c) in cmap for c in hangul)
    assert ord("뷁") not in cmap or "뷁" in page_text


def test_a_missing_browser_binary_is_a_clear_error():
    from jumpup.rendering.browser import BrowserError

    with (
        pytest.raises(BrowserError, match=r"browser exited.*/nonexistent/chromium"),
        HeadlessBrowser("/nonexistent/chromium", timeout=30),
    ):
        pass


def test_a_browser_gone_before_the_first_command_is_a_clear_error(tmp_path, monkeypatch):
    """Writing to a browser that has already exited breaks the pipe; that must read like any exit."""
    from jumpup.rendering.browser import BrowserError

    quitter = tmp_path / "quitter"
    quitter.write_text("#!/bin/sh\necho 'cannot start: no display' >&2\nexit 3\n")
    quitter.chmod(0o755)
    original = HeadlessBrowser.call

    def call_after_exit(self, *args, **kwargs):
        self._process.wait(timeout=10)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(HeadlessBrowser, "call", call_after_exit)
    with pytest.raises(BrowserError, match=r"browser exited \(code 3\).*cannot start"), HeadlessBrowser(str(quitter)):
        pass


def test_a_broken_browser_costs_the_pdfs_only_with_a_warning(round_out, monkeypatch):
    root = round_out.parent
    monkeypatch.setenv("JUMPUP_BROWSER", "/nonexistent/chromium")
    settings = quick_settings(firms=800, applicants=6)
    manifest = run_round(
        root / "data" / "round",
        root / "out_nobrowser",
        settings,
        str(root / "model" / "bundle"),
        log_path=root / "log2.jsonl",
    )
    firms = root / "out_nobrowser" / "reports" / "firms"
    assert len(list(firms.glob("*.html"))) == manifest["counts"]["applicants"] and not list(firms.glob("*.pdf"))
    assert any("PDF reports incomplete" in w and "/nonexistent/chromium" in w for w in manifest["warnings"])
    summary = (root / "out_nobrowser" / "reports" / "round_summary.html").read_text(encoding="utf-8")
    assert "PDF 보고서를 모두 만들지 못했습니다" in summary and "/nonexistent/chromium" in summary
    index = (root / "out_nobrowser" / "operator" / "index.html").read_text(encoding="utf-8")
    assert ".html" in index and ".pdf" not in index  # no link to a PDF that was never printed


def test_the_round_summary_lists_a_missing_browser_and_font_among_its_warnings(round_out, monkeypatch):
    import jumpup.rendering.round_reports as round_reports

    root = round_out.parent
    monkeypatch.setattr(round_reports, "find_browser", lambda: None)
    monkeypatch.setattr(round_reports, "find_report_fonts", lambda: {})
    settings = quick_settings(firms=800, applicants=6)
    out = root / "out_bare_machine"
    manifest = run_round(
        root / "data" / "round", out, settings, str(root / "model" / "bundle"), log_path=root / "log3.jsonl"
    )
    summary = (out / "reports" / "round_summary.html").read_text(encoding="utf-8").replace("&#39;", "'")
    missing = [w for w in manifest["warnings"] if "Chromium" in str(w) or "Korean font" in str(w)]
    assert len(missing) == 2 and all(w.ko in summary for w in missing)
    assert (out / "reports" / "assets" / "fonts.css").read_text(encoding="utf-8").strip() == ""


def test_evaluator_pages_and_the_workbook_hold_no_english_words_or_raw_codes(round_out):
    from tests.rendering.english_words import english_words, page_text, workbook_words

    firms = frozenset(pd.read_csv(round_out / "scores.csv", dtype=str)["firm_id"])
    pages = [
        *sorted((round_out / "reports" / "firms").glob("*.html")),
        round_out / "reports" / "round_summary.html",
        round_out / "operator" / "index.html",
        *sorted((round_out / "step1" / "dossiers").glob("*.html")),
    ]
    found = {page.name: english_words(page_text(page), firms) for page in pages}
    assert {name: words for name, words in found.items() if words} == {}
    sheets = workbook_words(round_out / "round_workbook.xlsx", firms)
    assert {name: words for name, words in sheets.items() if words} == {}
    # the scan can fail: a raw code or an English header is found
    assert english_words("판정: pass · series_c · missing_inputs") == {"pass", "series_c", "missing_inputs"}


@needs_browser
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="no pdftotext (Debian package 'poppler-utils')")
def test_a_report_that_runs_over_a4_repeats_firm_name_id_and_grade_on_every_page(tmp_path):
    from jumpup.reference import audit_rubric
    from jumpup.rendering.firm_report import firm_report
    from tests.rendering.test_pages import AUDIT, HISTORY, META, PATH, SCALE, _firm

    reasons = " | ".join(f"판정 근거 {i}: 현장실사 평가위원 의견과 재무 지표 검토 결과" for i in range(60))
    pages = {}
    for name, firm in (("long", _firm(reasons=reasons, name="가온테크")), ("short", _firm(name="가온테크"))):
        html = tmp_path / f"{name}.html"
        html.write_text(firm_report(firm, HISTORY, PATH, AUDIT, audit_rubric(), SCALE.table(), META), encoding="utf-8")
        pages[name] = (html, tmp_path / f"{name}.pdf")
    with HeadlessBrowser() as browser:
        browser.print_pdfs(pages.values())

    def page_texts(pdf):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        return [t for t in text.split("\f") if t.strip()]

    assert len(page_texts(pages["short"][1])) == 1
    long = page_texts(pages["long"][1])
    assert len(long) >= 2
    head = f"가온테크 (000123 · 2025-1) · AI 등급 {SCALE.labels[2]}"
    for text in long:
        assert head in " ".join(text.split()), text[:200]
    assert "판정 근거 59" in long[-1] and "판정 근거 59" not in long[0]


@needs_browser
def test_printing_writes_nothing_under_the_home_directory(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    for name in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    page = tmp_path / "page.html"
    page.write_text("<!doctype html><html><body><p>jumpup</p></body></html>", encoding="utf-8")
    with HeadlessBrowser() as browser:
        browser.print_pdfs([(page, tmp_path / "page.pdf")])
    assert (tmp_path / "page.pdf").read_bytes().startswith(b"%PDF")
    assert sorted(p.relative_to(home).as_posix() for p in home.rglob("*")) == []  # no ~/.config, ~/.cache, ~/.pki
