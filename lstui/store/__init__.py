"""The SQLite job store: jobs, work units, points, events and workers.

The only package of lstui that writes SQL. See :class:`Store`.
"""

from lstui.store._paths import DB_NAME, default_home, safe_name
from lstui.store._rows import Event, JobRow, PointRow, UnitClaim, UnitRow, WorkerRow
from lstui.store._schema import SCHEMA_VERSION
from lstui.store._store import (
    DEFAULT_TIMEOUT_S,
    FULL_BELOW,
    PACE_WINDOW_S,
    WORKER_DIED,
    Store,
    drawn_from,
    file_schema_version,
    free_bytes,
)
from lstui.store.states import (
    ACTIONS,
    FINISHED,
    TRANSITIONS,
    JobState,
    can_transition,
    check_action,
    check_transition,
)

__all__ = [
    "ACTIONS",
    "DB_NAME",
    "DEFAULT_TIMEOUT_S",
    "FINISHED",
    "FULL_BELOW",
    "PACE_WINDOW_S",
    "SCHEMA_VERSION",
    "TRANSITIONS",
    "Event",
    "JobRow",
    "JobState",
    "PointRow",
    "Store",
    "UnitClaim",
    "UnitRow",
    "WORKER_DIED",
    "WorkerRow",
    "can_transition",
    "check_action",
    "check_transition",
    "default_home",
    "drawn_from",
    "file_schema_version",
    "free_bytes",
    "safe_name",
]
