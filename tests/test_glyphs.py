"""The plain stand-ins of glyphs a terminal's encoding lacks."""

from __future__ import annotations

import io

from lstui import glyphs


def test_each_glyph_is_one_plain_character_so_that_columns_stay() -> None:
    assert glyphs.plain("██████░░░░") == "######...."
    assert glyphs.plain("┌──┐│└┘") == "+--+|++"
    assert glyphs.plain("small → large … α·β ±0.1") == "small > large ~ a.b +0.1"
    assert glyphs.plain("café ☃ 損") == "cafe ? ??"  # (a wide character: two cells, two)
    assert glyphs.plain("\u2800⣀⠉") == " .."  # a curve's braille dots
    assert glyphs.plain("⅃ train acc") == "] train acc"  # (a 1D plot's right-axis mark)
    for glyph in glyphs.PLAIN:
        assert len(glyphs.plain(glyph)) == 1, glyph


def test_a_latin1_stream_keeps_what_it_can_encode_and_stands_in_for_the_rest() -> None:
    glyphs.register()
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="latin-1", errors=glyphs.ERRORS)
    stream.write("é × 2 → █░")
    stream.flush()
    assert raw.getvalue().decode("latin-1") == "é × 2 > #."
