"""Read CSV (UTF-8 or cp949/EUC-KR), Parquet and .xlsx into raw string tables that remember rows.

Everything is read as text so that a bad value can be reported exactly as the user typed it, and
each row keeps the row number the user sees in a text editor or in Excel (header = row 1).
Lines the CSV parser cannot split (too many fields) are kept as ``bad_lines`` for quarantine.
A regular CSV is parsed by Arrow, any other by pandas; both give the same table (``_read_regular_csv``).
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.csv

from jumpup.intake.contracts import AMOUNT_COLUMNS, COLUMN_ALIASES, UNIT_LABELS

ROW_COLUMN = "_row"
# '-' is not among them: in an amount it is nil (0), as Korean statements print it, and the
# contract parser (quarantine.parse_table) decides per column what it means.
MISSING_TOKENS = ["", "NA", "N/A", "n/a", "nan", "NaN", "null", "NULL", "None"]
NIL_TOKEN = "-"
SUPPORTED_SUFFIXES = (".csv", ".txt", ".tsv", ".parquet", ".xlsx")
_UNIT_PATTERN = re.compile(r"^(?P<name>.*?)\s*[\(\[（]\s*(?P<unit>[^\)\]）]+?)\s*[\)\]）]\s*$")
_TITLE_UNIT = re.compile(r"단위\s*[:：]?\s*(?P<unit>[^\s\)\]）,]+)")
_MAX_TITLE_ROWS = 5
_BAD_LINE_PATTERN = re.compile(r"Skipping line (\d+): (.*)")
_OPEN_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")
# A CSV line ends at \r\n, \r or \n, as in both CSV parsers; ``str.splitlines`` would also end
# one at a form feed, U+0085, U+2028 or another Unicode separator inside a value.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class InputFileError(Exception):
    """A fatal problem with one input file: missing, unreadable, or missing required columns."""


@dataclass
class RawTable:
    """A file read as text, with canonical column names and the row number of every record."""

    path: Path
    frame: pd.DataFrame
    encoding: str
    column_units: dict[str, str] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)
    bad_lines: list[tuple[int, str, str]] = field(default_factory=list)  # (row, text, why)
    blank_rows: int = 0
    table_unit: str | None = None  # from a title row such as '(단위: 천원)'

    @property
    def rows_read(self) -> int:
        return len(self.frame) + len(self.bad_lines)


def find_input(directory: Path, stem: str) -> Path | None:
    """The file ``stem`` in any supported format; ambiguity is an error, absence returns None."""
    found = [directory / f"{stem}{suffix}" for suffix in SUPPORTED_SUFFIXES if (directory / f"{stem}{suffix}").exists()]
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise InputFileError(f"{directory}: several files for '{stem}' ({names}); keep exactly one")
    return found[0] if found else None


def decode_bytes(data: bytes, path: Path) -> tuple[str, str]:
    """Decode as UTF-8 (with or without BOM), else cp949, which Korean Excel writes by default."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("cp949"), "cp949"
        except UnicodeDecodeError as cp949_error:
            raise InputFileError(
                f"{path}: unreadable text: not UTF-8 (byte {utf8_error.start}) and not cp949/EUC-KR "
                f"(byte {cp949_error.start}). Re-save the file as UTF-8 or cp949 CSV."
            ) from None


def _unit_key(text: str) -> str:
    """'단위: 천원' / ' KRW 1000 ' -> '천원' / 'krw1000'."""
    key = re.sub(r"\s+", "", str(text)).lower()
    return re.sub(r"^단위[:：]?", "", key)


def canonical_column(header: str, path: Path | None = None) -> tuple[str, str | None]:
    """Map a header to a contract column and its declared unit, e.g. '매출액(천원)' -> revenue, thousand_won.

    Raises ``InputFileError`` when an amount column declares a unit that is not a won unit
    ('매출액(USD)', 'revenue (단위: 달러)'): such amounts must never pass as won.
    """
    text = str(header).strip()
    unit = None
    match = _UNIT_PATTERN.match(text)
    if match:
        key = _unit_key(match.group("unit"))
        base = match.group("name").strip().replace(" ", "")
        base_name = COLUMN_ALIASES.get(base, COLUMN_ALIASES.get(base.lower(), base.lower()))
        if key in UNIT_LABELS:
            unit = UNIT_LABELS[key]
            text = match.group("name").strip()
        elif base_name in AMOUNT_COLUMNS:
            raise InputFileError(
                f"{path or 'input'}: column '{header}': unit '{match.group('unit')}' is not a won unit "
                f"(원, 천원, 백만원, 억원); convert the amounts to won or remove the column"
            )
    key = text.replace(" ", "")
    name = COLUMN_ALIASES.get(key, COLUMN_ALIASES.get(key.lower(), text.lower().replace(" ", "_")))
    return name, unit


