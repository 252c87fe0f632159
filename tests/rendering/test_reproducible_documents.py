"""Documents carry a fixed date, never the wall clock: equal content gives equal bytes."""

from __future__ import annotations

import datetime as dt
import time

import openpyxl
import pandas as pd
import pytest

from jumpup.provenance import output_timestamp
from jumpup.rendering.browser import HeadlessBrowser, find_browser, fix_pdf_dates
from jumpup.rendering.workbook import write_workbook


def test_the_document_date_is_source_date_epoch_or_a_fixed_date(monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert output_timestamp() == dt.datetime(1980, 1, 1, tzinfo=dt.UTC)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    assert output_timestamp() == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(ValueError, match="SOURCE_DATE_EPOCH"):
        output_timestamp()


def test_two_workbooks_written_a_second_apart_are_byte_identical(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    sheets = {"점수": pd.DataFrame({"firm_id": ["001", "002"], "score": [612.5, None]})}
    write_workbook(tmp_path / "a.xlsx", sheets)
    time.sleep(1.1)
    write_workbook(tmp_path / "b.xlsx", sheets)
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()
    properties = openpyxl.load_workbook(tmp_path / "a.xlsx").properties
    assert properties.created == properties.modified == dt.datetime(1980, 1, 1)


def test_pdf_dates_are_replaced_without_moving_any_byte():
    data = b"%PDF-1.4\n1 0 obj\n<</CreationDate (D:20261129153032+00'00')\n/ModDate (D:20261129153032+00'00')>>\n"
    fixed = fix_pdf_dates(data, dt.datetime(1980, 1, 1, tzinfo=dt.UTC))
    assert len(fixed) == len(data)
    assert b"/CreationDate (D:19800101000000Z)" in fixed and b"/ModDate (D:19800101000000Z)" in fixed
    assert b"2026" not in fixed


@pytest.mark.skipif(find_browser() is None, reason="no Chromium: PDFs are not printed")
def test_a_page_printed_twice_gives_the_same_pdf(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    page = tmp_path / "page.html"
    page.write_text("<html><body><h1>등급 보고서</h1><p>AI 등급 A</p></body></html>", encoding="utf-8")
    with HeadlessBrowser(find_browser(), 1, 60) as browser:
        browser.print_pdfs([(page, tmp_path / "a.pdf")])
        time.sleep(1.1)
        browser.print_pdfs([(page, tmp_path / "b.pdf")])
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    assert b"/CreationDate (D:19800101000000Z)" in (tmp_path / "a.pdf").read_bytes()


def test_the_shipped_font_subset_carries_the_fixed_date_not_the_wall_clock(tmp_path):
    import time

    import pytest
    from fontTools.misc.timeTools import timestampToString
    from fontTools.ttLib import TTFont

    from jumpup.rendering.fonts import find_cjk_font, subset_font

    source = find_cjk_font()
    if source is None:
        pytest.skip("no Korean font installed (Debian package 'fonts-noto-cjk'; .ci/run installs it)")
    subset_font(source, "가나다 abc", tmp_path / "a.otf")
    time.sleep(1.1)  # a wall-clock date would now differ
    subset_font(source, "가나다 abc", tmp_path / "b.otf")
    assert (tmp_path / "a.otf").read_bytes() == (tmp_path / "b.otf").read_bytes()
    assert timestampToString(TTFont(tmp_path / "a.otf")["head"].modified).endswith("1980")
