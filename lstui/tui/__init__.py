"""lstui.tui"""