def title_unit(cells: list[str], path: Path) -> str | None:
    """The unit of a title row such as '(단위: 천원)'; an unknown unit is an error, never won."""
    text = " ".join(c for c in cells if c)
    match = _TITLE_UNIT.search(text)
    if not match:
        return None
    key = _unit_key(match.group("unit"))
    if key not in UNIT_LABELS:
        raise InputFileError(
            f"{path}: title row '{text.strip()}' declares unit '{match.group('unit')}', which is not a won unit "
            f"(원, 천원, 백만원, 억원); convert the amounts to won"
        )
    return UNIT_LABELS[key]


def _title_rows(rows: list[list[str]], path: Path) -> tuple[int, str | None]:
    """Leading rows before the header: blank rows and title rows of one cell ('(단위: 천원)', a caption).

    Returns how many rows to skip and the unit a title row declares.
    """
    unit = None
    skip = 0
    for cells in rows[:_MAX_TITLE_ROWS]:
        filled = [c.strip() for c in cells if c is not None and str(c).strip()]
        if len(filled) > 1:
            break
        if filled:
            unit = title_unit(filled, path) or unit
        skip += 1
    if skip >= len(rows):
        return 0, None
    return skip, unit


def _check_header(header: list[str], path: Path) -> None:
    """Two columns with one name would hide one of them; the file is refused."""
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        key = str(name).strip()
        if key and key in seen:
            raise InputFileError(f"{path}: column '{key}' appears twice (columns {seen[key]} and {position}); keep one")
        seen[key] = position


def _delimiter(header_line: str) -> str:
    """Tab or comma, decided on the header line alone: numbers such as '12,500,000' in the records
    must not outvote the header's tabs (Excel's '텍스트(탭으로 분리)' keeps thousands separators)."""
    return "\t" if header_line.count("\t") > header_line.count(",") else ","


def split_lines(text: str) -> list[str]:
    """The lines of a CSV ``text``, each without its line break: a line ends at \r\n, \r or \n
    only, never at a character inside a value that ``str.splitlines`` would break at (a form feed,
    U+0085, U+2028). Like ``str.splitlines``, a final line break starts no further line."""
    lines = _LINE_BREAK.split(text)
    if lines[-1] == "":
        lines.pop()
    return lines


def read_decoded_csv(path: Path, error: type[Exception], **read_csv) -> tuple[pd.DataFrame, str]:
    """(table, encoding) of a CSV file decoded as UTF-8 or cp949 (``decode_bytes``) and parsed by
    pandas with ``read_csv``'s options, for readers with rules of their own (importers, panels).

    Raises ``error`` with one line naming the file: not text in either encoding, empty, or not CSV.
    """
    try:
        text, encoding = decode_bytes(path.read_bytes(), path)
    except InputFileError as exc:
        raise error(str(exc)) from None
    try:
        return pd.read_csv(io.StringIO(text), **read_csv), encoding
    except pd.errors.EmptyDataError:
        raise error(f"{path}: the file is empty; it needs at least a header row") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise error(f"{path}: unreadable CSV: {str(exc).splitlines()[0]}") from None


def _head_lines(text: str, count: int) -> list[str]:
    """The first ``count`` lines of ``text`` exactly as ``split_lines`` gives them, without
    splitting the rest of a large file (a 100 MB file is 2 million lines)."""
    size = 1 << 16
    while True:
        lines = split_lines(text[:size])
        # More than ``count`` lines: the first ``count`` each end before the cut, so none is partial.
        if len(lines) > count or size >= len(text):
            return lines[:count]
        size *= 4


