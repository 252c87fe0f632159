"""Read CSV (UTF-8 or cp949/EUC-KR), Parquet and .xlsx into raw string tables that remember rows.

Everything is read as text so that a bad value can be reported exactly as the user typed it, and
each row keeps the row number the user sees in a text editor or in Excel (header = row 1).
Lines the CSV parser cannot split (too many fields) are kept as ``bad_lines`` for quarantine.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from jumpup.intake.contracts import COLUMN_ALIASES, UNIT_LABELS

ROW_COLUMN = "_row"
MISSING_TOKENS = ["", "-", "NA", "N/A", "n/a", "nan", "NaN", "null", "NULL", "None"]
SUPPORTED_SUFFIXES = (".csv", ".txt", ".tsv", ".parquet", ".xlsx")
_UNIT_PATTERN = re.compile(r"^(?P<name>.*?)\s*[\(\[]\s*(?P<unit>[^\)\]]+?)\s*[\)\]]\s*$")
_BAD_LINE_PATTERN = re.compile(r"Skipping line (\d+): (.*)")


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


def canonical_column(header: str) -> tuple[str, str | None]:
    """Map a header to a contract column and its declared unit, e.g. '매출액(천원)' -> revenue, thousand_won."""
    text = str(header).strip()
    unit = None
    match = _UNIT_PATTERN.match(text)
    if match and match.group("unit").replace(" ", "").lower() in UNIT_LABELS:
        unit = UNIT_LABELS[match.group("unit").replace(" ", "").lower()]
        text = match.group("name").strip()
    key = text.replace(" ", "")
    name = COLUMN_ALIASES.get(key, COLUMN_ALIASES.get(key.lower(), text.lower().replace(" ", "_")))
    return name, unit


def _read_csv_text(text: str, path: Path) -> tuple[pd.DataFrame, list[tuple[int, str, str]]]:
    sample = text[:20000]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = pd.read_csv(
                io.StringIO(text),
                sep=delimiter,
                dtype=str,
                keep_default_na=False,
                na_values=MISSING_TOKENS,
                skip_blank_lines=False,
                on_bad_lines="warn",
                engine="c",
            )
        except (pd.errors.ParserError, csv.Error) as exc:
            raise InputFileError(f"{path}: unreadable CSV: {exc}") from None
        except pd.errors.EmptyDataError:
            raise InputFileError(f"{path}: the file is empty; it needs at least a header row") from None
    lines = text.splitlines()
    bad: list[tuple[int, str, str]] = []
    for warning in caught:
        for number, why in _BAD_LINE_PATTERN.findall(str(warning.message)):
            line = int(number)
            bad.append((line, lines[line - 1] if line - 1 < len(lines) else "", why.strip()))
    bad.sort()
    bad_numbers = {b[0] for b in bad}
    rows, candidate = [], 2
    while len(rows) < len(frame):
        if candidate not in bad_numbers:
            rows.append(candidate)
        candidate += 1
    frame[ROW_COLUMN] = rows
    return frame, bad


def read_raw_table(path: Path) -> RawTable:
    """Read one input file as text with canonical column names and row numbers."""
    if not path.exists():
        raise InputFileError(f"{path}: file not found")
    suffix = path.suffix.lower()
    bad_lines: list[tuple[int, str, str]] = []
    if suffix in (".csv", ".txt", ".tsv"):
        text, encoding = decode_bytes(path.read_bytes(), path)
        frame, bad_lines = _read_csv_text(text, path)
    elif suffix == ".xlsx":
        try:
            frame = pd.read_excel(path, dtype=str, engine="openpyxl", keep_default_na=False, na_values=MISSING_TOKENS)
        except Exception as exc:  # openpyxl raises many types for corrupt workbooks
            raise InputFileError(f"{path}: unreadable .xlsx workbook: {exc}") from None
        encoding = "xlsx"
        frame[ROW_COLUMN] = range(2, len(frame) + 2)
    elif suffix == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:
            raise InputFileError(f"{path}: unreadable Parquet file: {exc}") from None
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
        name, unit = canonical_column(column)
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
    blank = frame[data_columns].isna().all(axis=1) if data_columns else pd.Series(False, index=frame.index)
    frame = frame.loc[~blank].reset_index(drop=True)
    return RawTable(path, frame, encoding, units, renamed, bad_lines, int(blank.sum()))
