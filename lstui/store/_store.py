"""The SQLite job store: the one place in lstui that reads and writes SQL.

Many processes use one database at once: the scheduler daemon, one worker per device,
CLI commands and the TUI. The rules that keep that safe:

* WAL journal, so readers never block the writer and the writer never blocks readers;
* every write is one ``BEGIN IMMEDIATE`` transaction (:meth:`Store._immediate`), which
  takes the write lock up front and waits for it up to ``busy_timeout`` instead of
  failing half way with "database is locked";
* a claim is one ``UPDATE … RETURNING`` inside that transaction, never read-then-write;
* a point is stored once (``INSERT OR IGNORE`` on its primary key), whoever computes it.

``synchronous=NORMAL``: a killed process never loses a committed transaction; a power
cut may lose the last few, never the database.

A :class:`Store` may be shared by the threads of one process (a lock serialises them),
but not across ``fork``: each process opens its own.

A home this process cannot write (a read-only mount, a folder or file without write
permission) is opened read-only (:attr:`Store.read_only`): reads work, every write is
refused with one line saying why, and nothing on disk is touched.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

from sqlite_utils import Database

from lstui.errors import DatabaseDamaged, DatabaseLocked, InvalidTransition, JobNotFound, StoreError
from lstui.store._paths import DB_NAME, default_home, display_name, safe_name
from lstui.store._rows import Event, JobRow, PointRow, UnitClaim, UnitRow, WorkerRow
from lstui.store._schema import SCHEMA_VERSION, apply_migrations, schema_version
from lstui.store.states import (
    ACTIVE,
    FINISHED,
    JobState,
    can_transition,
    check_action,
    check_priority_change,
    check_transition,
)

MIN_SQLITE = (3, 35, 0)  # UPDATE … RETURNING
MAX_PATH_BYTES = 512 - len("-journal")
"""The longest database path SQLite opens (its 512-byte pathnames, less the suffix of its
journal), symlinks resolved: a longer one read "damaged or not an lstui database"."""
DEFAULT_TIMEOUT_S = 30.0
PACE_WINDOW_S = 60.0
"""A running job's rate is measured over its last minute or a little more (its run
since its first stored points while that is shorter): what ETAs and points/s show."""
EVENT_LEVELS = frozenset({"debug", "info", "warning", "error"})
SAY_LOCK_WAIT_AFTER_S = 2.0
"""A write that has waited this long for another process's lock tells ``on_lock_wait``
(a command says so, rather than 20 s of silence)."""
LOCK_WAIT_NOTICE_S = 5.0
"""A write that waited this long for another process's lock marks the store as having
seen one (see :data:`LOCK_GRACE_S`)."""
LOCK_GRACE_S = 30.0
"""For this long after one of its writes waited out another process's hold of the
database, a store takes a lease for expired only as long after its end as the hold
lasted, and this much more: the holders' renewals waited behind the same hold (a 40 s
hold took a live worker's unit, and three such holds failed its job with "it may be
crashing the worker")."""


def _sql_set(states: frozenset[JobState]) -> str:
    return "(" + ", ".join(sorted(f"'{s.value}'" for s in states)) + ")"


_ACTIVE_SQL = _sql_set(ACTIVE)  # ('queued', 'running')
_FINISHED_SQL = _sql_set(FINISHED)  # ('cancelled', 'done', 'failed')

_JOB_COLUMNS = """
    j.id, j.name, j.kind, j.spec, j.state, j.priority, j.created, j.started, j.finished,
    j.attempts, j.error, j.results_dir, j.total_points, j.done_points, j.device,
    j.run_s, j.run_since, json_extract(j.pace_marks, '$[0][0]') AS pace_ts,
    json_extract(j.pace_marks, '$[0][1]') AS pace_done,
    CASE WHEN j.run_since IS NOT NULL
         THEN (SELECT max(p.created) FROM points p WHERE p.job_id = j.id) END AS last_point,
    (SELECT group_concat(d.depends_on) FROM job_deps d WHERE d.job_id = j.id) AS deps
"""

WORKER_HOLD_S = 30.0
"""A worker heard from this recently whose current job is one to remove still holds it:
it writes the point in hand after a cancel."""

_NEXT_JOB_ID_SQL = (
    "(SELECT max(coalesce((SELECT max(id) FROM jobs), 0),"
    " coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'last_removed_job'), 0)) + 1)"
)
"""A new job's id: past every job there is and every job removed (SQLite would give a
removed last job's id again, and its old log lines and folder name with it)."""
_NEXT_UNIT_ID_SQL = (
    "SELECT max(coalesce((SELECT max(id) FROM units), 0),"
    " coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'last_removed_unit'), 0)) + 1"
)
"""A new job's first unit id, likewise past every unit removed."""

WORKER_DIED = "its worker died"
"""Why a dead worker's units went back, when nothing more is known of its end."""
LEASE_EXPIRED = "its lease expired"
"""Why a unit went back from a worker that stopped renewing its lease."""

# The next unit to run: of the claimable jobs, the one with the highest priority, then a
# running one (a retried or resumed older job does not take the workers of a newer one
# running at its priority: what has started finishes), then the oldest; of its pending
# units, the first in the caller's (coarse-to-fine) order.
_CLAIM_SQL = f"""
UPDATE units
SET state = 'leased', lease_owner = :worker, lease_expires = :expires,
    attempts = attempts + 1
WHERE id = (
    SELECT u.id FROM units u
    WHERE u.state = 'pending' AND u.job_id = (
        SELECT j.id FROM jobs j
        WHERE j.state IN {_ACTIVE_SQL}
          AND (:any_job OR j.id IN (SELECT value FROM json_each(:job_ids)))
          AND EXISTS (SELECT 1 FROM units p WHERE p.job_id = j.id AND p.state = 'pending')
          AND NOT EXISTS (
              SELECT 1 FROM job_deps d JOIN jobs dj ON dj.id = d.depends_on
              WHERE d.job_id = j.id AND dj.state != 'done')
        ORDER BY j.priority DESC, j.state = 'running' DESC, j.created ASC, j.id ASC
        LIMIT 1)
    ORDER BY u.seq
    LIMIT 1)
RETURNING id, job_id, seq, indices, attempts, lease_expires
"""

_RELEASE_LEASES_SQL = """
UPDATE units
SET state = 'pending', lease_owner = NULL, lease_expires = NULL,
    attempts = max(attempts - 1, 0)
WHERE job_id = ? AND state = 'leased'
"""


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _cannot_open(exc: sqlite3.DatabaseError) -> bool:
    """Whether SQLite failed to open or write a file (SQLITE_CANTOPEN, SQLITE_READONLY)."""
    name = getattr(exc, "sqlite_errorname", "")  # Python 3.11+
    text = str(exc).lower()
    return (
        name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY"))
        or "unable to open" in text
        or "readonly" in text
    )



WAL_SIZE_LIMIT = 4 * 2**20
"""Bytes the WAL file is truncated to after a checkpoint (SQLite's journal_size_limit)."""


def drawn_from(dependent: int, job: int, together: Iterable[int]) -> str:
    """Why ``job`` cannot be removed alone: ``dependent`` (a comparison's figures) is drawn
    from it; with the command that does what was asked: every id of ``together``, the ids
    given and the jobs drawn from them (``lstui rm`` and the TUI's ``x`` say it alike)."""
    ids = " ".join(str(j) for j in sorted(set(together)))
    return f"job {dependent} is drawn from job {job}: remove it too (lstui rm {ids}) or keep job {job}"

