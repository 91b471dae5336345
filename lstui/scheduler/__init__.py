"""lstui.scheduler"""
