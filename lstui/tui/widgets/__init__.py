"""The TUI's widgets, one per private module."""

from lstui.tui.widgets._devices import (
    DevicePanel,
    StatusBar,
    device_lines,
    device_summary,
    start_refused,
    status_line,
)
from lstui.tui.widgets._job_table import JobTable, TableLayout, table_layout
from lstui.tui.widgets._key_bar import KeyBar, lift_toasts
from lstui.tui.widgets._preview import (
    ACC_KEYS,
    LABELS,
    QUANTITIES,
    CurvePlot,
    Preview,
    SurfaceView,
    drawn_quantity,
    quantities,
)

__all__ = [
    "ACC_KEYS",
    "LABELS",
    "QUANTITIES",
    "CurvePlot",
    "DevicePanel",
    "JobTable",
    "KeyBar",
    "Preview",
    "StatusBar",
    "SurfaceView",
    "TableLayout",
    "device_lines",
    "device_summary",
    "drawn_quantity",
    "lift_toasts",
    "quantities",
    "start_refused",
    "status_line",
    "table_layout",
]
