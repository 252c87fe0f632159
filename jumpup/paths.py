"""File names built from data: the firm-id rule and one safe slug for every output file.

Applicants' files name firms; a firm id must never become a path. Ingestion quarantines ids that
break ``FIRM_ID_PATTERN`` (rule ``bad_firm_id``, docs/data_contract.md), and every output file
named after data (grade reports, PDFs, STEP 2 dossiers) takes its name from ``safe_slug``, so even
a value that bypassed ingestion cannot leave the output folder, collide with a sibling or crash
the file system call.
"""

from __future__ import annotations

import hashlib
import re

FIRM_ID_MAX_LENGTH = 64
# ASCII letters and digits, then also '.', '_' and '-': stock codes (005930), DART corporation codes,
# business registration numbers (123-45-67890), synthetic ids (S0000042). ``\Z``: no trailing newline.
FIRM_ID_PATTERN = rf"^[0-9A-Za-z][0-9A-Za-z._-]{{0,{FIRM_ID_MAX_LENGTH - 1}}}\Z"
_SAFE = re.compile(FIRM_ID_PATTERN)
_LOWER = re.compile("[a-z]")  # a slug kept as the id holds none: case-insensitive file systems fold it
# Device names Windows will not open as files, whatever the extension.
_RESERVED = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))})


def safe_slug(value: object) -> str:
    """A file-name stem for ``value`` that stays inside its folder on any common file system.

    A value that follows the firm-id rule and holds no lower-case letter is returned unchanged,
    unless it is a Windows device name (``CON``, ``com1.txt``) or ends in a dot; links to a file
    must therefore be built from the slug, never from the id. Anything else — ``../../evil``,
    ``a/b``, 300 characters, NUL or other control characters, a Windows device name, an id with a
    lower-case letter — becomes its letters and digits (at most 40) followed by ``~`` and 16 hex
    digits of its sha256. ``~`` is outside the id rule, so a slug of a hostile value never equals
    a valid id, and different values give different slugs, also where case is ignored (Windows
    and macOS file systems): slugs without ``~`` hold upper case and digits only, so ``ABC`` and
    ``abc`` (``abc~…``) never name one file.
    """
    text = str(value)
    if (
        _SAFE.match(text)
        and not _LOWER.search(text)
        and text.split(".", 1)[0].lower() not in _RESERVED
        and not text.endswith(".")
    ):
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    readable = re.sub(r"[^0-9A-Za-z_-]+", "_", text).strip("_-")[:40] or "id"
    return f"{readable}~{digest}"
