"""DART bulk import: the mapping table, prior-year filling, quarantine of bad lines, real files."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from jumpup.intake.dart_bulk import import_dart_bulk, normalise_item_name

HEADER = "\t".join(
    [
        "재무제표종류",
        "종목코드",
        "회사명",
        "시장구분",
        "업종",
        "업종명",
        "결산월",
        "결산기준일",
        "보고서종류",
        "통화",
        "항목코드",
        "항목명",
        "",
        "당기",
        "",
        "",
        "전기",
        "전전기",
        "",
    ]
)
SEPARATE = "손익계산서, 기능별 분류 - 별도재무제표"
CONSOLIDATED = "손익계산서, 기능별 분류 - 연결재무제표"


def line(statement, code, name, year, element, item, this, prior, before, currency="KRW", ksic="264"):
    return "\t".join(
        [
            statement,
            f"[{code}]",
            name,
            "코스닥시장상장법인",
            ksic,
            "통신 및 방송 장비 제조업",
            "12",
            f"{year}-12-31",
            "사업보고서",
            currency,
            element,
            item,
            "",
            this,
            "",
            "",
            prior,
            before,
        ]
    )


def write(path, lines, encoding="cp949"):
    path.write_bytes(("\n".join([HEADER, *lines]) + "\n").encode(encoding))


@pytest.fixture
def bulk_dir(tmp_path):
    src = tmp_path / "bulk"
    src.mkdir()
    write(
        src / "2020_사업보고서_02_손익계산서_20210101.txt",
        [
            line(SEPARATE, "000100", "가온", 2020, "ifrs-full_Revenue", "매출액", "1,000", "900", "800"),
            line(SEPARATE, "000100", "가온", 2020, "dart_OperatingIncomeLoss", "영업이익(손실)", "100", "-90", "80"),
            line(
                SEPARATE, "000100", "가온", 2020, "ifrs-full_RevenueFromSaleOfGoods", "   제품매출", "700", "600", "500"
            ),
            # a firm-specific element: revenue recognised by its line name only
            line(SEPARATE, "000200", "나래", 2020, "entity001_udf_IS_1_Revenue", "Ⅰ. 영업수익", "5,000", "4,000", ""),
            # gross sales is not revenue: this firm's revenue is reported as unresolved, not guessed
            line(SEPARATE, "000300", "다온", 2020, "entity002_udf_IS_2", "총매출액", "7,000", "6,000", ""),
            line(SEPARATE, "000400", "라온", 2020, "ifrs-full_Revenue", "매출액", "3,000", "2,000", "", currency="HKD"),
        ],
    )
    write(
        src / "2020_사업보고서_02_손익계산서_연결_20210101.txt",
        [
            line(CONSOLIDATED, "000100", "가온", 2020, "ifrs-full_Revenue", "매출액", "1,500", "1,300", "1,100"),
        ],
    )
    write(
        src / "2021_사업보고서_02_손익계산서_20220101.txt",
        [
            line(SEPARATE, "000100", "가온", 2021, "ifrs-full_Revenue", "매출액", "1,200", "1,010", "900"),
        ],
    )
    return src


def financials(out):
    return pd.read_csv(out / "financials.csv", dtype={"firm_id": str}).set_index(["firm_id", "fiscal_year"])


def test_item_names_are_normalised_before_matching():
    names = pd.Series(["   Ⅰ. 영업수익", "1. 매출액 ", "수익 (매출액)", "가. 영업이익"])
    assert normalise_item_name(names).tolist() == ["영업수익", "매출액", "수익(매출액)", "영업이익"]


def test_separate_statements_own_year_first_then_prior_year_columns(bulk_dir, tmp_path):
    report = import_dart_bulk(bulk_dir, tmp_path / "out", "separate")
    fin = financials(tmp_path / "out")
    assert fin.loc[("000100", 2021), "revenue"] == 1200
    assert fin.loc[("000100", 2020), "revenue"] == 1000  # own-year 당기, not the restated 1,010 of 2021's 전기
    assert fin.loc[("000100", 2019), "revenue"] == 900  # reached through 전기
    assert fin.loc[("000100", 2018), "revenue"] == 800  # and 전전기
    assert fin.loc[("000100", 2019), "operating_income"] == -90
    assert fin.loc[("000200", 2020), "revenue"] == 5000  # by line name
    assert ("000300", 2020) not in fin.index
    assert report["firm_years_without_revenue"] == [{"firm_id": "000300", "fiscal_year": 2020, "name": "다온"}]
    assert report["firms_not_krw"] == ["000400"]
    assert report["values_filled_from_prior_year_columns"]["revenue"] == 3  # 000100 2019, 2018; 000200 2019
    assert (fin["statement_basis"] == "separate").all()


def test_consolidated_and_prefer_consolidated(bulk_dir, tmp_path):
    import_dart_bulk(bulk_dir, tmp_path / "c", "consolidated")
    assert financials(tmp_path / "c").loc[("000100", 2020), "revenue"] == 1500
    assert ("000200", 2020) not in financials(tmp_path / "c").index
    import_dart_bulk(bulk_dir, tmp_path / "p", "prefer-consolidated")
    fin = financials(tmp_path / "p")
    assert fin.loc[("000100", 2020), ["revenue", "statement_basis"]].tolist() == [1500, "consolidated"]
    assert fin.loc[("000100", 2021), ["revenue", "statement_basis"]].tolist() == [1200, "separate"]
    assert fin.loc[("000200", 2020), "statement_basis"] == "separate"


def test_corrupted_lines_are_quarantined_and_the_rest_imported(bulk_dir, tmp_path):
    good = line(SEPARATE, "000500", "마루", 2020, "ifrs-full_Revenue", "매출액", "2,000", "", "").encode("cp949")
    truncated = "\t".join(
        line(SEPARATE, "000600", "바다", 2020, "ifrs-full_Revenue", "매출액", "1", "", "").split("\t")[:9]
    )
    non_numeric = line(SEPARATE, "000700", "사랑", 2020, "ifrs-full_Revenue", "매출액", "12x3", "", "")
    corrupted = (
        b"\n".join(
            [
                HEADER.encode("cp949"),
                good,
                b"\xff\xfe\xfa broken \x80\x81",
                truncated.encode("cp949"),
                non_numeric.encode("cp949"),
            ]
        )
        + b"\n"
    )
    (bulk_dir / "2019_사업보고서_02_손익계산서_20200101.txt").write_bytes(corrupted)
    report = import_dart_bulk(bulk_dir, tmp_path / "out", "separate")
    quarantine = pd.read_csv(tmp_path / "out" / "quarantine.csv", dtype=str)
    assert quarantine[["row", "rule"]].values.tolist() == [
        ["3", "undecodable_line"],
        ["4", "truncated_line"],
        ["5", "non_numeric"],
    ]
    assert quarantine.loc[2, "value"] == "12x3"
    assert financials(tmp_path / "out").loc[("000500", 2020), "revenue"] == 2000
    per_file = {f["file"]: f for f in report["files"]}["2019_사업보고서_02_손익계산서_20200101.txt"]
    assert per_file["lines_read"] == per_file["lines_usable"] + per_file["lines_quarantined"] == 4


def test_a_file_without_the_dart_header_is_reported_unreadable(bulk_dir, tmp_path):
    (bulk_dir / "notes.txt").write_text("this is not a statement\n", encoding="utf-8")
    report = import_dart_bulk(bulk_dir, tmp_path / "out", "separate")
    assert [u["file"] for u in report["unreadable_files"]] == ["notes.txt"]
    assert report["firms"] == 2


@pytest.fixture(scope="module")
def real_import(dart_bulk, tmp_path_factory):
    out = tmp_path_factory.mktemp("dart")
    report = {}
    for mode in ("separate", "consolidated", "prefer-consolidated"):
        report[mode] = import_dart_bulk(dart_bulk, out / mode, mode)
    return out, report


def test_real_files_cover_every_identifiable_firm_and_2013_to_2021(real_import):
    _, report = real_import
    main = report["prefer-consolidated"]
    # The files hold 244 stock codes: one line set has no code ([null]) and one firm reports in HKD.
    assert main["firms"] == 242
    assert main["fiscal_years"] == [2013, 2021]
    assert main["firm_years"] > 1800
    assert main["firms_not_krw"] == ["950010"]
    assert main["quarantined_lines_by_rule"] == {"missing_stock_code": 285}
    assert all(f["lines_read"] == f["lines_usable"] + f["lines_quarantined"] for f in main["files"])


def test_real_known_facts_checked_by_hand(real_import):
    """Figures read by hand from the 2017 and 2015 files (KRW)."""
    out, _ = real_import
    separate, consolidated = financials(out / "separate"), financials(out / "consolidated")
    # 삼성전자, 2017 사업보고서, 수익(매출액): 별도 161,915,007,000,000; 연결 239,575,376,000,000
    assert separate.loc[("005930", 2017), "revenue"] == 161_915_007_000_000
    assert consolidated.loc[("005930", 2017), "revenue"] == 239_575_376_000_000
    assert consolidated.loc[("005930", 2017), "operating_income"] == 53_645_038_000_000
    # 2015 comes from the 2015 file's own 당기 (135,205,045,000,000 in the 2017 file's 전전기 too)
    assert separate.loc[("005930", 2015), "revenue"] == 135_205_045_000_000
    # 2013 exists only as 전전기 of the 2015 files
    assert ("005930", 2013) in separate.index
    # a firm whose revenue is a firm-specific element named 매출액 (2015 연결 file, line 1116)
    assert ("005160", 2015) in consolidated.index


def test_real_corrupted_copy_imports_the_rest(dart_bulk, tmp_path):
    src = tmp_path / "bulk"
    src.mkdir()
    for path in sorted(dart_bulk.glob("2021_*.txt")):
        shutil.copy(path, src / path.name)
    target = next(src.glob("2021_*손익계산서_2025*.txt"))
    lines = target.read_bytes().split(b"\n")
    lines[5] = lines[5][:40] + b"\xff\xff" + lines[5][40:]  # bad encoding
    lines[6] = b"\t".join(lines[6].split(b"\t")[:8])  # truncated
    fields = lines[7].split(b"\t")
    fields[13] = b"1,2x4"  # non-numeric amount
    lines[7] = b"\t".join(fields)
    target.write_bytes(b"\n".join(lines))
    report = import_dart_bulk(src, tmp_path / "out", "separate")
    rules = pd.read_csv(tmp_path / "out" / "quarantine.csv", dtype=str).set_index("row")["rule"].to_dict()
    assert {k: v for k, v in rules.items() if k in {"6", "7", "8"}} == {
        "6": "undecodable_line",
        "7": "truncated_line",
        "8": "non_numeric",
    }
    assert report["firms"] > 150
    json.loads((tmp_path / "out" / "import_report.json").read_text())