class Store:
    """The job store in one SQLite file.

    Args:
        path: the database file; its folder is created (mode 0700) and the file too
            (mode 0600) when missing.
        timeout_s: how long a write waits for another process's write to finish
            before giving up with :class:`StoreError`.
        clock: the source of unix time (tests pass a fake one to expire leases).
        on_lock_wait: called, once, with a line to show when a write has waited
            :data:`SAY_LOCK_WAIT_AFTER_S` for another process's lock.

    Raises:
        DatabaseLocked: another process holds the write lock for more than ``timeout_s``.
        StoreError: the file is written by a newer lstui, damaged, cannot be opened
            even read-only, on a file system without WAL support, or this Python's
            SQLite is older than 3.35.
    """

    def __init__(
        self,
        path: Path,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
        on_lock_wait: Callable[[str], object] | None = None,
        before_upgrade: Callable[[int], object] | None = None,
    ) -> None:
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StoreError(
                f"SQLite {sqlite3.sqlite_version} is too old for the job store; "
                f"lstui needs {'.'.join(map(str, MIN_SQLITE))} or newer"
            )
        self.path = Path(path).expanduser()
        self._home = self.path.parent.absolute()  # what results folders are relative to
        # the schema this store was upgraded from on opening (None: none was needed)
        self.upgraded_from: int | None = None
        # where the database was copied as it was before that upgrade (None: no upgrade)
        self.upgrade_copy: Path | None = None
        self.timeout_s = timeout_s
        self._clock = clock
        # told once when a write has waited SAY_LOCK_WAIT_AFTER_S for another process's
        # lock (a command's "waiting for the database …": 20 s of silence before)
        self._on_lock_wait = on_lock_wait
        # called with the file's schema before an older store is upgraded; raises to refuse
        # (a daemon of an older lstui runs on it)
        self._before_upgrade = before_upgrade
        self._lock = threading.RLock()
        # (start, end), time.monotonic(), of the last hold of the database by another process
        # that a write of this store waited out: waits that follow each other make one
        self._lock_seen: tuple[float, float] | None = None
        self._together = False  # inside together(): writes join its transaction
        self._unwritable: tuple[str, str] | None = None  # (why, what would help) when read-only
        self._immutable = False
        real = os.fsencode(os.path.realpath(self.path))
        if len(real) > MAX_PATH_BYTES:
            # (`..` alone is no symlink: abspath folds it as realpath does)
            resolved = " (symlinks resolved)" if real != os.fsencode(os.path.abspath(self.path)) else ""
            raise StoreError(f"the path of database {os.fsdecode(real)} is {len(real)} bytes long{resolved}, "
                             f"more than SQLite opens ({MAX_PATH_BYTES}): give lstui a home with a shorter path "
                             "(--home, LSTUI_HOME)")
        try:
            _create_private(self.path)
        except OSError as exc:
            unwritable = _unwritable(self.path)
            if unwritable is None:
                raise
            why, helps = unwritable
            raise StoreError(
                f"database {self.path} cannot be created: {why} ({exc.strerror}); {helps}"
            ) from exc
        try:
            self._open("rw")
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and _is_locked(exc):
                raise self._store_error(exc) from exc
            # A home that cannot be written is no damaged database: read it without writing.
            unwritable = (_unwritable(self.path) if _cannot_open(exc) or _full_disk_error(exc, self.path)
                          else None)
            if unwritable is None:
                raise StoreError(
                    f"database {self.path} is damaged or not an lstui database ({exc}); "
                    "move it aside and start again, or restore a copy"
                ) from exc
            self._unwritable = unwritable
            self._open_read_only(exc)

    @property
    def read_only(self) -> bool:
        """Whether the database was opened read-only, its home being unwritable here."""
        return self._unwritable is not None

    def _open(self, mode: str) -> None:
        """Connect (``rw``; ``ro``; ``immutable``: ``ro`` without the WAL's shared-memory
        file, for a folder where it cannot be created), configure and migrate; on failure
        the connection is closed again."""
        if mode == "rw":
            target, uri = str(self.path), False
        else:
            query = "mode=ro&immutable=1" if mode == "immutable" else "mode=ro"
            target, uri = f"file:{urllib.parse.quote(str(self.path))}?{query}", True
        self._conn = sqlite3.connect(
            target,
            timeout=self.timeout_s,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,
            uri=uri,
        )
        self._db = Database(self._conn, execute_plugins=False)
        self._immutable = mode == "immutable"
        try:
            self._configure()
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    def _open_read_only(self, cause: sqlite3.DatabaseError) -> None:
        """Open read-only a database whose home cannot be written (``cause``: why not rw).

        A WAL database is read through its shared-memory file (``-shm``), which SQLite
        creates on first use. Where it exists (a daemon writes through another mount,
        say), a plain ``mode=ro`` connection shares it and sees every commit. Where it
        does not and cannot be created (an unwritable folder, a full file system), the
        file is read as immutable; that is only sound while no ``-wal`` file holds
        commits (an empty one, left by an open that could not go on, holds none), and
        :meth:`_read` switches to ``mode=ro`` as soon as one does.
        """
        assert self._unwritable is not None
        why, helps = self._unwritable
        try:
            try:
                self._open("ro")
            except sqlite3.OperationalError as exc:
                if not (_cannot_open(exc) or _full_disk_error(exc, self.path)) or _wal_has_frames(self.path):
                    raise
                self._open("immutable")
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"database {self.path} cannot be opened: {why} ({cause}); {helps}"
            ) from exc

    # -- opening and closing ---------------------------------------------------------

    @classmethod
    def open_home(cls, home: Path | None = None, **kwargs: Any) -> Store:
        """Open ``home/lstui.db``; ``home`` defaults to :func:`default_home`."""
        return cls((home if home is not None else default_home()) / DB_NAME, **kwargs)

    def set_timeout(self, timeout_s: float) -> None:
        """Change how long a write waits for another process's write (see ``timeout_s``)."""
        with self._lock:
            self.timeout_s = timeout_s
            self._conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000):d}")

    def close(self) -> None:
        """Close the connection; the store is unusable afterwards."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    @property
    def schema_version(self) -> int:
        """How many migrations the database has had."""
        with self._read():
            return schema_version(self._db)

    def _configure(self) -> None:
        c = self._conn
        c.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000):d}")
        c.execute("PRAGMA foreign_keys = ON")
        if self.read_only:
            # The journal mode is the file's, set by whoever wrote it. The first read opens
            # the WAL's files: let its error through as SQLite's, for _open_read_only.
            c.execute("PRAGMA user_version").fetchone()
            return
        self._refuse_foreign(c)
        deadline = time.monotonic() + self.timeout_s
        while True:  # a brand-new file opened by many processes at once may be busy
            try:
                mode = c.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as exc:
                if _cannot_open(exc) or _full_disk_error(exc, self.path):
                    raise  # the caller tells an unwritable home from a damaged file
                if not _is_locked(exc) or time.monotonic() > deadline:
                    raise self._store_error(exc) from exc
                time.sleep(0.02)
        if str(mode).lower() != "wal":
            raise StoreError(
                f"database {self.path} cannot use a WAL journal (got {mode!r}); "
                "put LSTUI_HOME on a local disk"
            )
        c.execute("PRAGMA synchronous = NORMAL")
        # the WAL file is cut back to this after each checkpoint: it kept its largest size
        # for good (10 MB after a run of 9,500 jobs)
        c.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT:d}")

    def _refuse_foreign(self, c: sqlite3.Connection) -> None:
        """Refuse another program's SQLite file (no lstui schema, tables of its own)
        before anything of it changes (its journal mode, lstui's tables added to it)."""
        try:  # one statement, one snapshot: another process may migrate the file between two
            version, names = c.execute(
                "SELECT (SELECT user_version FROM pragma_user_version),"
                " (SELECT group_concat(name, char(31)) FROM sqlite_master"
                "  WHERE type = 'table' AND name NOT LIKE 'sqlite_%')").fetchone()
        except sqlite3.OperationalError:
            return  # a lock, an unreadable file: what follows says it
        others = names.split("\x1f") if names else []
        if version == 0 and others:
            raise StoreError(
                f"database {self.path} is not an lstui database (it holds table "
                f"{', '.join(sorted(others)[:3])}{' …' if len(others) > 3 else ''} and no lstui "
                "schema): give lstui a home of its own (--home, LSTUI_HOME)"
            )

    def _migrate(self) -> None:
        with self._read():
            version = schema_version(self._db)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"database {self.path} has schema version {version}, newer than this "
                f"lstui knows ({SCHEMA_VERSION}); upgrade lstui"
            )
        if version < SCHEMA_VERSION:
            if self._unwritable is not None:
                why, helps = self._unwritable
                raise StoreError(
                    f"database {self.path} has schema version {version} and needs an "
                    f"upgrade to {SCHEMA_VERSION}, but cannot be written: {why}; {helps}"
                )
            if version > 0 and self._before_upgrade is not None:
                self._before_upgrade(version)
            try:
                with self._immediate():
                    before = schema_version(self._db)  # another process may have upgraded it meanwhile
                    if 0 < before < SCHEMA_VERSION:  # (under the write lock: one process copies it)
                        self.upgrade_copy = self._copy_before_upgrade(before)
                    apply_migrations(self._db)  # re-reads the version under the write lock
            except BaseException:  # (Ctrl-C in a long upgrade: each left a copy of the whole store)
                if self.upgrade_copy is not None:
                    with suppress(OSError):
                        self.upgrade_copy.unlink()
                    self.upgrade_copy = None
                raise
            if 0 < before < SCHEMA_VERSION:
                self.upgraded_from = before

    def _copy_before_upgrade(self, version: int) -> Path:
        """A copy of the database as it is, made before it is upgraded from schema
        ``version``: ``lstui.db.schema5.bak`` beside it (``….schema5.2.bak`` where one is
        there), which the older lstui opens again once renamed to ``lstui.db``. Made under
        the write lock, it holds every write made before and none half-made.
        Where it cannot be written (a full disk), the upgrade is refused."""
        number = 1
        while True:
            name = f"{self.path.name}.schema{version}{f'.{number}' if number > 1 else ''}.bak"
            copy = self.path.with_name(name)
            try:
                fd = os.open(copy, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                number += 1
                continue
            except OSError as exc:
                raise StoreError(f"database {self.path} has schema version {version} and needs an upgrade to "
                                 f"{SCHEMA_VERSION}, but a copy of it as it is cannot be made first ({exc}); "
                                 "nothing was changed") from exc
            os.close(fd)
            break
        try:  # (from a connection of its own: SQLite's backup refuses one in a write transaction)
            source, target = sqlite3.connect(self.path, timeout=self.timeout_s), sqlite3.connect(copy)
            try:
                source.backup(target)
                target.execute("PRAGMA journal_mode = DELETE")  # one file, as copies are
            finally:
                source.close()
                target.close()
        except sqlite3.Error as exc:
            with suppress(OSError):
                copy.unlink()
            raise StoreError(f"database {self.path} has schema version {version} and needs an upgrade to "
                             f"{SCHEMA_VERSION}, but a copy of it as it is cannot be made first at {copy} "
                             f"({exc}); free some space there; nothing was changed") from exc
        return copy

    # -- transactions ----------------------------------------------------------------

    def _store_error(self, exc: sqlite3.OperationalError) -> StoreError | sqlite3.OperationalError:
        if _is_locked(exc):
            return DatabaseLocked(
                f"database {self.path} is locked by another process "
                f"(waited {self.timeout_s:g} s: {exc})"
            )
        text = str(exc).lower()
        if "readonly" in text and (unwritable := _unwritable(self.path)) is not None:
            why, helps = unwritable
            return StoreError(
                f"database {self.path} cannot be written: {why} ({exc}); "
                f"nothing was changed; {helps}"
            )
        if "disk is full" in text or "disk i/o error" in text or "readonly" in text:
            return StoreError(f"database {self.path} cannot be written ({exc}); nothing was changed")
        return exc

    def _raise_damaged(self, exc: sqlite3.DatabaseError) -> NoReturn:
        """A page found damaged while reading or writing (``database disk image is
        malformed``): one line, as a damaged file is at open, and a :class:`DatabaseDamaged`
        that the daemon and its workers do not retry. Constraint errors (``IntegrityError``)
        are bugs and stay as they are."""
        if type(exc) is not sqlite3.DatabaseError:
            raise exc
        raise DatabaseDamaged(
            f"database {self.path} is damaged ({exc}); move it aside and start again, or "
            "restore a copy (the results folders keep every job's files)"
        ) from exc

    @staticmethod
    def _rollback_quietly(c: sqlite3.Connection) -> None:
        with suppress(sqlite3.Error):
            if c.in_transaction:
                c.execute("ROLLBACK")

    def _refuse_write(self) -> None:
        """A read-only store refuses a write before it begins (SQLite would begin one)."""
        if self._unwritable is not None:
            why, helps = self._unwritable
            raise StoreError(
                f"database {self.path} cannot be written: {why}; nothing was changed; {helps}"
            )

    def _begin(self, c: sqlite3.Connection) -> None:
        """``BEGIN IMMEDIATE``, waiting up to ``timeout_s`` for another process's write
        lock; past :data:`SAY_LOCK_WAIT_AFTER_S` of it, ``on_lock_wait`` is told (once)."""
        say_after = SAY_LOCK_WAIT_AFTER_S
        if self._on_lock_wait is None or self.timeout_s <= say_after:
            c.execute("BEGIN IMMEDIATE")
            return
        c.execute(f"PRAGMA busy_timeout = {int(say_after * 1000):d}")
        try:
            try:
                c.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_locked(exc):
                    raise
            tell, self._on_lock_wait = self._on_lock_wait, None
            tell(f"waiting for the database {self.path}: another process holds its write lock "
                 f"(for up to {self.timeout_s:g} s)")
            c.execute(f"PRAGMA busy_timeout = {int((self.timeout_s - say_after) * 1000):d}")
            c.execute("BEGIN IMMEDIATE")
        finally:
            c.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000):d}")

    @contextmanager
    def together(self) -> Iterator[None]:
        """The writes made inside, by this thread, as one transaction: all of them or
        none. A command interrupted half way through queueing a set of jobs (a
        comparison's, a job file's) left some queued, a comparison's figure job without
        the jobs it draws. The write lock is held throughout: keep it short."""
        with self._lock:
            if self._together:
                yield
                return
            with self._immediate():
                self._together = True
                try:
                    yield
                finally:
                    self._together = False

    @contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: ``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on error;
        inside :meth:`together`, a part of its transaction."""
        self._refuse_write()
        with self._lock:
            c = self._conn
            if self._together and c.in_transaction:
                yield c
                return
            if c.in_transaction:
                raise RuntimeError("Store write transactions do not nest")
            asked = time.monotonic()
            try:
                self._begin(c)
            except sqlite3.OperationalError as exc:
                raise self._store_error(exc) from exc
            except sqlite3.DatabaseError as exc:
                self._raise_damaged(exc)
            finally:
                ended = time.monotonic()
                if ended - asked >= LOCK_WAIT_NOTICE_S:
                    seen = self._lock_seen
                    began = seen[0] if seen is not None and asked - seen[1] < LOCK_WAIT_NOTICE_S else asked
                    self._lock_seen = (began, ended)
            try:
                yield c
                c.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise self._store_error(exc) from exc
            except sqlite3.DatabaseError as exc:
                self._rollback_quietly(c)
                self._raise_damaged(exc)
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several SELECTs (joins an open transaction)."""
        with self._lock:
            if self._immutable and not self._conn.in_transaction and _wal_has_frames(self.path):
                self._reopen_shared()
            c = self._conn
            if c.in_transaction:
                yield c
                return
            try:
                c.execute("BEGIN")
                yield c
                c.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise self._store_error(exc) from exc
            except sqlite3.DatabaseError as exc:
                self._rollback_quietly(c)
                self._raise_damaged(exc)
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise

    def _reopen_shared(self) -> None:
        """Leave an immutable connection for a ``mode=ro`` one: someone writes the file now.

        If that cannot be opened (yet), the immutable one stays for the next try, unused.
        """
        immutable = self._conn, self._db
        try:
            self._open("ro")
        except BaseException as exc:
            self._conn, self._db = immutable
            self._immutable = True
            if not isinstance(exc, sqlite3.DatabaseError):
                raise
            raise StoreError(
                f"database {self.path} is being written by another process and cannot be "
                f"read from here now ({exc}); try again in a moment"
            ) from exc
        immutable[0].close()

    @staticmethod
    def _rows(c: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        cur = c.cursor()
        cur.row_factory = sqlite3.Row
        return cur.execute(sql, params).fetchall()

    @staticmethod
    def _one(
        c: sqlite3.Connection, sql: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> sqlite3.Row | None:
        cur = c.cursor()
        cur.row_factory = sqlite3.Row
        row: sqlite3.Row | None = cur.execute(sql, params).fetchone()
        return row

    # -- jobs ------------------------------------------------------------------------

    def add_job(
        self,
        *,
        kind: str,
        name: str,
        spec: dict[str, Any],
        total_points: int,
        units: list[list[int]],
        priority: int = 0,
        depends_on: Iterable[int] = (),
        results_root: Path,
    ) -> int:
        """Queue a job and its work units in one transaction.

        Args:
            kind: ``surface``, ``interp``, ``trajectory`` …
            name: shown in listings (control characters removed) and, reduced to
                ``[A-Za-z0-9._-]``, part of the results folder's name.
            spec: the validated job spec as a JSON-able dict; returned with every claim.
            total_points: the number of grid points; flat indices run 0 … total-1.
            units: the work units in the order they should run (coarse points
                first); together they hold every index exactly once.
            priority: higher runs first; equal priorities run oldest first.
            depends_on: jobs that must be done before this one starts.
            results_root: the folder under which ``{id:05d}-{name}`` is the job's.

        Returns:
            The new job's id.

        Raises:
            JobNotFound: a dependency does not exist.
            ValueError: the units do not cover ``range(total_points)`` exactly once.
        """
        _check_units(units, total_points)
        spec_json = json.dumps(_spec_to_store(spec, self._home), sort_keys=True)
        deps = sorted({int(d) for d in depends_on})
        root = Path(results_root).expanduser().absolute()
        shown = display_name(name)
        with self._immediate() as c:
            if deps:
                found = {
                    r[0]
                    for r in c.execute(
                        "SELECT id FROM jobs WHERE id IN (SELECT value FROM json_each(?))",
                        (json.dumps(deps),),
                    )
                }
                missing = [d for d in deps if d not in found]
                if missing:
                    raise JobNotFound(f"job {missing[0]} does not exist; a job cannot depend on it")
            now = self._clock()
            cur = c.execute(
                "INSERT INTO jobs (id, name, kind, spec, state, priority, created, attempts,"
                " results_dir, total_points, done_points)"
                f" VALUES ({_NEXT_JOB_ID_SQL}, ?, ?, ?, 'queued', ?, ?, 0, '', ?, 0)",
                (shown, kind, spec_json, int(priority), now, int(total_points)),
            )
            job_id = int(cur.lastrowid or 0)
            results_dir = _fresh_folder(root / f"{job_id:05d}-{safe_name(name)}")
            # under the home: kept relative to it, so a home moved or copied finds its own
            stored = results_dir.relative_to(self._home) if results_dir.is_relative_to(self._home) else results_dir
            c.execute("UPDATE jobs SET results_dir = ? WHERE id = ?", (str(stored), job_id))
            c.executemany(
                "INSERT INTO job_deps (job_id, depends_on) VALUES (?, ?)",
                [(job_id, d) for d in deps],
            )
            # past every unit removed too: a worker that finishes a removed job's point
            # must find no unit under its id, not another job's
            first_unit = int(c.execute(_NEXT_UNIT_ID_SQL).fetchone()[0])
            c.executemany(
                "INSERT INTO units (id, job_id, seq, indices, state, attempts)"
                " VALUES (?, ?, ?, ?, 'pending', 0)",
                [(first_unit + seq, job_id, seq, json.dumps(list(map(int, u)))) for seq, u in enumerate(units)],
            )
            after = f" after job{'s' if len(deps) > 1 else ''} {', '.join(map(str, deps))}"
            self._event(
                c,
                job_id,
                "info",
                f"queued: {total_points} point{'s' if total_points != 1 else ''} in {len(units)} "
                f"unit{'s' if len(units) != 1 else ''}" + (after if deps else ""),
            )
        return job_id

    def get_job(self, job_id: int) -> JobRow:
        """The job with this id.

        Raises:
            JobNotFound: no job has this id.
        """
        with self._read() as c:
            row = self._one(c, f"SELECT {_JOB_COLUMNS} FROM jobs j WHERE j.id = ?", (job_id,))
        if row is None:
            raise JobNotFound(f"job {job_id} does not exist")
        return _job_row(row, self._home)

    def list_jobs(
        self, *, include_finished: bool = True, limit: int | None = None, finished_after: float | None = None,
        kind: str | None = None,
    ) -> list[JobRow]:
        """Jobs in id order, with their stored-point counts, in one query.

        Args:
            include_finished: also list done, failed and cancelled jobs.
            limit: keep only the newest ``limit`` jobs (still returned in id order).
            finished_after: with ``include_finished``, only the finished jobs that
                finished after this unix time (the store's clock).
            kind: only the jobs of this kind (``surface``, ``interp`` …).
        """
        params: tuple[Any, ...] = ()
        if not include_finished:
            where = f"WHERE j.state NOT IN {_FINISHED_SQL}"
        elif finished_after is not None:
            where = f"WHERE (j.state NOT IN {_FINISHED_SQL} OR j.finished > ?)"
            params = (float(finished_after),)
        else:
            where = ""
        if kind is not None:
            where = f"{where} AND j.kind = ?" if where else "WHERE j.kind = ?"
            params = (*params, kind)
        sql = f"SELECT {_JOB_COLUMNS} FROM jobs j {where} ORDER BY j.id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params = (*params, int(limit))
        with self._read() as c:
            rows = self._rows(c, sql, params)
        return [_job_row(r, self._home) for r in reversed(rows)]

    def job_ids(self) -> set[int]:
        """The ids of every job the store holds (without reading the jobs)."""
        with self._read() as c:
            return {int(r[0]) for r in c.execute("SELECT id FROM jobs").fetchall()}

    def count_jobs(self) -> int:
        """How many jobs the store holds, finished ones included (without reading them)."""
        with self._read() as c:
            return int(c.execute("SELECT count(*) FROM jobs").fetchone()[0])

    def remove_jobs(self, job_ids: Sequence[int]) -> list[JobRow]:
        """Delete finished jobs from the store, all or none: their rows, units, points,
        log and dependencies, in one transaction. Their ids are never given again.

        Returns:
            The rows removed, in id order (their results folders are the caller's).

        Raises:
            JobNotFound: an id no job has.
            InvalidTransition: a job that is not finished (queued, running, paused), or
                one that a job left in the store depends on (a comparison's figures
                are drawn from its curves and surfaces).
        """
        ids = sorted(set(int(j) for j in job_ids))
        wanted = json.dumps(ids)
        with self._immediate() as c:
            for job_id in ids:
                state = self._state(c, job_id)
                if state not in FINISHED:
                    raise InvalidTransition(f"job {job_id} is {state.value}: only finished jobs are removed "
                                            f"(lstui cancel {job_id} first)")
            needed = c.execute(
                "SELECT depends_on, job_id FROM job_deps WHERE depends_on IN (SELECT value FROM json_each(?))"
                " AND job_id NOT IN (SELECT value FROM json_each(?)) ORDER BY depends_on, job_id",
                (wanted, wanted),
            ).fetchall()
            if needed:
                raise InvalidTransition(drawn_from(int(needed[0][1]), int(needed[0][0]),
                                                   [*ids, *(int(r[1]) for r in needed)]))
            rows = self._rows(
                c, f"SELECT {_JOB_COLUMNS} FROM jobs j WHERE j.id IN (SELECT value FROM json_each(?))"
                " ORDER BY j.id", (wanted,),
            )
            removed = [_job_row(r, self._home) for r in rows]
            held = c.execute(
                "SELECT current_job, id FROM workers WHERE state = 'alive' AND heartbeat >= ?"
                " AND current_job IN (SELECT value FROM json_each(?)) ORDER BY current_job",
                (self._clock() - WORKER_HOLD_S, wanted),
            ).fetchone()
            if held is not None:
                raise InvalidTransition(f"job {held[0]} is still in worker {held[1]}'s hands (the point it "
                                        "was computing when it stopped); try again in a moment")
            last_unit = c.execute(
                "SELECT max(id) FROM units WHERE job_id IN (SELECT value FROM json_each(?))", (wanted,)
            ).fetchone()[0]
            for key, value in (("last_removed_job", ids[-1] if ids else None), ("last_removed_unit", last_unit)):
                if value is not None:
                    c.execute(
                        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE"
                        " SET value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
                        (key, str(value)),
                    )
            for table in ("points", "units", "events", "job_deps"):
                c.execute(f"DELETE FROM {table} WHERE job_id IN (SELECT value FROM json_each(?))", (wanted,))
            c.execute("DELETE FROM jobs WHERE id IN (SELECT value FROM json_each(?))", (wanted,))
        return removed

    def job_state(self, job_id: int) -> JobState:
        """The job's state; cheap enough for a worker to ask between batches.

        Raises:
            JobNotFound: no job has this id.
        """
        with self._read() as c:
            return self._state(c, job_id)

    def dependencies(self, job_id: int) -> list[int]:
        """The jobs this one waits for."""
        with self._read() as c:
            self._state(c, job_id)
            rows = c.execute(
                "SELECT depends_on FROM job_deps WHERE job_id = ? ORDER BY depends_on", (job_id,)
            ).fetchall()
        return [r[0] for r in rows]

    def jobs_waiting_on(self, job_id: int) -> list[int]:
        """The jobs that depend on this one directly."""
        with self._read() as c:
            self._state(c, job_id)
            rows = c.execute(
                "SELECT job_id FROM job_deps WHERE depends_on = ? ORDER BY job_id", (job_id,)
            ).fetchall()
        return [r[0] for r in rows]

    def set_job_device(self, job_id: int, device: str | None) -> None:
        """Record the device(s) the job runs or last ran on, e.g. ``"cuda:0,cuda:1"``."""
        with self._immediate() as c:
            self._state(c, job_id)
            c.execute("UPDATE jobs SET device = ? WHERE id = ?", (device, job_id))

    # -- lifecycle -------------------------------------------------------------------

    def cancel(self, job_id: int) -> None:
        """Stop a job for good (until retried); its leases end, its points stay."""
        self.act("cancel", [job_id])

    def pause(self, job_id: int) -> None:
        """Hold a job: workers lose its leases at their next renewal and stop."""
        self.act("pause", [job_id])

    def resume(self, job_id: int) -> None:
        """Queue a paused job again."""
        self.act("resume", [job_id])

    def act(self, action: str, job_ids: Sequence[int]) -> None:
        """``cancel``, ``pause`` or ``resume`` every job of ``job_ids``, all or none: each
        is checked before the first is changed, in one transaction (a job that changed
        state meanwhile leaves them all as they were)."""
        change = {"cancel": self._cancel, "pause": self._pause, "resume": self._resume}[action]
        with self._read() as c:  # refused at once, not after waiting out another's write lock
            for job_id in job_ids:
                check_action(self._state(c, job_id), action, job_id=job_id)
        with self._immediate() as c:
            for job_id in job_ids:
                check_action(self._state(c, job_id), action, job_id=job_id)
            for job_id in job_ids:
                change(c, job_id)

    def _cancel(self, c: sqlite3.Connection, job_id: int) -> None:
        old = self._state(c, job_id)
        self._stop_run(c, job_id)
        c.execute("UPDATE jobs SET state = 'cancelled', finished = ? WHERE id = ?", (self._clock(), job_id))
        c.execute(_RELEASE_LEASES_SQL, (job_id,))
        self._event(c, job_id, "info", f"cancelled (was {old.value})")

    def _pause(self, c: sqlite3.Connection, job_id: int) -> None:
        self._stop_run(c, job_id)
        c.execute("UPDATE jobs SET state = 'paused' WHERE id = ?", (job_id,))
        c.execute(_RELEASE_LEASES_SQL, (job_id,))
        self._event(c, job_id, "info", "paused")

    def _resume(self, c: sqlite3.Connection, job_id: int) -> None:
        c.execute("UPDATE jobs SET state = 'queued' WHERE id = ?", (job_id,))
        self._event(c, job_id, "info", "resumed")

    def retry(self, job_id: int, *, spec: Mapping[str, Any] | None = None) -> None:
        """Queue a failed or cancelled job again; unfinished units start afresh, points stay.

        ``spec``: the job's spec as it is to run now (its files' digests taken again
        after a file was mended), in place of the stored one.
        """
        with self._immediate() as c:
            old = self._state(c, job_id)
            check_action(old, "retry", job_id=job_id)
            stuck = c.execute(
                "SELECT d.depends_on, j.state FROM job_deps d JOIN jobs j ON j.id = d.depends_on"
                " WHERE d.job_id = ? AND j.state IN ('failed', 'cancelled') ORDER BY d.depends_on",
                (job_id,),
            ).fetchone()
            if stuck is not None:
                raise InvalidTransition(
                    f"job {job_id} waits on job {stuck[0]}, which is {stuck[1]}; "
                    f"retry both: lstui retry {stuck[0]} {job_id}"
                )
            if spec is not None:
                c.execute(
                    "UPDATE jobs SET spec = ? WHERE id = ?",
                    (json.dumps(_spec_to_store(spec, self._home), sort_keys=True), job_id),
                )
            c.execute(
                "UPDATE jobs SET state = 'queued', error = NULL, finished = NULL WHERE id = ?",
                (job_id,),
            )
            c.execute(
                "UPDATE units SET state = 'pending', attempts = 0, lease_owner = NULL,"
                " lease_expires = NULL, last_error = NULL WHERE job_id = ? AND state != 'done'",
                (job_id,),
            )
            self._event(c, job_id, "info", f"retried (was {old.value})")

    def set_priority(self, job_id: int, priority: int) -> None:
        """Change a job's priority (higher runs first); not for done jobs."""
        with self._immediate() as c:
            check_priority_change(self._state(c, job_id), job_id=job_id)
            c.execute("UPDATE jobs SET priority = ? WHERE id = ?", (int(priority), job_id))
            self._event(c, job_id, "info", f"priority set to {int(priority)}")

    def fail_job(self, job_id: int, error: str, detail: str | None = None) -> None:
        """Mark a job failed with ``error`` (one line a person reads); ``detail`` (a
        traceback) goes before it as a debug event, in the same transaction: written only
        by the one that fails it, not by a second worker failing it too."""
        with self._immediate() as c:
            old = self._state(c, job_id)
            check_transition(old, JobState.FAILED, job_id=job_id, action="fail")
            if detail:
                self._event(c, job_id, "debug", detail)
            self._fail_job(c, job_id, old, error)

    def fail_dependants(self, job_id: int) -> list[int]:
        """Fail the queued or paused jobs that wait, directly or not, on a failed or
        cancelled job, saying ``dependency N failed: …``.

        Returns:
            The ids of the jobs failed, nearest first; empty if ``job_id`` is not
            failed or cancelled.
        """
        with self._immediate() as c:
            row = self._one(c, "SELECT state, error FROM jobs WHERE id = ?", (job_id,))
            if row is None:
                raise JobNotFound(f"job {job_id} does not exist")
            state = JobState(row["state"])
            if state is JobState.FAILED:
                reason = f"dependency {job_id} failed: {row['error'] or 'no reason given'}"
            elif state is JobState.CANCELLED:
                reason = f"dependency {job_id} was cancelled"
            else:
                return []
            failed: list[int] = []
            frontier = [(job_id, reason)]
            while frontier:
                parent, why = frontier.pop(0)
                for dep in self._rows(
                    c,
                    "SELECT j.id, j.state FROM job_deps d JOIN jobs j ON j.id = d.job_id"
                    " WHERE d.depends_on = ? ORDER BY j.id",
                    (parent,),
                ):
                    dep_state = JobState(dep["state"])
                    if dep_state in FINISHED or not can_transition(dep_state, JobState.FAILED):
                        continue
                    self._fail_job(c, dep["id"], dep_state, why)
                    failed.append(dep["id"])
                    frontier.append((dep["id"], f"dependency {dep['id']} failed: {why}"))
            return failed

    # -- units -----------------------------------------------------------------------

    def claim_unit(
        self,
        worker_id: int,
        lease_s: float,
        *,
        job_ids: Iterable[int] | None = None,
        max_attempts: int = 3,
    ) -> UnitClaim | None:
        """Lease the next unit to run to ``worker_id`` for ``lease_s`` seconds.

        Expired leases go back to pending first (failing a job whose unit has lost
        its worker ``max_attempts`` times). The next unit is the first pending unit,
        in ``seq`` order, of the queued or running job with every dependency done and
        the highest priority, then a running one, then the oldest. A queued job becomes
        running.

        Args:
            worker_id: the claiming worker (see :meth:`register_worker`).
            lease_s: lease length; renew with :meth:`renew_lease` well before it ends.
            job_ids: only consider these jobs.
            max_attempts: how often a unit may be claimed before its job fails.

        Returns:
            The claim, or None when nothing is claimable.
        """
        ids = None if job_ids is None else json.dumps(sorted({int(j) for j in job_ids}))
        with self._immediate() as c:
            now = self._clock()
            self._requeue(
                c,
                "state = 'leased' AND lease_expires < ?",
                (self._lease_cutoff(),),
                max_attempts,
                LEASE_EXPIRED,
            )
            row = self._one(
                c,
                _CLAIM_SQL,
                {
                    "worker": worker_id,
                    "expires": now + lease_s,
                    "any_job": ids is None,
                    "job_ids": ids or "[]",
                },
            )
            if row is None:
                return None
            job_id = row["job_id"]
            job = self._one(
                c,
                "SELECT kind, spec, state, results_dir, device FROM jobs WHERE id = ?",
                (job_id,),
            )
            assert job is not None
            if job["state"] == JobState.QUEUED.value:
                check_transition(JobState.QUEUED, JobState.RUNNING, job_id=job_id)
                c.execute(
                    "UPDATE jobs SET state = 'running', started = coalesce(started, ?),"
                    " run_since = ?, attempts = attempts + 1, pace_marks = NULL WHERE id = ?",
                    (now, now, job_id),
                )
                self._event(c, job_id, "info", f"started by worker {worker_id}")
            # a running job this worker (and every other) has left for this one waits again
            self._queue_unheld(c, f"queued again: its workers went to job {job_id}", but=job_id)
            worker = c.execute("SELECT device FROM workers WHERE id = ?", (worker_id,)).fetchone()
            if worker is not None:
                devices = set(filter(None, (job["device"] or "").split(",")))
                if worker[0] not in devices:
                    devices.add(worker[0])
                    c.execute(
                        "UPDATE jobs SET device = ? WHERE id = ?",
                        (",".join(sorted(devices)), job_id),
                    )
            todo = [
                r[0]
                for r in c.execute(
                    "SELECT value FROM json_each(?) WHERE value NOT IN"
                    " (SELECT idx FROM points WHERE job_id = ?) ORDER BY key",
                    (row["indices"], job_id),
                )
            ]
        return UnitClaim(
            unit_id=row["id"],
            job_id=job_id,
            seq=row["seq"],
            indices=tuple(json.loads(row["indices"])),
            todo=tuple(todo),
            attempts=row["attempts"],
            lease_expires=row["lease_expires"],
            kind=job["kind"],
            spec=_spec_in_home(json.loads(job["spec"]), self._home),
            results_dir=_results_path(job["results_dir"], self._home),
        )

    def renew_lease(self, unit_id: int, worker_id: int, lease_s: float) -> bool:
        """Extend a lease; False when it is lost (job paused, cancelled, failed, or the
        unit taken over), and the worker should stop this unit."""
        with self._immediate() as c:
            cur = c.execute(
                "UPDATE units SET lease_expires = ?"
                " WHERE id = ? AND state = 'leased' AND lease_owner = ?"
                f" AND job_id IN (SELECT id FROM jobs WHERE state IN {_ACTIVE_SQL})",
                (self._clock() + lease_s, unit_id, worker_id),
            )
            return cur.rowcount == 1

    def write_points(self, unit_id: int, worker_id: int, rows: Sequence[PointRow]) -> int:
        """Store evaluated points of a unit; call as often as useful (partial progress).

        A point already stored is left as it is, so a unit computed twice (lease lost,
        worker restarted) still yields one row per point. Points are kept even when the
        worker no longer holds the lease; values are deterministic. NaN is stored as NULL.

        Returns:
            How many points were new.

        A unit that no longer exists (its job removed) takes nothing: 0. Unit ids are
        never given again, so its points cannot land in another job.

        Raises:
            ValueError: an index is not one of the unit's points.
        """
        now = self._clock()
        with self._immediate() as c:
            unit = c.execute(
                "SELECT job_id, indices FROM units WHERE id = ?", (unit_id,)
            ).fetchone()
            if unit is None:  # its job was removed (lstui rm) while the point was computed
                return 0
            job_id, indices = unit[0], set(json.loads(unit[1]))
            stray = [r.idx for r in rows if r.idx not in indices]
            if stray:
                raise ValueError(f"point {stray[0]} is not part of unit {unit_id}")
            before = c.total_changes
            c.executemany(
                "INSERT OR IGNORE INTO points (job_id, idx, train_loss, train_acc, test_loss,"
                " test_acc, unit_id, worker, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        job_id,
                        int(r.idx),
                        _real(r.train_loss),
                        _real(r.train_acc),
                        _real(r.test_loss),
                        _real(r.test_acc),
                        unit_id,
                        worker_id,
                        now,
                    )
                    for r in rows
                ],
            )
            added = c.total_changes - before
            if added:
                c.execute(
                    "UPDATE jobs SET done_points = done_points + ? WHERE id = ?", (added, job_id)
                )
                self._move_pace(c, job_id, now)
            return added

    def complete_unit(self, unit_id: int, worker_id: int) -> bool:
        """Mark a unit done; the last one done makes its job done in the same transaction.

        Returns:
            False when the worker no longer holds the lease (the unit is left alone).

        Raises:
            ValueError: some of the unit's points are not stored.
        """
        with self._immediate() as c:
            unit = self._one(
                c,
                "SELECT job_id, indices, state, lease_owner FROM units WHERE id = ?",
                (unit_id,),
            )
            if unit is None or unit["state"] != "leased" or unit["lease_owner"] != worker_id:
                return False
            job_id = unit["job_id"]
            missing = c.execute(
                "SELECT count(*) FROM json_each(?) WHERE value NOT IN"
                " (SELECT idx FROM points WHERE job_id = ?)",
                (unit["indices"], job_id),
            ).fetchone()[0]
            if missing:
                raise ValueError(
                    f"unit {unit_id} of job {job_id} lacks {missing} points; cannot complete it"
                )
            c.execute(
                "UPDATE units SET state = 'done', lease_owner = NULL, lease_expires = NULL"
                " WHERE id = ?",
                (unit_id,),
            )
            left = c.execute(
                "SELECT count(*) FROM units WHERE job_id = ? AND state != 'done'", (job_id,)
            ).fetchone()[0]
            if left == 0:
                state = self._state(c, job_id)
                if state is JobState.QUEUED:
                    state = check_transition(state, JobState.RUNNING, job_id=job_id)
                check_transition(state, JobState.DONE, job_id=job_id)
                self._stop_run(c, job_id)
                c.execute(
                    "UPDATE jobs SET state = 'done', finished = ?, error = NULL WHERE id = ?",
                    (self._clock(), job_id),
                )
                self._event(c, job_id, "info", "done")
            return True

    def release_unit(self, unit_id: int, worker_id: int, *, leaving: bool = False) -> bool:
        """Give a leased unit back untouched (shutdown, job paused); the attempt does
        not count against it. False when the worker did not hold it.

        ``leaving``: the worker ends with it (what computed its points is gone: a lost
        Ray cluster); its job goes back to queued when no worker holds a unit of it now,
        as when its workers die, rather than stay "running" with nobody computing it.
        """
        with self._immediate() as c:
            row = c.execute("SELECT job_id FROM units WHERE id = ?", (unit_id,)).fetchone() if leaving else None
            cur = c.execute(
                "UPDATE units SET state = 'pending', lease_owner = NULL, lease_expires = NULL,"
                " attempts = max(attempts - 1, 0)"
                " WHERE id = ? AND state = 'leased' AND lease_owner = ?",
                (unit_id, worker_id),
            )
            if row is not None:
                self._queue_unheld(c, "requeued: no worker holds it", only=row[0])
            return cur.rowcount == 1

    def release_stopped_worker(self, worker_id: int, why: str,
                               requeued: str | None = "queued again: the daemon stopped", *,
                               counted: bool = False) -> int:
        """A worker the daemon stopped in the middle of a point (``lstui daemon stop``
        waited for it no longer, or its job stopped long before): its units go back
        untouched, the attempt not counted against them (nothing in them failed; with
        ``counted``, a worker that hung in them, it is), it is retired, and each job's log
        says ``why``; a running job no worker holds now is queued again, its log saying
        ``requeued`` (None: none is, the worker's job having stopped). Returns how many
        units went back."""
        with self._immediate() as c:
            held = self._rows(
                c,
                "SELECT id, job_id, seq FROM units WHERE state = 'leased' AND lease_owner = ?"
                " ORDER BY job_id, seq",
                (worker_id,),
            )
            for u in held:
                c.execute(
                    "UPDATE units SET state = 'pending', lease_owner = NULL, lease_expires = NULL,"
                    " attempts = max(attempts - ?, 0) WHERE id = ?",
                    (0 if counted else 1, u["id"]),
                )
                self._event(c, u["job_id"], "warning", f"unit {u['seq']} back: {why}")
            c.execute(
                "UPDATE workers SET state = 'retired', current_job = NULL WHERE id = ?", (worker_id,)
            )
            if requeued is not None:
                self._queue_unheld(c, requeued)
            return len(held)

    def fail_unit(self, unit_id: int, worker_id: int, error: str, *, max_attempts: int = 3) -> bool:
        """Record that computing a unit raised ``error``.

        The unit goes back to pending, unless it has been tried ``max_attempts`` times:
        then the job fails with the error and its other units are not claimed.

        Returns:
            Whether the job failed. False also when the worker did not hold the lease
            (nothing is recorded then).
        """
        with self._immediate() as c:
            unit = self._one(
                c,
                "SELECT job_id, seq, state, lease_owner, attempts FROM units WHERE id = ?",
                (unit_id,),
            )
            if unit is None or unit["state"] != "leased" or unit["lease_owner"] != worker_id:
                return False
            job_id, seq, attempts = unit["job_id"], unit["seq"], unit["attempts"]
            if attempts >= max_attempts:
                self._stop_run(c, job_id)  # while its worker's lease still says it computed
                c.execute(
                    "UPDATE units SET state = 'failed', lease_owner = NULL, lease_expires = NULL,"
                    " last_error = ? WHERE id = ?",
                    (error, unit_id),
                )
                self._fail_job(
                    c,
                    job_id,
                    self._state(c, job_id),
                    f"unit {seq} failed {attempts} times: {error}",
                )
                return True
            c.execute(
                "UPDATE units SET state = 'pending', lease_owner = NULL, lease_expires = NULL,"
                " last_error = ? WHERE id = ?",
                (error, unit_id),
            )
            self._event(
                c,
                job_id,
                "warning",
                f"unit {seq} failed on worker {worker_id} (attempt {attempts} of "
                f"{max_attempts}): {error}",
            )
            return False

    def requeue_expired(self, *, max_attempts: int = 3) -> int:
        """Put units whose lease has expired back to pending (the claim does this too).

        Returns:
            How many units were taken back.
        """
        with self._immediate() as c:
            return self._requeue(
                c,
                "state = 'leased' AND lease_expires < ?",
                (self._lease_cutoff(),),
                max_attempts,
                LEASE_EXPIRED,
            )

    def _lease_cutoff(self) -> float:
        """The time before which a lease has expired: now; or, for :data:`LOCK_GRACE_S`
        after this store waited out another process's hold of the database, as long
        before now as that hold lasted, and :data:`LOCK_GRACE_S` more (the holders'
        renewals waited as long: a 60 s hold still took units with a flat grace).
        Called inside the write transaction, after its own wait."""
        seen = self._lock_seen
        if seen is not None and time.monotonic() - seen[1] < LOCK_GRACE_S:
            return self._clock() - (seen[1] - seen[0]) - LOCK_GRACE_S
        return self._clock()

    def recover_orphans(self, live_worker_ids: Iterable[int], *, max_attempts: int = 3) -> int:
        """After workers died (or the daemon restarted): units leased by any worker not
        in ``live_worker_ids`` go back to pending, and running jobs that no worker
        holds a unit of go back to queued. A unit that has lost its worker
        ``max_attempts`` times fails its job instead, saying so.

        Returns:
            How many units were taken back.
        """
        live = json.dumps(sorted({int(w) for w in live_worker_ids}))
        return self._recover_where(
            "state = 'leased' AND lease_owner NOT IN (SELECT value FROM json_each(?))",
            (live,),
            max_attempts,
        )

    def recover_workers(self, dead_worker_ids: Iterable[int], *, max_attempts: int = 3,
                        why: str = WORKER_DIED) -> int:
        """Units leased by the named dead workers (or by retired ones) go back to pending.

        Unlike :meth:`recover_orphans` this names the dead, so a worker that registers
        while the caller looks is never mistaken for one. Running jobs that no worker
        holds a unit of go back to queued; a unit that has lost its worker
        ``max_attempts`` times fails its job. Returns how many units were taken back.
        ``why``: how they died, as the units' and jobs' logs say it (the daemon knows a
        worker's exit status: "its worker died: it exited with 7").
        """
        dead = json.dumps(sorted({int(w) for w in dead_worker_ids}))
        return self._recover_where(
            "state = 'leased' AND (lease_owner IN (SELECT value FROM json_each(?))"
            " OR lease_owner IN (SELECT id FROM workers WHERE state = 'retired'))",
            (dead,),
            max_attempts,
            why,
        )

    def _recover_where(self, where: str, params: tuple[Any, ...], max_attempts: int,
                       why: str = WORKER_DIED) -> int:
        with self._immediate() as c:
            n = self._requeue(c, where, params, max_attempts, why)
            self._queue_unheld(c, "requeued: no worker holds it")
            return n

    def _queue_unheld(
        self, c: sqlite3.Connection, why: str, *, but: int | None = None, only: int | None = None
    ) -> None:
        """Running jobs (other than ``but``; ``only``: that one alone) of which no worker
        holds a unit go back to queued: their workers died, or left them for a job of
        higher priority. Their run ends at their last stored point, and a worker that
        claims them starts the next."""
        for (job_id,) in c.execute(
            "SELECT id FROM jobs j WHERE state = 'running' AND id IS NOT ? AND (? IS NULL OR id = ?)"
            " AND NOT EXISTS (SELECT 1 FROM units u WHERE u.job_id = j.id AND u.state = 'leased')",
            (but, only, only),
        ).fetchall():
            check_transition(JobState.RUNNING, JobState.QUEUED, job_id=job_id)
            self._stop_run(c, job_id, ended_at_last_point=True)
            c.execute("UPDATE jobs SET state = 'queued' WHERE id = ?", (job_id,))
            self._event(c, job_id, "info", why)

    def units(self, job_id: int) -> list[UnitRow]:
        """A job's units in ``seq`` order."""
        with self._read() as c:
            self._state(c, job_id)
            rows = self._rows(c, "SELECT * FROM units WHERE job_id = ? ORDER BY seq", (job_id,))
        return [
            UnitRow(
                id=r["id"],
                job_id=r["job_id"],
                seq=r["seq"],
                indices=tuple(json.loads(r["indices"])),
                state=r["state"],
                lease_owner=r["lease_owner"],
                lease_expires=r["lease_expires"],
                attempts=r["attempts"],
                last_error=r["last_error"],
            )
            for r in rows
        ]

    # -- points ----------------------------------------------------------------------

    def points(self, job_id: int) -> list[PointRow]:
        """Every stored point of a job, by index."""
        with self._read() as c:
            rows = c.execute(
                "SELECT idx, train_loss, train_acc, test_loss, test_acc FROM points"
                " WHERE job_id = ? ORDER BY idx",
                (job_id,),
            ).fetchall()
        return [PointRow(*r) for r in rows]

    def point_count(self, job_id: int) -> int:
        """How many points of a job are stored."""
        with self._read() as c:
            return int(
                c.execute("SELECT count(*) FROM points WHERE job_id = ?", (job_id,)).fetchone()[0]
            )

    def diverged_count(self, job_id: int, splits: Sequence[str]) -> int:
        """How many stored points of a job have a NaN (stored as NULL) or infinite loss on
        any of ``splits`` (``train``, ``test``), counted in SQLite, not in Python."""
        unknown = [s for s in splits if s not in ("train", "test")]
        if unknown or not splits:
            raise ValueError(f"splits are train and test, got {list(splits)}")
        bad = " OR ".join(f"{s}_loss IS NULL OR abs({s}_loss) > 1.7e308" for s in dict.fromkeys(splits))
        with self._read() as c:
            return int(c.execute(
                f"SELECT count(*) FROM points WHERE job_id = ? AND ({bad})", (job_id,)
            ).fetchone()[0])

    def points_since(self, job_id: int, after_rowid: int = 0) -> tuple[list[PointRow], int]:
        """Points stored after a previous call, for previews that update in place.

        Returns:
            The new points in the order they were stored, and the cursor to pass next
            time (``after_rowid`` itself when nothing is new).
        """
        with self._read() as c:
            rows = c.execute(
                "SELECT rowid, idx, train_loss, train_acc, test_loss, test_acc FROM points"
                " WHERE job_id = ? AND rowid > ? ORDER BY rowid",
                (job_id, after_rowid),
            ).fetchall()
        last = rows[-1][0] if rows else after_rowid
        return [PointRow(*r[1:]) for r in rows], int(last)

    # -- events ----------------------------------------------------------------------

    def add_event(self, job_id: int | None, level: str, message: str) -> int:
        """Append a line to a job's history (``job_id`` None: the daemon's)."""
        with self._immediate() as c:
            if job_id is not None:
                self._state(c, job_id)
            return self._event(c, job_id, level, message)

    def events(
        self, job_id: int | None = None, after_id: int = 0, limit: int | None = None
    ) -> list[Event]:
        """Events in order; of one job, or of all (``job_id`` None); newer than ``after_id``."""
        sql = "SELECT id, job_id, ts, level, message FROM events WHERE id > ?"
        params: list[Any] = [after_id]
        if job_id is not None:
            sql += " AND job_id = ?"
            params.append(job_id)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._read() as c:
            rows = c.execute(sql, params).fetchall()
        return [Event(*r) for r in rows]

    def space(self) -> tuple[int, int]:
        """``(bytes, free)``: the database file's size, and how much of it is free pages (of
        jobs removed), which new jobs reuse but the disk does not get back (:meth:`compact`)."""
        with self._read() as c:
            page = int(c.execute("PRAGMA page_size").fetchone()[0])
            pages = int(c.execute("PRAGMA page_count").fetchone()[0])
            free = int(c.execute("PRAGMA freelist_count").fetchone()[0])
        return pages * page, free * page

    def compact(self) -> tuple[int, bool]:
        """Give the free pages back to the disk (SQLite's ``VACUUM``: the file is written
        again, which needs as much space free as it holds, and holds the write lock while it
        runs); returns the bytes given back, and whether the file keeps its size on the
        disk until another connection reading it (the TUI) lets go: the new pages wait in
        the WAL until it can be checkpointed, which a reader holds back."""
        self._refuse_write()
        before, _ = self.space()
        with self._lock:
            try:
                self._conn.execute("VACUUM")
                busy = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            except sqlite3.OperationalError as exc:
                raise self._store_error(exc) from exc
        return before - self.space()[0], bool(busy)

    def check_pages(self) -> None:
        """SQLite's ``quick_check`` of every page (0.08 s for 40 MB): a long-lived writer
        (the daemon) refuses to start on a damaged file, where a write could spread the
        damage, rather than find it later in the middle of a job.

        Raises:
            DatabaseDamaged: in one line, naming the first problem found.
        """
        with self._read() as c:
            found = [str(row[0]) for row in c.execute("PRAGMA quick_check(3)").fetchall()]
        if found != ["ok"]:
            lines = [line.strip() for row in found for line in row.splitlines()]
            said = [line for line in lines if line and not line.startswith("***")]  # "*** in database main ***"
            self._raise_damaged(sqlite3.DatabaseError(said[0] if said else "quick_check found damage"))

    def jobs_version(self) -> int:
        """A count that grows with every change to a job's row (queued, claimed, a point
        stored, finished, removed), by any connection, and with nothing else: a worker's
        heartbeat or lease leaves it alone. Equal counts: the jobs read before are the
        jobs now."""
        with self._read() as c:
            return int(c.execute("SELECT n FROM jobs_version WHERE id = 1").fetchone()[0])

    def daemon_events(self, since: float) -> list[Event]:
        """The daemon's and its workers' own lines (of no job) since ``since`` (unix
        time), in order."""
        with self._read() as c:
            rows = c.execute(
                "SELECT id, job_id, ts, level, message FROM events"
                " WHERE job_id IS NULL AND ts >= ? ORDER BY id",
                (since,),
            ).fetchall()
        return [Event(*r) for r in rows]

    # -- workers ---------------------------------------------------------------------

    def register_worker(self, device: str, pid: int, host: str) -> int:
        """Record a new worker process; returns its id (used as lease owner)."""
        now = self._clock()
        with self._immediate() as c:
            cur = c.execute(
                "INSERT INTO workers (device, pid, host, started, heartbeat, state)"
                " VALUES (?, ?, ?, ?, ?, 'alive')",
                (device, int(pid), host, now, now),
            )
            return int(cur.lastrowid or 0)

    def heartbeat(self, worker_id: int, current_job: int | None = None) -> None:
        """Say the worker is alive and what it works on."""
        with self._immediate() as c:
            c.execute(
                "UPDATE workers SET heartbeat = ?, current_job = ? WHERE id = ?",
                (self._clock(), current_job, worker_id),
            )

    def retire_worker(self, worker_id: int) -> None:
        """Mark a worker as gone (clean exit, or found dead)."""
        with self._immediate() as c:
            c.execute(
                "UPDATE workers SET state = 'retired', current_job = NULL WHERE id = ?",
                (worker_id,),
            )

    def workers(self, alive_within_s: float | None = None) -> list[WorkerRow]:
        """Registered workers; with ``alive_within_s``, only unretired ones whose last
        heartbeat is that recent."""
        sql = "SELECT id, device, pid, host, started, heartbeat, state, current_job FROM workers"
        params: tuple[Any, ...] = ()
        if alive_within_s is not None:
            sql += " WHERE state = 'alive' AND heartbeat >= ?"
            params = (self._clock() - alive_within_s,)
        with self._read() as c:
            rows = c.execute(sql + " ORDER BY id", params).fetchall()
        return [WorkerRow(*r) for r in rows]

    # -- meta ------------------------------------------------------------------------

    def set_meta(self, key: str, value: str) -> None:
        """Remember a daemon fact (its pid, start time, device list …)."""
        with self._immediate() as c:
            c.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, str(value)),
            )

    def get_meta(self, key: str) -> str | None:
        """A daemon fact, or None."""
        with self._read() as c:
            row = c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    # -- helpers (run inside a transaction) -----------------------------------------

    def _state(self, c: sqlite3.Connection, job_id: int) -> JobState:
        row = c.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(f"job {job_id} does not exist")
        return JobState(row[0])

    def _event(self, c: sqlite3.Connection, job_id: int | None, level: str, message: str) -> int:
        if level not in EVENT_LEVELS:
            raise ValueError(f"event level {level!r} is not one of {sorted(EVENT_LEVELS)}")
        cur = c.execute(
            "INSERT INTO events (job_id, ts, level, message) VALUES (?, ?, ?, ?)",
            (job_id, self._clock(), level, message),
        )
        return int(cur.lastrowid or 0)

    def _move_pace(self, c: sqlite3.Connection, job_id: int, now: float) -> None:
        """Keep the moment the job's current rate is measured from (the first of its
        ``pace_marks``) a minute back, :data:`PACE_WINDOW_S`, moved in steps of a quarter
        of it: the rate then follows the job as it runs now (a second device joined,
        the compile at the start is over), not the average of its whole run, and does
        not jump when its window moves. The run's first stored points are its first
        moment: the time its worker took to get ready is in no window."""
        row = c.execute(
            "SELECT pace_marks, done_points FROM jobs WHERE id = ? AND run_since IS NOT NULL",
            (job_id,),
        ).fetchone()
        if row is None:
            return
        marks: list[list[float]] = json.loads(row[0]) if row[0] else []
        done = int(row[1])
        if not marks or now - marks[-1][0] >= PACE_WINDOW_S / 4:
            marks.append([now, done])
        while len(marks) > 1 and now - marks[1][0] >= PACE_WINDOW_S:
            marks.pop(0)  # the next one is a window old: measure from it
        c.execute(
            "UPDATE jobs SET pace_marks = ? WHERE id = ?", (json.dumps(marks), job_id),
        )

    def _stop_run(
        self, c: sqlite3.Connection, job_id: int, *, ended_at_last_point: bool = False
    ) -> None:
        """Add the job's current run, if it runs, to its running time.

        ``ended_at_last_point``: its workers died, so the run ended when its last point
        was stored (or, with none stored in this run, when it began), not now: a daemon
        restarted hours after a crash does not count the hours. So it is too when no
        worker holds a live lease of the job now (a job cancelled while its daemon is
        dead). Call this before the job's leases are released.
        """
        row = c.execute("SELECT run_since FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None or row[0] is None:
            return
        since = float(row[0])
        end = self._clock()
        if not ended_at_last_point:
            held = c.execute(
                "SELECT 1 FROM units WHERE job_id = ? AND state = 'leased' AND lease_expires >= ?",
                (job_id, end),
            ).fetchone()
            ended_at_last_point = held is None
        if ended_at_last_point:
            last = c.execute(
                "SELECT max(created) FROM points WHERE job_id = ?", (job_id,)
            ).fetchone()[0]
            end = min(end, max(since, float(last))) if last is not None else since
        c.execute(
            "UPDATE jobs SET run_s = coalesce(run_s, 0) + ?, run_since = NULL WHERE id = ?",
            (max(0.0, end - since), job_id),
        )

    def _fail_job(self, c: sqlite3.Connection, job_id: int, old: JobState, error: str) -> None:
        check_transition(old, JobState.FAILED, job_id=job_id, action="fail")
        self._stop_run(c, job_id)
        c.execute(
            "UPDATE jobs SET state = 'failed', error = ?, finished = ? WHERE id = ?",
            (error, self._clock(), job_id),
        )
        c.execute(_RELEASE_LEASES_SQL, (job_id,))
        self._event(c, job_id, "error", f"failed: {error}")

    def _requeue(
        self,
        c: sqlite3.Connection,
        where: str,
        params: Sequence[Any],
        max_attempts: int,
        why: str,
    ) -> int:
        """Take back leased units matching ``where``; fail jobs of units tried too often."""
        lost = self._rows(
            c,
            f"SELECT id, job_id, seq, attempts, lease_owner FROM units WHERE {where}"
            " ORDER BY job_id, seq",
            params,
        )
        for u in lost:
            reason = f"{why} (worker {u['lease_owner']})"
            if u["attempts"] < max_attempts:
                c.execute(
                    "UPDATE units SET state = 'pending', lease_owner = NULL,"
                    " lease_expires = NULL, last_error = ? WHERE id = ?",
                    (reason, u["id"]),
                )
                self._event(c, u["job_id"], "warning", f"unit {u['seq']} requeued: {reason}")
                continue
            c.execute(
                "UPDATE units SET state = 'failed', lease_owner = NULL, lease_expires = NULL,"
                " last_error = ? WHERE id = ?",
                (reason, u["id"]),
            )
            state = self._state(c, u["job_id"])
            if can_transition(state, JobState.FAILED):
                self._fail_job(
                    c,
                    u["job_id"],
                    state,
                    f"unit {u['seq']} lost its worker {u['attempts']} times, last because "
                    f"{reason}; "
                    # a lease runs out on a worker that hangs or is stopped, or one that
                    # another process's long hold of the database kept from renewing it
                    + ("the worker hung or was stopped, or another process held the database "
                       "that long" if why == LEASE_EXPIRED else "it may be crashing the worker")
                    # a process killed (SIGKILL: the kernel's OOM killer), or gone we know not how
                    + (" (out of memory?)" if why == WORKER_DIED or "signal 9" in why else ""),
                )
        return len(lost)


def _create_private(path: Path) -> None:
    """Create the database's folder (0700) and an empty file (0600) if missing."""
    try:
        path.parent.mkdir(parents=True, mode=0o700)
    except FileExistsError:
        pass
    else:
        os.chmod(path.parent, 0o700)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)
    os.chmod(path, 0o600)


