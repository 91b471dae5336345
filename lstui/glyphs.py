"""What lstui writes on a terminal whose encoding lacks its glyphs (a Latin-1 or ASCII
locale over an old SSH client): each glyph as the nearest plain character, one for one,
so that a progress bar, a plot's frame and a map's bands stay readable and every column
(of ``ls``, of the TUI) stays where it was; each was ``?`` alike."""

from __future__ import annotations

import codecs
import unicodedata

ERRORS = "lstui-plain"
"""The name of the codec error handler :func:`register` adds (for ``reconfigure(errors=)``)."""

PLAIN: dict[str, str] = {
    **dict.fromkeys("─━┄┈╌═", "-"), **dict.fromkeys("│┃┆┊╎║", "|"),
    **dict.fromkeys("┌┐└┘├┤┬┴┼╭╮╰╯┏┓┗┛┣┫┳┻╋", "+"),
    "█": "#", "▓": "%", "▒": ":", "░": ".", **dict.fromkeys("▏▎▍▌▋▊▉", "#"),
    **dict.fromkeys("▁▂▃▄▅▆▇", "_"),
    "…": "~", "—": "-", "–": "-", "−": "-", "‐": "-", "→": ">", "←": "<", "↑": "^", "↓": "v",
    "‖": "|", "·": ".", "•": "*", "●": "*", "○": "o", "×": "x", "±": "+", "≈": "~", "≥": ">",
    "≤": "<", "≠": "#", "α": "a", "β": "b", "θ": "t", "Δ": "d", "δ": "d", "η": "n", "°": "o",
    "²": "2", "½": "/", "⁻": "-", "✓": "v", "✗": "x", "’": "'", "‘": "'", "“": '"', "”": '"', "⏎": "<", "⅃": "]",
    **{sup: str(n) for n, sup in enumerate("⁰¹²³⁴⁵⁶⁷⁸⁹")},
}
"""Each stand-in is one character, as the glyph is one cell: the columns stay."""


def plain(text: str) -> str:
    """``text`` in ASCII, a character for each: :data:`PLAIN`'s stand-ins, accents dropped
    (``é`` → ``e``), and ``?`` for what has none (a wide CJK character: two)."""
    out = []
    for ch in text:
        if ord(ch) < 128:
            out.append(ch)
        elif ch in PLAIN:
            out.append(PLAIN[ch])
        elif "\u2800" <= ch <= "\u28ff":  # a plot's braille dots (the TUI's curves): a dot, or none
            out.append("." if ch != "\u2800" else " ")
        else:
            bare = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()[:1]
            out.append(bare or ("??" if unicodedata.east_asian_width(ch) in "WF" else "?"))
    return "".join(out)


def _stand_in(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return plain(exc.object[exc.start:exc.end]), exc.end


def register() -> None:
    """Add the :data:`ERRORS` handler (once a process is enough; again is harmless)."""
    codecs.register_error(ERRORS, _stand_in)
