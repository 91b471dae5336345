"""Tests of the Textual app (lstui.tui)."""