def _wal_file(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def _wal_has_frames(path: Path) -> bool:
    """Whether the database ``path`` has a WAL holding commits (an empty one, left by an
    open that could not go on, holds none: the file alone is the whole database)."""
    try:
        return _wal_file(path).stat().st_size > 0
    except OSError:
        return False


FULL_BELOW = 256 * 2**10
"""Bytes free under which a home's file system counts as full (the WAL's shared-memory
file alone takes 32 KiB)."""


def free_bytes(folder: Path) -> int | None:
    """Bytes free to this user on ``folder``'s file system; None when it cannot be asked."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def _full_disk_error(exc: sqlite3.DatabaseError, path: Path) -> bool:
    """Whether ``exc`` is SQLite failing to write for want of space (the shared-memory
    file of a home whose file system is full: SQLITE_IOERR_SHMSIZE, "disk I/O error")."""
    text = str(exc).lower()
    free = free_bytes(path.parent)
    return ("disk i/o error" in text or "disk is full" in text) and free is not None and free < FULL_BELOW


def _unwritable(path: Path) -> tuple[str, str] | None:
    """Why this process cannot write the database ``path`` and the journal files beside
    it, and what would help; None when it can (as far as permissions and mounts say)."""
    folder = path.parent
    try:
        read_only_mount = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return None
    if read_only_mount:  # (before "full": squashfs and iso9660 say 0 bytes free)
        return (
            f"its folder {folder} is on a read-only file system",
            "remount it read-write, or use a writable home (--home)",
        )
    free = free_bytes(folder)
    if free is not None and free < FULL_BELOW:
        return (
            f"its file system is full ({free // 2**10} KiB free under {folder})",
            "free some space (a running daemon and its workers wait for it)",
        )
    helps = "check the permissions, or use a writable home (--home)"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"its folder {folder} is not writable by this user", helps
    if path.exists() and not os.access(path, os.R_OK):
        return "the file is not readable by this user", helps
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is not writable by this user", helps
    return None


def _check_units(units: list[list[int]], total_points: int) -> None:
    if total_points < 0:
        raise ValueError(f"total_points must be ≥ 0, not {total_points}")
    seen = bytearray(total_points)
    for seq, unit in enumerate(units):
        if not unit:
            raise ValueError(f"unit {seq} is empty")
        for idx in unit:
            if not 0 <= idx < total_points:
                raise ValueError(f"unit {seq} holds point {idx}, outside 0…{total_points - 1}")
            if seen[idx]:
                raise ValueError(f"point {idx} is in more than one unit")
            seen[idx] = 1
    if total_points and not all(seen):
        raise ValueError(f"point {seen.index(0)} is in no unit")


def _fresh_folder(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``, … when a folder of that name is there already:
    a job of a database that was moved aside, emptied or lost, whose ids start again at
    1. Its files are not written over by a new job's."""
    n = 1
    candidate = path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _real(value: float | None) -> float | None:
    return None if value is None else float(value)


def _results_path(value: str, home: Path) -> Path:
    """A job's results folder as stored: relative to its home (since schema 6), or an
    absolute path (a folder outside the home, made by a caller of :meth:`Store.add_job`)."""
    path = Path(value)
    return path if path.is_absolute() else home / path


def file_schema_version(path: Path) -> int | None:
    """The schema of the database file at ``path``, read without changing it or waiting
    for a writer; None where it cannot be read (missing, damaged, not a database)."""
    try:
        conn = sqlite3.connect(f"file:{urllib.parse.quote(str(path))}?mode=ro", uri=True, timeout=1)
    except sqlite3.Error:
        return None
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def _spec_to_store(spec: Mapping[str, Any], home: Path) -> dict[str, Any]:
    """``spec`` as stored: a trajectory's PCA plane, lstui's own file under the home's
    ``trajectories/``, relative to the home (as results folders: a home moved or copied
    reads its own)."""
    out = dict(spec)
    plane = out.get("dir_file")
    if out.get("kind") == "trajectory" and isinstance(plane, str) and Path(plane).is_absolute():
        path = Path(plane)
        if path.is_relative_to(home / "trajectories"):
            out["dir_file"] = str(path.relative_to(home))
    return out


def _spec_in_home(spec: dict[str, Any], home: Path) -> dict[str, Any]:
    """A stored spec as jobs read it: a relative plane (:func:`_spec_to_store`) under ``home``."""
    plane = spec.get("dir_file")
    if spec.get("kind") == "trajectory" and isinstance(plane, str) and plane and not Path(plane).is_absolute():
        spec["dir_file"] = str(home / plane)
    return spec


def _job_row(r: sqlite3.Row, home: Path) -> JobRow:
    deps = r["deps"]
    return JobRow(
        id=r["id"],
        name=r["name"],
        kind=r["kind"],
        spec=_spec_in_home(json.loads(r["spec"]), home),
        state=JobState(r["state"]),
        priority=r["priority"],
        created=r["created"],
        started=r["started"],
        finished=r["finished"],
        attempts=r["attempts"],
        error=r["error"],
        results_dir=_results_path(r["results_dir"], home),
        total_points=r["total_points"],
        done_points=r["done_points"],
        device=r["device"],
        depends_on=tuple(sorted(int(d) for d in deps.split(","))) if deps else (),
        run_s=_real(r["run_s"]),
        run_since=_real(r["run_since"]),
        last_point=_real(r["last_point"]),
        pace_since=_real(r["pace_ts"]) if r["run_since"] is not None else None,
        pace_done=r["pace_done"] if r["run_since"] is not None else None,
    )
