"""The CSV reader's two parsers give one table: Arrow's for regular files, pandas' for the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from jumpup.intake import readers
from jumpup.intake.readers import InputFileError, read_raw_table

TESTS = Path(__file__).resolve().parent.parent

# Files every record of which has the header's fields: read by Arrow.
REGULAR = {
    "plain": "firm_id,revenue\nA1,100\nA2,200\n",
    "CRLF and quoted delimiters": '"firm_id","name"\r\n"A1","Kim, Lee"\r\n"A2","x"\r\n',
    "quoted line break": 'firm_id,name\nA1,"two\nlines"\nA2,"x"\n',
    "tab separated": "firm_id\tname\nA1\t 가나 \nA2\t1,000\n",
    "missing tokens and a nil dash": "a,b\nNA,\nnull, - \n N/A ,None\n",
    "quoted empty and doubled quotes": 'a,b\n"",x\n"say ""hi""",y\n',
    "text after a closing quote": 'a,b\n"ab"cd,1\n',
    "a stray quote inside a value": 'a,b\n5" disk,1\n',
    "no final line break": "a,b\n1,2",
    "lone CR line ends": "a,b\r1,2\r3,4\r",
    "blank lines": "a,b\r\n1,2\r\n\r\n3,4\r\n\r\n",
    "title row with a unit": "(단위: 천원)\nfirm_id,revenue\nA1,100\n",
    "unicode spaces": "a,b\n\u3000x\u00a0,y\n",
    "one column": "firm_id\nA1\n\nA2\n",
    "header only": "firm_id,revenue\n",
}
# Files that need pandas' parser: records it keeps for quarantine, blank-looking lines, quotes it refuses.
IRREGULAR = {
    "short line": "a,b,c\n1,2\n3,4,5\n",
    "long line": "a,b\n1,2,3\n4,5\n",
    "whitespace-only line": "a,b\n1,2\n   \n3,4\n",
    "unterminated quote": 'a,b\n1,"2\n3,4\n',
    "unterminated quote on the last line": 'a,b\n1,2\n3,"4',
    "unterminated quote after a stray one": 'a,b\n5" disk,1\n1,"2',
    "space before a quote": 'a,b\n1, "x,y"\n',
    "empty header cell": "a,,c\n1,2,3\n",
    "repeated header cell": "a,b,a\n1,2,3\n",
}


def _header(text: str) -> tuple[list[str], str]:
    first = text.replace("\r", "\n").split("\n", 1)[0]
    delimiter = "\t" if "\t" in first else ","
    return first.replace('"', "").split(delimiter), delimiter


def _read(path: Path, arrow: bool, monkeypatch) -> tuple:
    """What read_raw_table gives (table, lines kept, counts) or the one-line error it raises."""
    with monkeypatch.context() as patch:
        if not arrow:
            patch.setattr(readers, "_read_regular_csv", lambda *args: None)
        try:
            raw = read_raw_table(path)
        except InputFileError as exc:
            return ("error", str(exc))
    return (raw.frame, raw.bad_lines, raw.blank_rows, raw.table_unit, raw.column_units, raw.renamed, raw.encoding)


def _same(a: tuple, b: tuple) -> bool:
    if isinstance(a[0], str) or isinstance(b[0], str):
        return a == b
    return a[0].equals(b[0]) and list(a[0].dtypes) == list(b[0].dtypes) and a[1:] == b[1:]


@pytest.mark.parametrize("name", sorted(REGULAR))
def test_a_regular_file_is_read_by_arrow_into_the_table_pandas_reads(name, tmp_path, monkeypatch):
    path = tmp_path / "financials.csv"
    path.write_text(REGULAR[name], encoding="utf-8")
    text = REGULAR[name].split("\n", 1)[1] if name.startswith("title") else REGULAR[name]
    header, delimiter = _header(text)
    assert readers._read_regular_csv(text, delimiter, header) is not None, "Arrow was not used"
    assert _same(_read(path, True, monkeypatch), _read(path, False, monkeypatch))


@pytest.mark.parametrize("name", sorted(IRREGULAR))
def test_an_irregular_file_is_left_to_pandas_and_read_as_before(name, tmp_path, monkeypatch):
    text = IRREGULAR[name]
    assert readers._read_regular_csv(text, ",", _header(text)[0]) is None
    path = tmp_path / "financials.csv"
    path.write_text(text, encoding="utf-8")
    assert _same(_read(path, True, monkeypatch), _read(path, False, monkeypatch))


