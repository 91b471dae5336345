"""What lstui writes on a terminal whose encoding lacks its glyphs (a Latin-1 or ASCII
locale over an old SSH client): each glyph as the nearest plain characters, so that a
progress bar, a plot's frame and a map's bands stay readable; each was ``?`` alike."""

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
    "…": "...", "—": "-", "–": "-", "−": "-", "‐": "-", "→": "->", "←": "<-", "↑": "^", "↓": "v",
    "‖": "||", "·": ".", "•": "*", "●": "*", "○": "o", "×": "x", "±": "+-", "≈": "~", "≥": ">=",
    "≤": "<=", "≠": "!=", "α": "a", "β": "b", "θ": "theta", "Δ": "d", "δ": "d", "η": "eta", "°": " deg",
    "²": "^2", "½": "1/2", "⁻": "-", "✓": "ok", "✗": "x", "’": "'", "‘": "'", "“": '"', "”": '"',
    **{sup: str(n) for n, sup in enumerate("⁰¹²³⁴⁵⁶⁷⁸⁹")},
}


def plain(text: str) -> str:
    """``text`` in ASCII: :data:`PLAIN`'s stand-ins, accents dropped (``é`` → ``e``), and
    ``?`` for what has none."""
    out = []
    for ch in text:
        if ord(ch) < 128:
            out.append(ch)
        elif ch in PLAIN:
            out.append(PLAIN[ch])
        else:
            bare = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            out.append(bare or "?")
    return "".join(out)


def _stand_in(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return plain(exc.object[exc.start:exc.end]), exc.end


def register() -> None:
    """Add the :data:`ERRORS` handler (once a process is enough; again is harmless)."""
    codecs.register_error(ERRORS, _stand_in)