def _read_csv_text(text: str, path: Path) -> tuple[pd.DataFrame, list[tuple[int, str, str]], str | None]:
    head = _head_lines(text, _MAX_TITLE_ROWS + 1)
    first = next((line for line in head if line.count("\t") + line.count(",")), "")
    delimiter = _delimiter(first)
    head_rows = list(csv.reader(head, delimiter=delimiter))
    skip, unit = _title_rows(head_rows, path)
    if skip:
        text = "\n".join(split_lines(text)[skip:])
    header_cells = next(csv.reader(head[skip : skip + 1], delimiter=delimiter), [])
    _check_header(header_cells, path)
    regular = _read_regular_csv(text, delimiter, header_cells)
    if regular is not None:
        regular[ROW_COLUMN] = np.arange(skip + 2, skip + 2 + len(regular), dtype="int64")
        return regular, [], unit
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = pd.read_csv(
                io.StringIO(text),
                sep=delimiter,
                dtype=object,  # text as Python strings; every column becomes "string" below
                keep_default_na=False,
                na_values=MISSING_TOKENS,
                skip_blank_lines=False,
                on_bad_lines="warn",
                index_col=False,  # a first record with a field too many is a bad line, never an index
                engine="c",
            )
        except (pd.errors.ParserError, csv.Error) as exc:
            opened = _OPEN_QUOTE.search(str(exc))
            if opened:  # pandas counts rows from 0 at the header
                row = int(opened.group(1)) + 1 + skip
                raise InputFileError(f'{path}: row {row}: a quote (") opened on this row is never closed') from None
            raise InputFileError(f"{path}: unreadable CSV: {exc}") from None
        except pd.errors.EmptyDataError:
            raise InputFileError(f"{path}: the file is empty; it needs at least a header row") from None
    found = [(int(n), why) for w in caught for n, why in _BAD_LINE_PATTERN.findall(str(w.message))]
    records = _records(text, delimiter)
    if records is not None and len(records) != 1 + len(frame) + len(found):  # split otherwise than pandas did
        records = None
    lines = split_lines(text) if found and records is None else []
    bad = sorted(
        (
            line + skip,
            records[line - 1][0] if records is not None else (lines[line - 1] if line - 1 < len(lines) else ""),
            why.strip(),
        )
        for line, why in found
    )
    # File row of each parsed row: counted from the header, skipping the rejected lines.
    candidates = np.arange(skip + 2, skip + 2 + len(frame) + len(bad))
    rows = candidates[~np.isin(candidates, [b[0] for b in bad])][: len(frame)]
    frame[ROW_COLUMN] = rows.tolist()
    if records is not None:
        # pandas pads a record with too few fields and cuts one at the start with too many
        # (``index_col=False``) without a word: both are as malformed as the lines it skips.
        width, skipped = len(records[0][1]), {row for row, _, _ in bad}
        malformed = {
            skip + 1 + i: (raw, f"expected {width} fields, saw {len(fields)}")
            for i, (raw, fields) in enumerate(records[1:], start=1)
            if len(fields) != width and any(field.strip() for field in fields) and skip + 1 + i not in skipped
        }
        if malformed:
            frame = frame[~frame[ROW_COLUMN].isin(list(malformed))].reset_index(drop=True)
            bad = sorted([*bad, *((row, raw, why) for row, (raw, why) in malformed.items())])
    return frame, bad, unit


def _records(text: str, delimiter: str) -> list[tuple[str, list[str]]] | None:
    """Every record of a CSV text, header first, as (its text as written, its fields), or None when
    Python's csv module cannot split it (a field beyond its size limit, for one).

    A quoted line break makes one record of several lines, so the text of the record pandas names
    by number is taken from here, never from the text's n-th line.
    """
    lines = list(io.StringIO(text, newline=""))
    reader = csv.reader(lines, delimiter=delimiter)
    records, used = [], 0
    try:
        for fields in reader:
            records.append(("".join(lines[used : reader.line_num]).rstrip("\r\n"), fields))
            used = reader.line_num
    except csv.Error:
        return None
    return records


