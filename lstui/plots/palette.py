"""The terminal previews' colours: viridis bands (the figures' colour map), and the ones
a 256-colour terminal tells apart (tmux's default). The TUI's map and `lstui show`'s
plot take them from here alike.

No matplotlib here: the TUI imports it. A terminal of 256 colours shows a truecolour RGB
as the nearest colour of its palette, and neighbouring viridis colours there became one:
two bands of a preview, one colour.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
from rich.color import Color, ColorSystem

RGB = tuple[int, int, int]

PLAIN_RAMP = ".,:;-=~oO#@"
"""Band characters without colour (NO_COLOR, `show --no-color`), from the lowest band to
the highest; the TUI's map and `lstui show`'s plot alike. Not the marks (``+`` the centre,
``*`` the minimum, ``•`` a path) nor the TUI's ``x`` of NaN/inf."""


def band_chars(n_bands: int) -> list[str]:
    """Plain characters for ``n_bands`` bands, spread over :data:`PLAIN_RAMP`."""
    if n_bands <= 1:
        return [PLAIN_RAMP[0]]
    picks = np.round(np.linspace(0, len(PLAIN_RAMP) - 1, n_bands)).astype(int)
    return [PLAIN_RAMP[k] for k in picks]

_CUBE = (0, 95, 135, 175, 215, 255)
"""The channel values of the 256-colour palette's 6×6×6 cube (colours 16 to 231)."""

# viridis at 0, 1/9, … 1 (matplotlib's values, rounded)
_VIRIDIS: tuple[RGB, ...] = (
    (68, 1, 84), (72, 36, 117), (64, 67, 135), (52, 94, 141), (41, 120, 142),
    (32, 144, 141), (34, 168, 132), (68, 191, 112), (122, 209, 81), (189, 223, 38),
    (253, 231, 37),
)


@functools.cache
def eight_bit_colours() -> tuple[RGB, ...]:
    """The cube's colours that a 256-colour terminal shows as themselves: those rich
    turns into their own palette number (not a near-grey it sends to the grey ramp)."""
    out = []
    for number in range(16, 232):
        k = number - 16
        rgb = (_CUBE[k // 36], _CUBE[k // 6 % 6], _CUBE[k % 6])
        if Color.from_rgb(*rgb).downgrade(ColorSystem.EIGHT_BIT).number == number:
            out.append(rgb)
    return tuple(out)


def distinct_in_256(colours: Sequence[RGB]) -> list[RGB]:
    """``colours`` (lowest band first) as palette colours, one each: each takes the one
    nearest it that no earlier colour took. Exact palette colours, so a terminal that
    maps truecolour to its palette shows them as they are."""
    palette = np.asarray(eight_bit_colours(), dtype=np.float64)
    taken: list[int] = []
    for rgb in colours:
        order = np.argsort(((palette - np.asarray(rgb, dtype=np.float64)) ** 2).sum(axis=1), kind="stable")
        taken.append(next(int(i) for i in order if int(i) not in taken))
    return [eight_bit_colours()[i] for i in taken]


def terminal_has_256_colours(environ: dict[str, str]) -> bool:
    """Whether a terminal of this environment shows 256 colours, not truecolour (tmux's
    default ``TERM=screen-256color`` without ``COLORTERM=truecolor``)."""
    return environ.get("COLORTERM", "").lower() not in ("truecolor", "24bit") and "256" in environ.get("TERM", "")


def band_colours(n_bands: int, *, eight_bit: bool = False) -> list[RGB]:
    """``n_bands`` viridis colours, lowest band first.

    ``eight_bit``: for a terminal of 256 colours (tmux's default), where neighbouring
    viridis colours became the same palette colour and two bands one: each band takes
    the palette colour nearest its viridis colour that no lower band took."""
    if n_bands <= 1:
        return [_VIRIDIS[0]]
    if eight_bit:
        return distinct_in_256(band_colours(n_bands))
    out: list[RGB] = []
    anchors = np.asarray(_VIRIDIS, dtype=np.float64)
    for t in np.linspace(0.0, 1.0, n_bands):
        pos = t * (len(anchors) - 1)
        lo = int(math.floor(pos))
        hi = min(lo + 1, len(anchors) - 1)
        frac = pos - lo
        rgb = anchors[lo] * (1 - frac) + anchors[hi] * frac
        out.append((int(round(rgb[0])), int(round(rgb[1])), int(round(rgb[2]))))
    return out
