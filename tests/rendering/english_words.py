"""Finding English words and raw codes in what evaluators read: rendered pages and workbook cells."""

from __future__ import annotations

import html
import re
from pathlib import Path

WORD = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*")
# Kept in Latin letters on Korean pages: grade letters, the program's STEP names, standard
# acronyms (AI, PSI, AUC, ICC with its k, R&D, investor types VC/CVC/PE, IPO), the name of the
# model family, document formats the operator index links to, and the software a warning tells the
# operator to install (a browser for the PDFs, the Korean font), named as its package is.
ALLOWED = frozenset(
    {
        *("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D"),
        *("STEP", "STEP1", "AI", "PSI", "AUC", "ICC", "k", "z", "R", "VC", "CVC", "PE", "IPO", "LightGBM"),
        *("HTML", "PDF", "p"),  # "p" of %p (percentage points)
        *("Chromium", "Debian", "chromium", "fonts-noto-cjk"),
    }
)
IDENTIFIER = re.compile(
    r"^(?:[RE]\d{3,}|\d+|[A-Z]\d{2,3}|g?[0-9a-f]{6,})$"  # firm and evaluator ids, KSIC codes, hashes, versions
)


def page_text(path: Path) -> str:
    """The text a reader sees on a page: markup, styles and scripts removed, SVG labels kept."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"<(style|script)\b.*?</\1>", " ", text, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return html.unescape(text)


# A hash shown whole ("bundle 0011067c1118"): WORD would otherwise read its tail "c1118" as a word.
HASH = re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{7,64}\b")
PATH = re.compile(r"[\w.-]*(?:/[\w.-]*)+|[\w-]+\.(?:csv|json|jsonl|html|pdf|xlsx)\b|\d+\.\d+\.\d+\+[\w.+]+")


def english_words(text: str, extra: frozenset[str] = frozenset()) -> set[str]:
    """Latin-letter words of ``text`` outside the allow-list (ids, hashes, file names and paths are not words)."""
    text = PATH.sub(" ", HASH.sub(" ", text))
    return {w for w in WORD.findall(text) if w not in ALLOWED and w not in extra and not IDENTIFIER.match(w)}


def workbook_words(path: Path, extra: frozenset[str] = frozenset()) -> dict[str, set[str]]:
    """English words per sheet of a workbook, headers and cells."""
    from openpyxl import load_workbook

    found = {}
    for sheet in load_workbook(path, read_only=True).worksheets:
        words = set()
        for row in sheet.iter_rows(values_only=True):
            for value in row:
                if isinstance(value, str):
                    words |= english_words(value, extra)
        found[sheet.title] = words
    return found
