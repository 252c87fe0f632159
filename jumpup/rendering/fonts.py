"""A Korean font that travels with the reports, cut down to the characters they use.

Reports must show Hangul in a real CJK font on any machine that opens them, including an
evaluator's laptop without Noto CJK, and print to PDF quickly. Both come from the same step: the
system's CJK font (Debian ``fonts-noto-cjk``; found through fontconfig) is subset to exactly the
characters of the round's pages and written next to them with a stylesheet. A 20 MB font
collection becomes about 100 KB, and Chromium no longer spends ~0.15 s per PDF subsetting it.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

REPORT_FONT_FAMILY = "JumpUp Report Sans"
CJK_FAMILIES = ("Noto Sans CJK KR", "Noto Sans KR", "NanumGothic", "Malgun Gothic")
HANGUL_PROBE = 0xAC00  # '가': a font without it cannot draw Korean
# Characters every page may need even if no page of this round uses them yet (digits, punctuation).
BASE_CHARACTERS = "".join(chr(c) for c in range(0x20, 0x7F)) + "·–—%‰±×÷≤≥→←↑↓…“”‘’『』「」()[]억원점"


def find_cjk_font(weight: str = "Regular") -> tuple[Path, int] | None:
    """(file, index in a collection) of an installed CJK font that has Hangul, or None."""
    if shutil.which("fc-match") is None:
        return None
    for family in CJK_FAMILIES:
        found = subprocess.run(
            ["fc-match", "-f", "%{file}\t%{index}\t%{family}", f"{family}:style={weight}"],
            capture_output=True,
            text=True,
        ).stdout.split("\t")
        if len(found) == 3 and family.split()[0] in found[2] and _has_hangul(Path(found[0]), int(found[1] or 0)):
            return Path(found[0]), int(found[1] or 0)
    return None


def _has_hangul(path: Path, index: int) -> bool:
    from fontTools.ttLib import TTFont

    try:
        font = TTFont(path, fontNumber=index, lazy=True)
        return HANGUL_PROBE in font.getBestCmap()
    except Exception:  # not a font fontTools can read: treat as absent
        return False


def subset_font(source: tuple[Path, int], characters: Iterable[str], target: Path) -> int:
    """Write ``source`` cut down to ``characters`` as an OpenType file; returns its size in bytes."""
    from fontTools import subset
    from fontTools.misc.timeTools import epoch_diff
    from fontTools.ttLib import TTFont

    from jumpup.provenance import output_timestamp

    options = subset.Options()
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.layout_features = ["*"]
    font = TTFont(source[0], fontNumber=source[1], lazy=False)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted({ord(c) for c in characters if c.isprintable()}))
    subsetter.subset(font)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The font's own dates say when it was made, never when this round ran: equal rounds, equal bytes.
    font.recalcTimestamp = False
    font["head"].modified = int(output_timestamp().timestamp()) - epoch_diff  # seconds since 1904
    font.save(target)
    return target.stat().st_size


FONT_WEIGHTS = {"Regular": 400, "Bold": 700}  # the report font's weights and their CSS weights


def find_report_fonts() -> dict[str, tuple[Path, int]]:
    """The installed CJK font of each weight in ``FONT_WEIGHTS`` (weight -> file and index in a
    collection), leaving out a weight this machine has no font for; empty without any CJK font."""
    found = {weight: find_cjk_font(weight) for weight in FONT_WEIGHTS}
    return {weight: source for weight, source in found.items() if source is not None}


def write_report_fonts(
    pages: Iterable[str], assets_dir: Path, fonts: dict[str, tuple[Path, int]] | None = None
) -> dict:
    """Subset the CJK font to the characters of ``pages`` and write ``fonts.css`` into ``assets_dir``.

    ``fonts``: what ``find_report_fonts`` gives, looked up here when None. Without a CJK font on
    this machine the stylesheet is empty and pages fall back to the fonts they name; the returned
    record says so (``embedded`` False).
    """
    characters = set(BASE_CHARACTERS)
    for page in pages:
        characters.update(page)
    assets_dir.mkdir(parents=True, exist_ok=True)
    rules, files = [], {}
    fonts = find_report_fonts() if fonts is None else fonts
    for weight, css_weight in FONT_WEIGHTS.items():
        source = fonts.get(weight)
        if source is None:
            continue
        name = f"report-sans-{weight.lower()}.otf"
        files[name] = subset_font(source, characters, assets_dir / name)
        rules.append(
            f'@font-face {{ font-family: "{REPORT_FONT_FAMILY}"; src: url("{name}") format("opentype"); '
            f"font-weight: {css_weight}; font-style: normal; }}"
        )
    (assets_dir / "fonts.css").write_text("\n".join(rules) + "\n", encoding="utf-8")
    return {"embedded": bool(files), "files": files, "characters": len(characters)}
