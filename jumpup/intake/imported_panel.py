"""The panel ``jumpup import ts2000`` writes, read back by the crisis and TS-2000 evaluation stages.

``train --target crisis``, ``monitor`` and ``evaluate-ts2000`` take ``--panel DIR`` holding
``firms.csv`` and ``financials.csv`` as the importer writes them, or any panel with those files
and columns. The files may have been edited or come from elsewhere, so they are read as every
input is: UTF-8 or cp949 (``decode_bytes``), a one-line ``PanelError`` naming the file (and row,
column and value where there is one), and rows whose firm id breaks ``FIRM_ID_PATTERN``
quarantined under rule ``bad_firm_id`` (docs/data_contract.md) instead of reaching a file name
or a report. Read = kept + quarantined, per file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from jumpup.intake.quarantine import ROW, RULE_MESSAGES, make_issues, split_rows
from jumpup.intake.readers import read_decoded_csv
from jumpup.paths import FIRM_ID_PATTERN

FIRM_ATTRIBUTES = ("industry_group", "region")  # the firms' columns joined to each financial row
# Text columns: read as text whatever they hold ("00" stays "00"); the rest as pandas infers.
TEXT_COLUMNS = {"firm_id": str, "audit_opinion": str}
TEXT_FINANCIALS = ("accounting_basis",)  # the financials' other text column; the rest are numbers


class PanelError(ValueError):
    """A panel directory that cannot be read; the message names file and column (row and value too)."""


@dataclass(frozen=True)
class ImportedPanel:
    """``firms`` (one row per firm), ``financials`` (one row per firm-year), ``rows`` (financials with
    the firms' ``FIRM_ATTRIBUTES``) and ``quarantine`` (``QUARANTINE_COLUMNS``, the rows left out)."""

    firms: pd.DataFrame
    financials: pd.DataFrame
    rows: pd.DataFrame
    quarantine: pd.DataFrame


def _read(path: Path, panel: Path) -> pd.DataFrame:
    if not path.is_file():
        raise PanelError(f"{path}: missing; run `jumpup import ts2000 DIR --out {panel}` first")
    return read_decoded_csv(path, PanelError, dtype=TEXT_COLUMNS, low_memory=False)[0]


def _issues(frame: pd.DataFrame, name: str, numbers: bool) -> pd.DataFrame:
    """Issue rows (``ISSUE_COLUMNS``) of one table: a firm id that is not a safe id; with ``numbers``
    (the financials) a ``fiscal_year`` that is not a whole year and text in a number column."""
    rows = frame.index.to_numpy() + 2  # the file's row: the header is row 1
    ids = frame["firm_id"]
    bad = ~ids.fillna("").str.match(FIRM_ID_PATTERN).to_numpy(dtype=bool)
    found = [make_issues(name, rows[bad], "firm_id", ids[bad], "bad_firm_id", RULE_MESSAGES["bad_firm_id"])]
    if numbers:
        year = pd.to_numeric(frame["fiscal_year"], errors="coerce")
        bad = (year.isna() | (year % 1 != 0)).to_numpy(dtype=bool)
        values = frame["fiscal_year"][bad]
        found.append(make_issues(name, rows[bad], "fiscal_year", values, "non_integer", "'fiscal_year' must be a year"))
        for column in frame.columns.difference([*TEXT_COLUMNS, "fiscal_year", *TEXT_FINANCIALS], sort=False):
            values = frame[column]
            if pd.api.types.is_numeric_dtype(values.dtype):
                continue
            filled = values.notna() & (values.astype("str").str.strip() != "")
            bad = (filled & pd.to_numeric(values, errors="coerce").isna()).to_numpy(dtype=bool)
            message = f"'{column}' must be a number"
            found.append(make_issues(name, rows[bad], column, values[bad], "non_numeric", message))
    return pd.concat(found, ignore_index=True)


def _quarantine(frame: pd.DataFrame, issues: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows kept, quarantine rows) by intake's ``split_rows``: a row with issues is quarantined once,
    under its first issue, with the others listed. The kept rows keep their index (file row − 2)."""
    kept, rejected = split_rows(frame.assign(**{ROW: frame.index + 2, "_index": frame.index}), issues)
    return kept.set_index("_index").rename_axis(None), rejected


def _repeated(frame: pd.DataFrame, key: list[str], path: Path) -> None:
    """A key that appears twice is an error naming its second row (one value per firm or firm-year)."""
    twice = frame.duplicated(key)
    if twice.any():
        row = int(frame.index[twice.to_numpy()][0]) + 2
        value = ", ".join(str(frame.loc[row - 2, k]) for k in key)
        raise PanelError(f"{path}: row {row}, column {', '.join(key)}, value {value!r} appears twice; keep one")


def read_imported_panel(panel: Path) -> ImportedPanel:
    """Read ``firms.csv`` and ``financials.csv`` of ``panel`` (see the module docstring).

    Firm ids lose surrounding spaces, as at intake. Quarantined (``QUARANTINE_COLUMNS``, rows of
    the file as a spreadsheet shows them under a one-row header): a firm id that is not a safe id
    (``bad_firm_id``), a ``fiscal_year`` that is not a whole year (``non_integer``) and text in a
    number column of the financials (``non_numeric``); those columns are then numbers.

    Errors: ``PanelError`` naming the file when one is missing, empty, not UTF-8 or cp949, or not
    CSV; when a key column (``firm_id``; ``fiscal_year`` in the financials) is absent; when a firm
    or a firm-year appears twice; when no row is left; or when a financial row names a firm that
    ``firms.csv`` does not list.
    """
    panel = Path(panel)
    tables, quarantined = {}, []
    for name, key in (("firms.csv", ["firm_id"]), ("financials.csv", ["firm_id", "fiscal_year"])):
        frame = _read(panel / name, panel)
        missing = [c for c in key if c not in frame]
        if missing:
            raise PanelError(f"{panel / name}: column {missing[0]} is missing")
        frame["firm_id"] = frame["firm_id"].str.strip()
        kept, rejected = _quarantine(frame, _issues(frame, name, numbers=name == "financials.csv"))
        if kept.empty:
            why = f"; {len(rejected)} quarantined, the first for {rejected['rule'].iloc[0]}" if len(rejected) else ""
            raise PanelError(f"{panel / name}: no rows to read{why}")
        if name == "financials.csv":
            numbers = kept.columns.difference([*TEXT_COLUMNS, *TEXT_FINANCIALS], sort=False)
            text = [c for c in numbers if not pd.api.types.is_numeric_dtype(kept[c].dtype)]
            kept = kept.assign(**{c: pd.to_numeric(kept[c]).astype("float64") for c in text})
            kept = kept.astype({"fiscal_year": "int64"})
        _repeated(kept, key, panel / name)
        tables[name] = kept
        quarantined.append(rejected)
    firms, financials = tables["firms.csv"], tables["financials.csv"]
    orphan = ~financials["firm_id"].isin(firms["firm_id"])
    if orphan.any():
        row = int(financials.index[orphan.to_numpy()][0]) + 2
        value = financials.loc[orphan].iloc[0]["firm_id"]
        raise PanelError(f"{panel / 'financials.csv'}: row {row}, column firm_id, value {value!r} is not in firms.csv")
    firms, financials = firms.reset_index(drop=True), financials.reset_index(drop=True)
    attributes = [c for c in FIRM_ATTRIBUTES if c in firms]
    rows = financials.merge(firms[["firm_id", *attributes]], on="firm_id", how="left", validate="many_to_one")
    quarantine = pd.concat(quarantined, ignore_index=True)
    return ImportedPanel(firms, financials, rows, quarantine)