def test_a_cp949_file_reads_the_same_either_way(tmp_path, monkeypatch):
    path = tmp_path / "firms.csv"
    path.write_bytes('firm_id,name\n000001,가온테크\n000002," 나래, 바이오 "\n'.encode("cp949"))
    arrow = _read(path, True, monkeypatch)
    assert arrow[-1] == "cp949" and list(arrow[0]["name"]) == ["가온테크", "나래, 바이오"]
    assert _same(arrow, _read(path, False, monkeypatch))


@pytest.mark.parametrize("path", sorted(TESTS.rglob("*.csv")), ids=lambda p: str(p.relative_to(TESTS)))
def test_every_csv_among_the_tests_reads_the_same_either_way(path, monkeypatch):
    assert _same(_read(path, True, monkeypatch), _read(path, False, monkeypatch))


@pytest.mark.parametrize(
    "text, rows, bad",
    [
        pytest.param(
            "a,b,c\n1,2,3\n4,5\n6,7,8\n", [2, 4], [(3, "4,5", "expected 3 fields, saw 2")], id="a field too few"
        ),
        pytest.param(
            "a,b\n1,2,3\n4,5\n", [3], [(2, "1,2,3", "expected 2 fields, saw 3")], id="first record a field too many"
        ),
        pytest.param(
            'firm_id,name\nA1,"x\ny"\nA2,b,EXTRA\nA3,c\n',
            [2, 4],
            [(3, "A2,b,EXTRA", "expected 2 fields, saw 3")],
            id="after a quoted line break",
        ),
        pytest.param(
            "(단위: 천원)\na,b,c\n1,2,3\n4,5\n", [3], [(4, "4,5", "expected 3 fields, saw 2")], id="under a title row"
        ),
    ],
)
def test_a_record_without_the_headers_fields_is_kept_for_quarantine_with_its_own_text(text, rows, bad, tmp_path):
    path = tmp_path / "financials.csv"
    path.write_text(text, encoding="utf-8")
    raw = read_raw_table(path)
    assert raw.frame["_row"].tolist() == rows  # no padded, cut or shifted record among the values
    assert raw.bad_lines == bad


def test_a_line_of_spaces_is_a_blank_row_not_a_malformed_one(tmp_path):
    path = tmp_path / "financials.csv"
    path.write_text("a,b\n1,2\n   \n3,4\n", encoding="utf-8")
    raw = read_raw_table(path)
    assert raw.bad_lines == [] and raw.blank_rows == 1 and raw.frame["_row"].tolist() == [2, 4]


@pytest.mark.parametrize(
    "text, row",
    [
        pytest.param('firm_id,name\nA1,x\nA2,"y\n', 3, id="on the last record"),
        pytest.param('(단위: 천원)\na,b\n1,2\n3,"4', 4, id="under a title row"),
        pytest.param('a,b\n"x\ny",1\n2,"3\n', 3, id="after a quoted line break"),
    ],
)
def test_a_quote_never_closed_is_refused_on_the_row_a_person_sees(text, row, tmp_path):
    path = tmp_path / "firms.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(
        InputFileError, match=rf"^{path}: row {row}: a quote \(\"\) opened on this row is never closed$"
    ):
        read_raw_table(path)


@pytest.mark.parametrize("title", ["", "(단위: 천원)\n"], ids=["no title row", "under a title row"])
def test_a_unicode_line_separator_inside_a_value_stays_in_the_value(title, tmp_path, monkeypatch):
    # A form feed, U+0085, U+2028 and a record separator end a line for str.splitlines, never for a CSV reader.
    path = tmp_path / "firms.csv"
    path.write_text(title + 'firm_id,name\nA1,x\u2028y\nA2,"p\x0cq"\nA3,r\x85s\x1et\n', encoding="utf-8")
    first = 2 + title.count("\n")
    for arrow in (True, False):
        frame, bad_lines = _read(path, arrow, monkeypatch)[:2]
        assert frame["name"].tolist() == ["x\u2028y", "p\x0cq", "r\x85s\x1et"] and bad_lines == []
        assert frame["_row"].tolist() == [first, first + 1, first + 2]
    assert readers.split_lines("a\u2028b\r\nc\rd\n\n") == ["a\u2028b", "c", "d", ""]
