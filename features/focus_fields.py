"""Focus fields (중점분야): reclassify firms from KSIC code and product / business text.

The program moves firms into promising fields by what they make, not only by their industry
code, so text evidence outweighs the code: each distinct keyword found in ``main_products`` or
``business_description`` scores 2, a KSIC prefix scores 1, and the best-scoring field wins (ties:
the field listed first in the mapping). Every assignment carries its evidence.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import yaml

from jumpup.reference import table_version

TEXT_WEIGHT = 2
CODE_WEIGHT = 1


def load_focus_fields() -> tuple[list[dict], str]:
    version = table_version("focus_fields")
    mapping = yaml.safe_load(version.path.read_text(encoding="utf-8"))
    return mapping["fields"], version.version


def _keyword_pattern(keyword: str) -> str:
    escaped = re.escape(keyword)
    # Latin keywords match whole words (so 'AI' does not match 'TRAIN'); Korean ones match inside words.
    return rf"(?<![A-Za-z]){escaped}(?![A-Za-z])" if re.fullmatch(r"[A-Za-z0-9 ]+", keyword) else escaped


def classify_focus_fields(firms: pd.DataFrame) -> pd.DataFrame:
    """One row per firm: focus_field (id or 'none'), its Korean name, score and evidence.

    ``firms`` needs firm_id and ksic_division; main_products, business_description and ksic_code
    are used when present. Firms with the same text and code are classified once.
    """
    fields, version = load_focus_fields()
    text = pd.Series("", index=firms.index, dtype="object")
    for column in ("main_products", "business_description"):
        if column in firms:
            text = text + " " + firms[column].fillna("").astype(str)
    codes = firms["ksic_code"].fillna("").astype(str) if "ksic_code" in firms else pd.Series("", index=firms.index)
    division_digits = firms["ksic_division"].fillna("").astype(str).str.slice(1, 3)
    codes = codes.where(codes != "", division_digits)
    keys = pd.MultiIndex.from_arrays([text.to_numpy(dtype=object), codes.to_numpy(dtype=object)])
    position, unique = pd.factorize(keys)
    found = _classify(
        pd.Series(unique.get_level_values(0), dtype="object"),
        pd.Series(unique.get_level_values(1), dtype="object"),
        fields,
    )
    return pd.DataFrame(
        {
            "firm_id": firms["firm_id"].to_numpy(),
            **{column: values[position] for column, values in found.items()},
            "focus_field_version": version,
        }
    )


def _classify(text: pd.Series, codes: pd.Series, fields: list[dict]) -> dict[str, np.ndarray]:
    """Per distinct (text, code): focus_field, focus_field_ko, focus_field_score, focus_field_evidence."""
    n = len(text)
    scores = np.zeros((n, len(fields)))
    evidence = np.full((n, len(fields)), "", dtype=object)
    code_values = codes.to_numpy(dtype=object)
    for j, field in enumerate(fields):
        pattern = "|".join(_keyword_pattern(k) for k in field["keywords"])
        found = text.str.findall(pattern, flags=re.IGNORECASE).to_numpy(dtype=object)
        prefixes = tuple(field["ksic_prefixes"])
        coded = codes.str.startswith(prefixes).to_numpy(dtype=bool) if prefixes else np.zeros(n, bool)
        for i in np.flatnonzero(coded | (pd.Series(found).str.len().to_numpy() > 0)):  # rows with any evidence
            words = found[i]
            parts = []
            if words:
                scores[i, j] += TEXT_WEIGHT * len({w.lower() for w in words})
                parts.append("keywords: " + ", ".join(dict.fromkeys(words)))
            if coded[i]:
                prefix = next(x for x in prefixes if code_values[i].startswith(x))
                scores[i, j] += CODE_WEIGHT
                parts.append(f"KSIC {prefix}*")
            evidence[i, j] = "; ".join(parts)
    best = scores.argmax(axis=1)
    best_score = scores.max(axis=1)
    ids = np.array([f["id"] for f in fields], dtype=object)
    names = np.array([f["ko"] for f in fields], dtype=object)
    return {
        "focus_field": np.where(best_score > 0, ids[best], "none"),
        "focus_field_ko": np.where(best_score > 0, names[best], "해당 없음"),
        "focus_field_score": best_score.astype("int64"),
        "focus_field_evidence": np.where(best_score > 0, evidence[np.arange(n), best], ""),
    }
