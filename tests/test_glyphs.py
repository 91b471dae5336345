"""The plain stand-ins of glyphs a terminal's encoding lacks."""

from __future__ import annotations

import io

from lstui import glyphs


def test_bars_frames_and_arrows_keep_their_width_where_they_can() -> None:
    assert glyphs.plain("██████░░░░") == "######...."
    assert glyphs.plain("┌──┐│└┘") == "+--+|++"
    assert glyphs.plain("small → large … α·β ±0.1") == "small -> large ... a.b +-0.1"
    assert glyphs.plain("café ☃") == "cafe ?"


def test_a_latin1_stream_keeps_what_it_can_encode_and_stands_in_for_the_rest() -> None:
    glyphs.register()
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="latin-1", errors=glyphs.ERRORS)
    stream.write("é × 2 → █░")
    stream.flush()
    assert raw.getvalue().decode("latin-1") == "é × 2 -> #."
