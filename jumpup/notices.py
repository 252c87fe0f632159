"""Operator warnings (주의 사항) worded in both report languages.

A ``Notice`` is the English text itself (a ``str``: logs, manifests and the console keep working
unchanged) and carries its Korean wording for the Korean round summary.
"""

from __future__ import annotations


class Notice(str):
    """English warning text with its Korean wording in ``.ko``."""

    ko: str

    def __new__(cls, en: str, ko: str) -> Notice:
        notice = super().__new__(cls, en)
        notice.ko = ko
        return notice

    def __getnewargs__(self) -> tuple[str, str]:  # pickling keeps both wordings
        return str(self), self.ko


def in_language(warnings: list[str], language: str) -> list[str]:
    """The warnings worded for a page in ``language`` (plain strings stay as they are)."""
    if language != "ko":
        return [str(w) for w in warnings]
    return [getattr(w, "ko", str(w)) for w in warnings]
