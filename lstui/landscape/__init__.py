"""lstui.landscape"""
