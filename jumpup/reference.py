"""Versioned reference tables (size thresholds, KSIC, audit rubric), loaded through one catalog.

Tables are facts with a validity period, so every lookup names the date it is valid for and the
returned table says which version answered. A new legal revision is a new file plus one entry in
``data/reference/catalog.yaml``; no code changes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml

from jumpup.settings import OUTSIDE_CHECKOUT, PROJECT_ROOT, in_checkout

REFERENCE_DIR = PROJECT_ROOT / "data" / "reference"


@dataclass(frozen=True)
class TableVersion:
    """One version of a reference table, with where it came from and when it applies."""

    name: str
    version: str
    path: Path
    valid_from: dt.date
    valid_to: dt.date | None
    source: str

    def covers(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


def _as_date(value: str | None) -> dt.date | None:
    return None if value in (None, "") else dt.date.fromisoformat(str(value))


@lru_cache(maxsize=4)
def load_catalog(reference_dir: Path = REFERENCE_DIR) -> dict[str, tuple[TableVersion, ...]]:
    """Every table's versions from ``reference_dir/catalog.yaml``, by table name.

    Raises ``ReferenceTableError`` (one line) when the catalog is missing; outside a checkout
    (a wheel in site-packages) the line says that jumpup runs from its repository.
    """
    path = reference_dir / "catalog.yaml"
    if not path.is_file():
        hint = OUTSIDE_CHECKOUT if reference_dir == REFERENCE_DIR and not in_checkout() else "reference catalog missing"
        raise ReferenceTableError(f"{path}: not found; {hint}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    catalog: dict[str, tuple[TableVersion, ...]] = {}
    for name, versions in raw["tables"].items():
        catalog[name] = tuple(
            TableVersion(
                name=name,
                version=str(entry["version"]),
                path=reference_dir / entry["file"],
                valid_from=_as_date(entry["valid_from"]),
                valid_to=_as_date(entry.get("valid_to")),
                source=" ".join(str(entry.get("source", "")).split()),
            )
            for entry in versions
        )
    return catalog


class ReferenceTableError(ValueError):
    """A reference table is missing for a date, or a supplied table is not in the documented format."""


def table_version(
    name: str, on: dt.date | None = None, reference_dir: Path = REFERENCE_DIR, extra: tuple[TableVersion, ...] = ()
) -> TableVersion:
    """The version of table ``name`` valid on ``on`` (default: the newest version).

    ``extra``: versions supplied by the operator (``program.size_tables``); where one covers the
    same date as a shipped version, the one valid from the later date answers. Raises
    ``LookupError`` when no version covers ``on``.
    """
    catalog = load_catalog(reference_dir)
    if name not in catalog:
        raise KeyError(f"reference table '{name}' is not in {reference_dir / 'catalog.yaml'}")
    versions = catalog[name] + tuple(v for v in extra if v.name == name)
    if on is None:
        return max(versions, key=lambda v: v.valid_from)
    matching = [v for v in versions if v.covers(on)]
    if not matching:
        spans = ", ".join(f"{v.version}: {v.valid_from}..{v.valid_to or 'open'}" for v in versions)
        raise LookupError(f"no version of '{name}' is valid on {on}; versions held: {spans}")
    return max(matching, key=lambda v: v.valid_from)


@lru_cache(maxsize=8)
def ksic_divisions(reference_dir: Path = REFERENCE_DIR) -> pd.DataFrame:
    """KSIC sections and divisions: columns section, division (e.g. 'C26'), names."""
    table = pd.read_csv(table_version("ksic_divisions", reference_dir=reference_dir).path, dtype=str)
    return pd.DataFrame(
        {
            "section": table["ksic1_cd"],
            "division_number": table["ksic2_cd"].str.zfill(2),
            "division": table["ksic1_cd"] + table["ksic2_cd"].str.zfill(2),
            "section_name": table["ksic1_nm"],
            "division_name": table["ksic2_nm"],
            "section_name_en": table["section_name_en_approx"],
        }
    )


@lru_cache(maxsize=8)
def ksic_known_codes(reference_dir: Path = REFERENCE_DIR) -> frozenset[str]:
    """Every KSIC code at levels 2 to 5 digits in the 9th and 10th revisions."""
    tree = pd.read_csv(table_version("ksic_tree", reference_dir=reference_dir).path, dtype=str)
    codes: set[str] = set()
    for column in ("ksic2_cd", "ksic3_cd", "ksic4_cd", "ksic5_cd"):
        codes.update(tree[column].dropna().astype(str))
    return frozenset(codes)


def audit_rubric(on: dt.date | None = None, reference_dir: Path = REFERENCE_DIR) -> dict:
    """The field-audit rubric valid on ``on``, with its version."""
    version = table_version("audit_rubric", on, reference_dir)
    rubric = yaml.safe_load(version.path.read_text(encoding="utf-8"))
    rubric["version"] = version.version
    return rubric


# The columns an SME Act size table must have (docs/reference_tables.md); amounts in KRW 억.
SIZE_CRITERIA_COLUMNS = (
    "row_no",
    "ksic10_divisions",
    "medium_max_avg_rev_eok",
    "small_max_avg_rev_eok",
    "chugyeon_candidate_min_rev_ge_eok",
)


def operator_table(name: str, file: Path, valid_from: dt.date, valid_to: dt.date | None, source: str) -> TableVersion:
    """A table version supplied by the operator through params.yaml (relative paths: project root)."""
    path = Path(file) if Path(file).is_absolute() else PROJECT_ROOT / file
    return TableVersion(name, f"{valid_from} (supplied: {path.name})", path, valid_from, valid_to, source)


@lru_cache(maxsize=16)
def _read_size_table(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise ReferenceTableError(f"{path}: size table not found (named in params.yaml program.size_tables)")
    table = pd.read_csv(path, dtype={"ksic10_divisions": str}, encoding="utf-8-sig")
    missing = [c for c in SIZE_CRITERIA_COLUMNS if c not in table]
    if missing:
        raise ReferenceTableError(
            f"{path}: size table lacks column(s) {', '.join(missing)}; required: {', '.join(SIZE_CRITERIA_COLUMNS)}"
        )
    if table.empty:
        raise ReferenceTableError(f"{path}: size table has a header but no rows")
    for column in (*SIZE_CRITERIA_COLUMNS[2:], "row_no"):
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna() | (values < 0)
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise ReferenceTableError(
                f"{path}: row {row + 2}, column {column}: {table[column].iloc[row]!r} is not a non-negative number"
            )
    pattern = r"^\s*\d{1,2}\s*(-\s*\d{1,2}\s*)?$"
    bad = ~table["ksic10_divisions"].fillna("").str.match(pattern)
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise ReferenceTableError(
            f"{path}: row {row + 2}, column ksic10_divisions: {table['ksic10_divisions'].iloc[row]!r} is not a "
            f"KSIC division number or range such as 26 or 58-63"
        )
    return table


def size_criteria(
    on: dt.date | None = None, reference_dir: Path = REFERENCE_DIR, extra: tuple[TableVersion, ...] = ()
) -> tuple[pd.DataFrame, TableVersion]:
    """SME Act size thresholds valid on ``on`` (KRW 억), one row per industry row of the law.

    ``extra``: operator-supplied versions (``operator_table``). Raises ``LookupError`` when no
    version covers ``on`` and ``ReferenceTableError`` when the table is not in the documented format.
    """
    version = table_version("sme_size_criteria", on, reference_dir, extra)
    return _read_size_table(version.path).copy(), version
