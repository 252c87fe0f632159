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

from jumpup.settings import PROJECT_ROOT

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
    raw = yaml.safe_load((reference_dir / "catalog.yaml").read_text(encoding="utf-8"))
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


def table_version(name: str, on: dt.date | None = None, reference_dir: Path = REFERENCE_DIR) -> TableVersion:
    """The version of table ``name`` valid on ``on`` (default: the newest version)."""
    catalog = load_catalog(reference_dir)
    if name not in catalog:
        raise KeyError(f"reference table '{name}' is not in {reference_dir / 'catalog.yaml'}")
    versions = catalog[name]
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


def size_criteria(on: dt.date | None = None, reference_dir: Path = REFERENCE_DIR) -> tuple[pd.DataFrame, TableVersion]:
    """SME Act size thresholds valid on ``on`` (KRW 억), one row per industry row of the law."""
    version = table_version("sme_size_criteria", on, reference_dir)
    return pd.read_csv(version.path, dtype={"ksic10_divisions": str}), version
