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

from jumpup.intake.quarantine import QUARANTINE_COLUMNS, RULE_MESSAGES, make_issues
from jumpup.intake.readers import read_decoded_csv
from jumpup.paths import FIRM_ID_PATTERN

FIRM_ATTRIBUTES = ("industry_group", "region")  # the firms' columns joined to each financial row
# Text columns: read as text whatever they hold ("00" stays "00"); the rest as pandas infers.
TEXT_COLUMNS = {"firm_id": str, "audit_opinion": str}


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


def _bad_ids(frame: pd.DataFrame, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows kept, quarantine rows) of one table: a firm id that is not a safe id is quarantined."""
    ids = frame["firm_id"]
    bad = ~ids.fillna("").str.match(FIRM_ID_PATTERN).to_numpy(dtype=bool)
    rows = frame.index.to_numpy()[bad] + 2  # the file's row: the header is row 1
    issues = make_issues(name, rows, "firm_id", ids[bad], "bad_firm_id", RULE_MESSAGES["bad_firm_id"])
    return frame[~bad], issues.assign(other_problems="")[QUARANTINE_COLUMNS]


def read_imported_panel(panel: Path) -> ImportedPanel:
    """Read ``firms.csv`` and ``financials.csv`` of ``panel`` (see the module docstring).

    Errors: ``PanelError`` naming the file when one is missing, empty, not UTF-8 or cp949, or not
    CSV; when a key column (``firm_id``; ``fiscal_year`` in the financials) is absent; or when a
    financial row names a firm that ``firms.csv`` does not list.
    """
    panel = Path(panel)
    tables, quarantined = {}, []
    for name, needed in (("firms.csv", ("firm_id",)), ("financials.csv", ("firm_id", "fiscal_year"))):
        frame = _read(panel / name, panel)
        missing = [c for c in needed if c not in frame]
        if missing:
            raise PanelError(f"{panel / name}: column {missing[0]} is missing")
        tables[name], issues = _bad_ids(frame, name)
        quarantined.append(issues)
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