def _read_regular_csv(text: str, delimiter: str, header: list[str]) -> pd.DataFrame | None:
    """A CSV whose every record has exactly the header's fields, read by Arrow's multi-threaded
    parser as text ("string" columns, nothing made missing yet), or None for any other file.

    A file with a short or long line, an unterminated quote or a header cell that is empty or
    repeated returns None and is read by pandas' parser, which keeps such lines for quarantine,
    numbers the rows around them and refuses a quote left open. Both give the same table for a
    regular file (quoting, quoted delimiters and line breaks, CRLF, blank lines), so the choice
    never changes what is read; this one avoids a Python string per cell, the bulk of the time on a
    100 MB file. Arrow would end a quote left open at the end of the file without a word: a last row
    of empty fields is appended, and a quote left open swallows it.
    """
    if not header or any(not name for name in header) or len(set(header)) != len(header):
        return None
    ended = text if not text or text.endswith(("\n", "\r")) else text + "\n"
    try:
        table = pyarrow.csv.read_csv(
            pyarrow.py_buffer((ended + delimiter * (len(header) - 1) + "\n").encode("utf-8")),
            parse_options=pyarrow.csv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=False
            ),
            convert_options=pyarrow.csv.ConvertOptions(
                column_types={name: pyarrow.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        if table.column_names != header or not table.num_rows:
            return None
        if any(column[-1].as_py() != "" for column in table.columns):  # the appended row was swallowed
            return None
        # one chunk per column, as a table read by pandas has: the ingested Parquet files keep their bytes
        table = table.slice(0, table.num_rows - 1).combine_chunks()
    except pyarrow.ArrowException:  # not a regular file, or a column too large for one chunk
        return None
    return pd.DataFrame({name: pd.array(table.column(name), dtype="string") for name in header})


def _read_xlsx(path: Path) -> tuple[pd.DataFrame, str | None]:
    """First sheet as text; title rows above the header ('(단위: 천원)') are skipped and read for a unit."""
    try:
        sheet = pd.read_excel(
            path, dtype=str, engine="openpyxl", header=None, keep_default_na=False, na_values=MISSING_TOKENS
        )
    except Exception as exc:  # openpyxl raises many types for corrupt workbooks
        raise InputFileError(f"{path}: unreadable .xlsx workbook: {exc}") from None
    if sheet.empty:
        raise InputFileError(f"{path}: the workbook's first sheet is empty; it needs at least a header row")
    cells = [[("" if pd.isna(v) else str(v)) for v in row] for row in sheet.head(_MAX_TITLE_ROWS + 1).to_numpy()]
    skip, unit = _title_rows(cells, path)
    header = ["" if pd.isna(v) else str(v).strip() for v in sheet.iloc[skip]]
    _check_header(header, path)
    keep = [i for i, name in enumerate(header) if name]
    frame = sheet.iloc[skip + 1 :, keep].copy()
    frame.columns = [header[i] for i in keep]
    frame[ROW_COLUMN] = [int(i) + 1 for i in frame.index]  # Excel rows are 1-based
    return frame.reset_index(drop=True), unit


def _parquet_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Typed Parquet columns as the text a person would write: booleans 1/0, whole floats without
    '.0' (an id or count stored as float64), dates as ISO dates. Values are then parsed like CSV."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values) or (
            values.dtype == object and values.dropna().map(lambda v: isinstance(v, bool)).all() and values.notna().any()
        ):
            text = values.map(lambda v: None if pd.isna(v) else ("1" if bool(v) else "0"))
        elif pd.api.types.is_float_dtype(values):
            finite = values.dropna()
            whole = bool(len(finite)) and bool(((finite % 1) == 0).all()) and bool((finite.abs() < 2**53).all())
            text = values.map(lambda v, whole=whole: None if pd.isna(v) else (str(int(v)) if whole else repr(float(v))))
        elif pd.api.types.is_datetime64_any_dtype(values):
            text = values.dt.strftime("%Y-%m-%d").where(values.notna(), None)
        else:
            text = values.map(lambda v: None if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v))
        out[str(column)] = text.astype("object")
    return out


def read_raw_table(path: Path) -> RawTable:
    """Read one input file as text with canonical column names and row numbers.

    Raises ``InputFileError`` (one line naming the file) for a missing or unreadable file, two
    columns with one name, a header without records, or a unit that is not a won unit.
    """
    if not path.exists():
        raise InputFileError(f"{path}: file not found")
    suffix = path.suffix.lower()
    bad_lines: list[tuple[int, str, str]] = []
    table_unit = None
    if suffix in (".csv", ".txt", ".tsv"):
        text, encoding = decode_bytes(path.read_bytes(), path)
        frame, bad_lines, table_unit = _read_csv_text(text, path)
    elif suffix == ".xlsx":
        frame, table_unit = _read_xlsx(path)
        encoding = "xlsx"
    elif suffix == ".parquet":
        try:
            typed = pd.read_parquet(path)
        except Exception as exc:
            raise InputFileError(f"{path}: unreadable Parquet file: {exc}") from None
        _check_header([str(c) for c in typed.columns], path)
        frame = _parquet_as_text(typed.reset_index(drop=True))
        encoding = "parquet"
        frame[ROW_COLUMN] = range(2, len(frame) + 2)
    else:
        raise InputFileError(f"{path}: unsupported file type '{suffix}'; use {', '.join(SUPPORTED_SUFFIXES)}")

    renamed: dict[str, str] = {}
    units: dict[str, str] = {}
    new_columns = []
    for column in frame.columns:
        if column == ROW_COLUMN:
            new_columns.append(column)
            continue
        name, unit = canonical_column(column, path)
        if name in new_columns:
            raise InputFileError(f"{path}: columns '{column}' and another both mean '{name}'; keep one")
        new_columns.append(name)
        if name != column:
            renamed[str(column)] = name
        if unit:
            units[name] = unit
    frame.columns = new_columns
    data_columns = [c for c in frame.columns if c != ROW_COLUMN]
    for column in data_columns:
        text_values = frame[column].astype("string").str.strip()
        frame[column] = text_values.mask(text_values.isin(MISSING_TOKENS))
    empty = frame[data_columns].isna() | frame[data_columns].eq(NIL_TOKEN).fillna(False)
    blank = empty.all(axis=1) if data_columns else pd.Series(False, index=frame.index)
    frame = frame.loc[~blank].reset_index(drop=True)
    if frame.empty and not bad_lines:
        raise InputFileError(f"{path}: the file has a header but no data rows")
    return RawTable(path, frame, encoding, units, renamed, bad_lines, int(blank.sum()), table_unit)
