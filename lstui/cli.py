"""The ``lstui`` command line: parse flags → JobSpec → run, store or plots.

Heavy modules (torch, matplotlib, textual) are imported inside the commands that need
them, so ``lstui ls`` answers quickly.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import os
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from lstui import __version__
from lstui.errors import BadInput, DaemonError, DatabaseLocked, LstuiError, SpecError
from lstui.landscape.grid import parse_axis
from lstui.landscape.options import (
    BN_MODES,
    COMPILE_MODES,
    DIR_TYPES,
    IGNORES,
    LOSSES,
    NORMS,
    ORIGINS,
    PRECISIONS,
    PROJECTIONS,
    SPLITS,
    TRITON_MODES,
)
from lstui.spec import (
    BUILTIN_MODELS,
    INTERP_X,
    REFERENCE_ONLY,
    SURF_NAMES,
    UNUSED_KEYS,
    JobSpec,
    kind_defaults,
    refuse_unused,
)

if TYPE_CHECKING:
    from lstui.scheduler.daemon import DaemonStatus
    from lstui.scheduler.trajectory import TrajectoryPlane
    from lstui.store import Event, JobRow, Store


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"lstui: error: {message}", err=True)
    sys.exit(code)


class _Folder(click.Path):
    """A folder to write into; an empty one refused (``Path("")`` is the current folder,
    which then got a job's files among the person's own)."""

    def __init__(self) -> None:
        super().__init__(file_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("is empty; give a folder", param, ctx)
        return super().convert(value, param, ctx)


def job_options(default_x: str | None, kind: str = "surface") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The flags shared by ``run`` and ``submit`` (names follow the reference's), with
    ``kind``'s defaults; those ``kind`` does not use are left out of its help (given,
    they are refused saying why: :data:`lstui.spec.UNUSED_KEYS`)."""
    unused = set(UNUSED_KEYS.get(kind, {})) | ({"y"} if kind == "interp" else set())
    default_dir_type = kind_defaults(kind).get("dir_type", "weights")

    def hide(name: str) -> bool:
        return name in unused

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        options = [
            click.option("--model", default="cnn", show_default=True,
                         help=f"a built-in name ({', '.join(BUILTIN_MODELS)}), torchvision:NAME or pkg.module:factory"),
            click.option("--checkpoint", "--model-file", "checkpoint", default=None,
                         help="checkpoint A: x = 0" if kind == "interp" else "checkpoint of the centre model",
                         hidden=hide("checkpoint")),
            click.option("--data", default="digits", show_default=True, help="digits, cifar10:PATH, cifar100:PATH, imagefolder:PATH or pkg.module:factory"),
            click.option("--x", "x", default=default_x, show_default=True, help="x grid MIN:MAX:NUM"),
            click.option("--y", "y", default=None, help="y grid MIN:MAX:NUM (2D surface)", hidden=hide("y")),
            click.option("--norm", "--xnorm", "norm", default="filter", show_default=True, type=click.Choice(NORMS),
                         hidden=hide("norm")),
            click.option("--ignore", "--xignore", "ignore", default="biasbn", show_default=True, type=click.Choice(IGNORES),
                         hidden=hide("ignore")),
            click.option("--ynorm", "ynorm", default=None, type=click.Choice(NORMS), hidden=hide("norm"),
                         help="the reference's --ynorm: accepted only when it equals --norm (both directions alike)"),
            click.option("--yignore", "yignore", default=None, type=click.Choice(IGNORES), hidden=hide("ignore"),
                         help="the reference's --yignore: accepted only when it equals --ignore"),
            click.option("--dir-type", default=default_dir_type, show_default=True, type=click.Choice(DIR_TYPES)),
            click.option("--target", "--model-file2", "target", default=None, help="checkpoint: x direction towards it",
                         hidden=hide("target")),
            click.option("--target-y", "--model-file3", "target_y", default=None, help="checkpoint: y direction towards it",
                         hidden=hide("target_y")),
            click.option("--dir-file", default=None, hidden=hide("dir_file"),
                         help="project the path on this direction file's two directions, not on a PCA of "
                              "its own (another run's plane; the reference's too)" if kind == "trajectory"
                              else "reuse a direction file (the reference's too)"),
            click.option("--split", default="train", show_default=True, type=click.Choice(SPLITS)),
            click.option("--loss", "--loss-name", "loss", default="ce", show_default=True, type=click.Choice(LOSSES),
                         help="ce: cross-entropy; mse: the reference's, the softmax of the logits against "
                              "one-hot classes (a classifier's, not a regression loss)"),
            click.option("--subset", default=None, help="a count or fraction of the train split (seeded); the test split is cut to the same count"),
            click.option("--data-split", default=1, show_default=True, type=int, help="use len // N training samples (reference rule)"),
            click.option("--raw-data", is_flag=True, help="skip input normalisation (CIFAR: the reference's "
                         "mean/std; digits, image folders: their train split's)"),
            click.option("--seed", default=123, show_default=True, type=int),
            click.option("--batch-size", default=None, type=int, help="samples per forward pass (default: by device)"),
            click.option("--precision", default="fp32", show_default=True, type=click.Choice(PRECISIONS),
                         help="fp32 strict; tf32: TF32 products on CUDA (on the CPU the same as fp32); "
                              "bf16: autocast (on a CPU faster or slower than fp32 by its bf16 "
                              "instructions: time both)"),
            click.option("--bn", default="eval", show_default=True, type=click.Choice(BN_MODES), help="eval: running statistics; recompute: re-estimate them at every point, over equal training batches of at most --batch-size (1024 if not given) on every device"),
            click.option("--compile", "compile_mode", default="auto", show_default=True, type=click.Choice(COMPILE_MODES),
                         help="torch.compile the model: auto on CUDA for long jobs only (it takes minutes), on, off"),
            click.option("--triton-conv", default="off", show_default=True, type=click.Choice(TRITON_MODES),
                         help="with --fold-bn, under bf16 or tf32 on CUDA: lstui's Triton convolution (on), or per layer the faster of it and cuDNN's (auto)"),
            click.option("--fold-bn/--no-fold-bn", default=True, show_default=True, help="evaluate Conv2d→BatchNorm2d pairs as one convolution"),
            click.option("--trust-checkpoint", is_flag=True, help="allow checkpoints holding arbitrary pickled objects"),
            click.option("--name", default="", help="a name for the job"),
        ]
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


def spec_from_flags(kind: str, flags: dict[str, Any]) -> JobSpec:
    flags = dict(flags)
    compile_mode = flags.pop("compile_mode", "auto")
    for y_flag, x_flag in (("ynorm", "norm"), ("yignore", "ignore")):
        given = flags.pop(y_flag, None)  # the reference's scripts give both; lstui has one setting
        if given is not None and given != flags.get(x_flag):
            raise BadInput(f"--{y_flag} {given}: lstui treats both directions alike, with --{x_flag} "
                           f"({flags.get(x_flag)}); give --{x_flag} {given}, or the same to both")
    values = {k: v for k, v in flags.items() if k in JobSpec.__dataclass_fields__}
    values["compile"] = compile_mode
    values["kind"] = kind
    values["x"] = parse_axis(values["x"], "--x")
    values["y"] = parse_axis(values["y"], "--y") if values.get("y") is not None else None  # "" refused, not 1D
    return JobSpec(**values).checked_size().validated()


_FULL = "free some space; nothing computed so far is lost"
_DENIED = "check the folder's permissions, or choose another (--out, --home)"
_FILE_ERRORS = {
    errno.ENOSPC: _FULL,
    errno.EFBIG: _FULL,
    errno.EDQUOT: _FULL,
    errno.EROFS: "choose a writable folder (--out, --home)",
    errno.EACCES: _DENIED,
    errno.EPERM: _DENIED,
    errno.ENOTDIR: "a part of that path is a file, not a folder",
}
"""File errors a person's circumstances cause when lstui writes (a full disk, a read-only
mount), each with what would help."""
_PATH_ERRORS = {
    errno.ENAMETOOLONG: "a name in that path is longer than most file systems allow, 255 bytes",
    errno.ELOOP: "its symbolic links point at each other",
    errno.ENOENT: "a folder on that path does not exist, or a symbolic link in it points nowhere",
    errno.EEXIST: "something is in the way there (a symbolic link that points nowhere?)",
}
"""Errors of a path a person gave, read or written; any other OSError is a bug and stays
a traceback."""
MAX_JOB_ID = 2**63 - 1
"""SQLite's largest integer."""


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors a person can cause into one line and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DatabaseLocked as exc:  # what to do, as for a database that cannot be written
            _fail(f"{exc}; run the command again once it lets go (a long transaction: a sqlite3 shell, "
                  "a backup)", exc.exit_code)
        except LstuiError as exc:
            _fail(str(exc), exc.exit_code)
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            name = Path(str(exc.filename or "")).name
            if (name.startswith(".") and name.endswith(".tmp") and ".pid" in name
                    and exc.errno in _FILE_ERRORS):
                # an atomic write's temporary file refused: the folder is what the person can mend
                where = f" in {Path(str(exc.filename)).parent}"
            if exc.errno in _PATH_ERRORS:
                _fail(f"path{where}: {exc.strerror} ({_PATH_ERRORS[exc.errno]})", 2)
            if exc.errno not in _FILE_ERRORS:
                raise
            _fail(f"cannot write{where}: {exc.strerror} ({_FILE_ERRORS[exc.errno]})", 1)
        except ImportError as exc:
            # PyTorch's libraries refused (a memory limit, `ulimit -v`, maps them): a traceback
            if "torch" not in f"{exc.name or ''} {exc}":
                raise
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            _fail(f"cannot load PyTorch: {why} (under a memory limit, such as `ulimit -v` on a login node? "
                  "PyTorch maps a few GB of libraries)", 1)
        except KeyboardInterrupt:
            _interrupted("")

    return wrapper


def _session_of(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


def _interrupted(note: str) -> NoReturn:
    """Say "interrupted" (and ``note``) and exit 130, deaf to more interrupts from now: a
    second Ctrl-C, an impatient one, broke into PyTorch's exit handlers with a traceback."""
    import signal

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    click.echo(f"lstui: interrupted{note}", err=True)
    sys.exit(130)


@click.group(invoke_without_command=True)
@click.version_option(__version__, prog_name="lstui")
@click.option("--home", "home_text", default=None, envvar="LSTUI_HOME",
              help="state folder (default $LSTUI_HOME or ~/.local/share/lstui); before or after the command")
@click.pass_context
def cli(ctx: click.Context, home_text: str | None) -> None:
    """lstui — a loss-landscape lab: queue, compute and plot loss surfaces.

    Without a command, lstui opens its terminal app (the TUI) on the home's jobs."""
    given = ctx.get_parameter_source("home_text") is click.core.ParameterSource.COMMANDLINE
    flag = "--home" if given else "$LSTUI_HOME"
    # click reads an empty variable as none: `LSTUI_HOME=$MISTYPED lstui submit …` queued
    # into ~/.local/share/lstui without a word (a subcommand's --help is still shown)
    empty_env = home_text is None and os.environ.get("LSTUI_HOME") == "" and "--help" not in sys.argv[1:]
    if empty_env or (home_text is not None and not home_text.strip()):  # (Path("") would be the current folder)
        raise click.UsageError("--home is empty; give a folder" if given else
                               "$LSTUI_HOME is set but empty; give a folder, or unset it for ~/.local/share/lstui")
    home = Path(home_text) if home_text is not None else None
    try:
        not_folder = home is not None and home.exists() and not home.is_dir()
    except OSError as exc:  # a name too long, a loop of links
        raise click.UsageError(f"{flag} {home}: {exc.strerror}") from None
    if not_folder:
        raise click.UsageError(f"{flag} {home} is a file, not a folder")
    ctx.ensure_object(dict)
    ctx.obj["home"] = home
    if ctx.invoked_subcommand is None:
        # it drew into the pipe, and waited for keys; a closed one is None (lstui <&-: a traceback)
        if not (sys.stdin is not None and sys.stdin.isatty() and sys.stdout is not None and sys.stdout.isatty()):
            raise click.UsageError("the TUI needs a terminal (its input and output are not one); "
                                   "for scripts: lstui ls, lstui show JOB, lstui logs JOB")
        from lstui.tui import run_app

        sys.exit(run_app(home))


@cli.group()
def run() -> None:
    """Compute a job now, in this process, with a progress bar."""


def _run_common(kind: str, out: Path | None, device: str, flags: dict[str, Any], no_figure: bool) -> None:
    from lstui.scheduler.compute import resolve_device
    from lstui.scheduler.foreground import run_foreground

    spec = spec_from_flags(kind, flags)
    on = resolve_device(device)  # a wrong --device is refused before the results folder is made
    out_dir = out if out is not None else Path("lstui-out") / kind
    code = run_foreground(spec, out_dir, device=device, figure=not no_figure)
    if code == 0:
        _say_job_notes(spec, on.type)
    sys.exit(code)


_run_extra = [
    click.option("--out", type=_Folder(), default=None, help="results folder (default ./lstui-out/KIND)"),
    click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:1 …"),
    click.option("--no-figure", is_flag=True, help="do not draw the PNG"),
]


def _with(options: list[Callable[..., Any]]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


@run.command("surface")
@job_options("-1:1:51")
@_with(_run_extra)
@handle_errors
def run_surface(out: Path | None, device: str, no_figure: bool, **flags: Any) -> None:
    """A 1D (--x) or 2D (--x and --y) surface around --checkpoint."""
    _refuse_unused("surface")
    _run_common("surface", out, device, flags, no_figure)


def _refuse_unused(kind: str) -> None:
    """The flags given on the command line that ``kind`` does not use, refused
    (:data:`lstui.spec.UNUSED_KEYS`)."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    given = {name: value for name, value in ctx.params.items()
             if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE}
    for y_key, key in (("ynorm", "norm"), ("yignore", "ignore")):  # the reference's names of them
        if y_key in given:
            value = given.pop(y_key)
            refuse_unused(kind, {key: value}, flags=True, named=f"--{y_key}")
            given.setdefault(key, value)
    refuse_unused(kind, given, flags=True)


def _need_checkpoint_b(flags: dict[str, Any]) -> None:
    """An interpolation's B, said in one line when missing: ``--target`` (a surface's B,
    in the reference's scripts too) is what a person tries first."""
    if flags.get("checkpoint_b"):
        return
    if flags.get("target"):
        raise SpecError("an interpolation takes checkpoint B as --checkpoint-b, not --target "
                        "(a surface's x direction towards a checkpoint)")
    raise SpecError("an interpolation needs --checkpoint-b: checkpoint B, at x = 1 (A, --checkpoint, at x = 0)")


@run.command("interp", short_help="The 1D interpolation from checkpoint A (x = 0) to B (x = 1).")
@job_options(INTERP_X, kind="interp")
@click.option("--checkpoint-b", default=None, help="checkpoint B: x = 1 (required)")
@_with(_run_extra)
@handle_errors
def run_interp(out: Path | None, device: str, no_figure: bool, **flags: Any) -> None:
    """The 1D interpolation from --checkpoint A (x = 0) to --checkpoint-b B (x = 1)."""
    _need_checkpoint_b(flags)
    if flags.get("y"):
        raise SpecError("interp is one-dimensional; drop --y")
    _refuse_unused("interp")
    _run_common("interp", out, device, flags, no_figure)


# -- the job store -------------------------------------------------------------------
def _home(ctx: click.Context) -> Path | None:
    return ctx.find_root().obj.get("home") if ctx.find_root().obj else None


def _home_path(ctx: click.Context) -> Path:
    from lstui.store import default_home

    return (_home(ctx) or default_home()).expanduser()


def _store(ctx: click.Context, *, existing: bool = False):  # type: ignore[no-untyped-def]
    """The home's job store; ``existing``: for a command that reads or changes jobs, a
    home with no store is an error (a mistyped $LSTUI_HOME), not a new empty store."""
    from lstui.scheduler.daemon import refuse_upgrade_under_older_daemon
    from lstui.store import DB_NAME, Store

    if existing:
        try:
            (_home_path(ctx) / DB_NAME).stat()
        except FileNotFoundError:
            raise NoStore(f"no job store at {_home_path(ctx)}: nothing was ever queued on this home "
                          "(is $LSTUI_HOME or --home right?)") from None
        except OSError:
            pass  # a path through a file, a folder it may not read: the store says so
    store = Store.open_home(_home(ctx), on_lock_wait=lambda line: click.echo(f"note: {line}…", err=True),
                            before_upgrade=refuse_upgrade_under_older_daemon(_home_path(ctx)))
    _say_versions(ctx, store)
    return store


_VERSIONS_SAID: set[Path] = set()


def _say_versions(ctx: click.Context, store: Any) -> None:
    """Once a process, for a home: that this command upgraded its job store (an older lstui
    can no longer open it), and that its daemon was started by an older lstui, whose
    workers fail the jobs a newer one queues (their specs' new keys) until it restarts."""
    from lstui.scheduler.daemon import daemon_status
    from lstui.store import SCHEMA_VERSION

    home = _home_path(ctx)
    if home in _VERSIONS_SAID:
        return
    _VERSIONS_SAID.add(home)
    if store.upgraded_from is not None:
        kept = f" (kept as it was in {store.upgrade_copy.name})" if store.upgrade_copy is not None else ""
        click.echo(f"note: upgraded the job store {store.path} from schema {store.upgraded_from} to "
                   f"{SCHEMA_VERSION}: an older lstui can no longer open it{kept}", err=True)
    status = daemon_status(home)
    if status.running and status.pid_file_read and status.schema != SCHEMA_VERSION:
        which = f"schema {status.schema}" if status.schema is not None else "an older schema"
        click.echo(f"note: the daemon{f' (pid {status.pid})' if status.pid else ''} was started by another "
                   f"lstui ({which}; this one's is {SCHEMA_VERSION}): its workers may fail the jobs queued "
                   "now; restart it (lstui daemon stop, then lstui daemon start)", err=True)


class NoStore(LstuiError):
    """A command that reads jobs was pointed at a home without a job store."""


_LOW_SPACE_BYTES = 16 * 2**20
"""Less free space than this on the home's disk: the next surface file may not fit."""


def _note_if_disk_full(ctx: click.Context) -> None:
    """Say so when the home's disk is (nearly) full: the daemon and its workers wait,
    quietly, for space, and the job store cannot record why."""
    from lstui.store import free_bytes

    free = free_bytes(_home_path(ctx))
    if free is not None and free < _LOW_SPACE_BYTES:
        click.echo(f"note: the disk holding {_home_path(ctx)} has {free / 2**20:.1f} MiB free: the daemon "
                   "and its workers wait for space (their points are kept)", err=True)


def _warn_if_no_daemon(ctx: click.Context) -> None:
    from lstui.scheduler.daemon import daemon_status

    if not daemon_status(_home(ctx)).running:
        click.echo("note: no daemon is running on this home; start one with 'lstui daemon start'", err=True)


class _SubmitGroup(click.Group):
    """``submit KIND …`` or ``submit FILE.toml``: a first word that is no kind is a file."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # the options of the kinds that take a value: `--name --wait` names a job "--wait"
        values_of_kinds = {
            name for command in self.commands.values() for p in command.params
            if isinstance(p, click.Option) and not p.is_flag and not p.count for name in p.opts
        }
        args = self._own_options_first(args, values_of_kinds)
        takes_value = {
            name for p in self.params if isinstance(p, click.Option) and not p.is_flag for name in p.opts
        }
        skip = False
        for n, arg in enumerate(args):
            if skip or arg.startswith("-"):
                skip = not skip and arg in takes_value
                continue
            if arg not in self.commands:
                args = args[:n] + ["file"] + args[n:]
            break
        return super().parse_args(ctx, args)

    @staticmethod
    def _own_options_first(args: list[str], values_of_kinds: set[str]) -> list[str]:
        """``--wait`` and ``--unit-size N`` where they are given (``submit surface … --wait``,
        ``submit jobs.toml --wait``, as ``compare … --wait``), moved before the kind; not
        where one is the value of a kind's option (``--name --wait``)."""
        own: list[str] = []
        rest: list[str] = []
        n = 0
        a_value = False  # the argument is the value of the option before it
        while n < len(args):
            arg = args[n]
            if a_value:
                rest.append(arg)  # whatever it reads
                a_value = False
                n += 1
                continue
            if arg == "--":
                rest += args[n:]
                break
            a_value = arg in values_of_kinds
            if arg == "--wait" or arg.startswith("--unit-size="):
                own.append(arg)
            elif arg == "--unit-size":  # (alone at the end: click says it needs a value)
                own += args[n : n + 2]
                n += 1
            else:
                rest.append(arg)
            n += 1
        return own + rest


_SUBMIT_EPILOG = ("Also, anywhere on the line: --wait (follow the job with a progress bar; exit 1 "
                  "if it fails, 3 if it finishes with NaN/inf points), --unit-size N (points per "
                  "work unit).")


@cli.group(cls=_SubmitGroup, short_help="Queue jobs: submit surface|interp|trajectory, or job files.")
@click.option("--wait", is_flag=True, help="follow the job(s) with a progress bar until they finish and their files are written; exit 1 if one fails or is cancelled, 3 if all finish but some points are NaN/inf")
@click.option("--unit-size", default=None, type=int,
              help="points per work unit (default: 16, a job's last units smaller)")
@click.pass_context
def submit(ctx: click.Context, wait: bool, unit_size: int | None) -> None:
    """Queue jobs: `submit surface|interp|trajectory …` or `submit FILE.toml`."""
    ctx.obj["wait"] = wait
    ctx.obj["unit_size"] = unit_size


@submit.command("file", hidden=True)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
@handle_errors
def submit_file(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """Queue the jobs of TOML files: every job of every file is checked (a trajectory's
    PCA computed) before the first is queued."""
    import dataclasses

    from lstui.jobfile import read_job_file
    from lstui.scheduler.imports import add_import_path, with_import_path
    from lstui.scheduler.preflight import check_inputs
    from lstui.scheduler.shield import signals_held
    from lstui.scheduler.submit import prepare_spec, queue_prepared
    from lstui.scheduler.trajectory import (
        plane_dirs_in_use,
        plane_in_new_dir,
        plane_queued,
        remove_unqueued_planes,
        trajectory_spec,
    )

    entries = [entry for file in files for entry in read_job_file(file)]
    for n, entry in enumerate(entries):  # every job checked before the first is queued
        try:
            # its own modules, found next to the file first, then from here
            spec = with_import_path(entry.spec, first=[entry.base] if entry.base else [])
            add_import_path(spec.import_path)
            entries[n] = dataclasses.replace(entry, spec=spec)
            check_inputs([spec])
        except BadInput as exc:
            raise type(exc)(f"{entry.where}: {exc}") from None
    unit_size = ctx.obj.get("unit_size")
    planes: dict[int, TrajectoryPlane] = {}  # entry → the plane made for it
    ids: list[int] = []
    try:
        with _store(ctx) as store:
            for n, entry in enumerate(entries):
                if entry.spec.kind == "trajectory":  # its PCA plane now, as `submit trajectory` does
                    try:
                        plane = plane_in_new_dir(store.path.parent, entry.spec, origin=entry.origin)
                    except BadInput as exc:
                        raise type(exc)(f"{entry.where}: {exc}") from None
                    planes[n] = plane
                    x_given, y_given = entry.axes_given
                    spec = trajectory_spec(entry.spec, plane, x_given=x_given, y_given=y_given, num=entry.num)
                    _note_trajectory(plane, spec, x_given=x_given, y_given=y_given)
                    entries[n] = dataclasses.replace(entry, spec=spec)
            ready = [prepare_spec(e.spec, unit_size=e.unit_size if unit_size is None else unit_size, check=False)
                     for e in entries]
            # an interrupt waits until what was queued is said (all queued, "interrupted" alone)
            with signals_held():
                with store.together():  # all or none: interrupted half way, it left the first queued
                    ids = [queue_prepared(store, job) for job in ready]
                for plane in planes.values():
                    plane_queued(plane)
                if planes:  # those of earlier submits killed before they queued theirs (as submit trajectory)
                    with contextlib.suppress(LstuiError, OSError):
                        remove_unqueued_planes(store.path.parent, lambda: plane_dirs_in_use(store))
                twins = _twins_notes(store, ids)
                for n, plane in planes.items():
                    _note_plane(plane, entries[n].spec)
                for job_id in ids:
                    click.echo(job_id)
    except BaseException:  # a job refused, the database locked, Ctrl-C: no plane left behind unqueued
        if not ids:
            for plane in planes.values():
                _drop_plane(plane)
        raise
    for note in twins:
        click.echo(note, err=True)
    _say_file_notes([(job_id, _job_notes(e.spec)) for job_id, e in zip(ids, entries, strict=True)])
    _warn_if_no_daemon(ctx)
    if ctx.obj.get("wait"):
        sys.exit(_follow(ctx, ids))


_SEED_SAID = re.compile(r"\(seed (\d+)\)")


def _say_file_notes(notes: Sequence[tuple[int, Sequence[str]]]) -> None:
    """A job file's notes (:func:`_job_notes`), each said once with the jobs it is of, by
    their ids (a 40-job sweep said one note 40 times; "sweep.toml job 1" read as job 1
    of the store); a note of each job's seed once with the seeds (a seed sweep's 100
    jobs said it 100 times)."""
    from lstui.views import id_ranges

    said: dict[str, list[tuple[int, int | None]]] = {}
    for job_id, texts in notes:
        for text in texts:
            seed = _SEED_SAID.search(text)
            key = _SEED_SAID.sub("(seed …)", text) if seed else text
            said.setdefault(key, []).append((job_id, int(seed.group(1)) if seed else None))
    for key, jobs in said.items():
        seeds = sorted({s for _, s in jobs if s is not None})
        text = key.replace("(seed …)", f"(seed{'s' if len(seeds) > 1 else ''} {id_ranges(seeds)})") if seeds else key
        ids = sorted({j for j, _ in jobs})
        click.echo(f"note: job{'s' if len(ids) > 1 else ''} {id_ranges(ids)}: {text}", err=True)


def _job_notes(spec: JobSpec, device_type: str | None = None) -> list[str]:
    """What a job's settings mean, said when it is queued or computed (from flags or a job
    file).

    A surface with no --checkpoint is one around a random initialisation: allowed (a
    landscape at initialisation is a thing to look at), said, as the reference wants a
    model file and hours of GPU time on an untrained net are easily spent by mistake.
    So is a ``--target`` (an interpolation's ``--checkpoint-b``) with ``weights``
    directions of a net with BatchNorm: x = 1 is not B (B's weights with A's running
    statistics), as the reference's is not either.
    And a ``--triton-conv`` asked for where it cannot run (``device_type``: where the job
    ran, None when a daemon's worker will decide)."""
    notes: list[str] = []
    if spec.triton_conv != "off":
        why = ("under --no-fold-bn: it runs the folded convolutions" if not spec.fold_bn
               else "under strict --precision fp32: it runs under bf16 or tf32" if spec.precision == "fp32"
               else "on the CPU: it runs on CUDA" if device_type == "cpu" else None)
        if why:
            notes.append(f"--triton-conv {spec.triton_conv} does nothing {why}")
    if (spec.kind == "surface" and spec.dir_type == "states" and spec.ignore == "biasbn"
            and not (spec.target or spec.target_y or spec.dir_file)
            and spec.checkpoint and _has_running_statistics(spec.checkpoint, spec.trust_checkpoint)):
        from lstui.scheduler.trajectory import STATES_LIKE_WEIGHTS

        notes.append(STATES_LIKE_WEIGHTS)
    if spec.kind == "surface" and not spec.checkpoint:
        notes.append(f"no --checkpoint: the surface is around {spec.model}'s initialisation "
                     f"(seed {spec.seed}), not a trained minimizer")
    if spec.dir_type == "weights" and spec.bn != "recompute" and spec.kind in ("surface", "interp"):
        # an interpolation's B likewise (its default is states: this is asked for)
        ends = ((("--target", spec.target), ("--target-y", spec.target_y)) if spec.kind == "surface"
                else (("--checkpoint-b", spec.checkpoint_b),))
        for flag, path in ends:
            if path and _has_running_statistics(path, spec.trust_checkpoint):
                name = Path(path).name
                centre = "A's" if spec.kind == "interp" else "the centre's"
                notes.append(f"{flag} with --dir-type weights moves the weights only: at 1 the model has "
                             f"{name}'s weights with {centre} BatchNorm statistics, not {name} itself "
                             "(--dir-type states moves those too)")
    fine = _steps_below_float32(spec)
    if fine:
        notes.append(fine)
    model_file = spec.checkpoint or (spec.checkpoints[-1] if spec.checkpoints else None)
    if spec.bn == "recompute" and model_file and not _has_running_statistics(model_file, spec.trust_checkpoint):
        # accepted in silence, every point paying for a pass over the training batches
        notes.append(f"--bn recompute does nothing here: {Path(model_file).name} holds no BatchNorm "
                     "statistics to re-estimate")
    if spec.kind == "surface":
        # an even count over a range symmetric about 0 (-1:1:2, -1:1:50) steps over it
        missed = [f"--{name} {axis}" for name, axis in (("x", spec.x), ("y", spec.y))
                  if axis is not None and axis.min < 0 < axis.max and not (axis.coordinates == 0.0).any()]
        if missed:
            notes.append(f"{' and '.join(missed)} {'have' if len(missed) > 1 else 'has'} no point at 0: "
                         "the centre (the model itself) is not on the grid (0 must be MIN + k·(MAX − MIN)/(NUM − 1) "
                         "for a whole k: an odd NUM over -1:1)")
    return notes


def _say_job_notes(spec: JobSpec, device_type: str | None = None) -> None:
    """The notes of a job queued or computed: how its command line was read
    (:data:`_LATER_NOTES`), then what its settings mean (:func:`_job_notes`)."""
    for note in [*_LATER_NOTES, *_job_notes(spec, device_type)]:
        click.echo(f"note: {note}", err=True)
    _LATER_NOTES.clear()


FLOAT32_STEP_NOTE_BELOW = 1e-6
"""A step of a grid along a direction scaled to the weights (filter, layer or weight
norm; an interpolation's B − A) under which the weights, stepped in float32 (about 7
significant digits), change by a few of its roundings at most: 0:1e-12:5 passed the grid
checks and drew a flat surface, or rounding noise, with no word why."""


def _steps_below_float32(spec: JobSpec) -> str | None:
    """What to say of a grid whose steps move the weights by less than float32 resolves."""
    if spec.kind not in ("surface", "interp") or spec.dir_file:
        return None
    if spec.kind == "surface" and spec.norm == "none":  # unit directions: no scale of the weights to go by
        return None
    fine = [f"--{name} {axis} steps by {(axis.max - axis.min) / (axis.num - 1):.2g}"
            for name, axis in (("x", spec.x), ("y", spec.y))
            if axis is not None and (axis.max - axis.min) / (axis.num - 1) < FLOAT32_STEP_NOTE_BELOW]
    if not fine:
        return None
    return (f"{' and '.join(fine)} of the direction (scaled to the weights, or B − A): the weights, stepped "
            "in float32 (about 7 digits), change by a few of its roundings at most, and the surface shows "
            "those, not the loss's change")


def _has_running_statistics(path: str, trust: bool) -> bool:
    from lstui.models import has_running_statistics

    return has_running_statistics(path, trust=trust)


def _submit_one(ctx: click.Context, kind: str, flags: dict[str, Any]) -> None:
    priority = flags.pop("priority", 0)
    if (kind == "surface" and flags.get("y") is not None
            and ctx.get_parameter_source("x") is click.core.ParameterSource.DEFAULT):
        # `--y -1:1:5` alone queued 51×5 points: x's default, taken in silence
        _LATER_NOTES.append(f"no --x given: x takes its default, {flags.get('x')}")
    _queue_and_report(ctx, spec_from_flags(kind, flags), priority)


def _twins_notes(store: Any, job_ids: Sequence[int]) -> list[str]:
    """The notes on jobs queued whose numbers other jobs compute (a script run twice)."""
    from lstui.scheduler.submit import same_settings_notes

    notes = same_settings_notes(store, job_ids, "lstui cancel {id} takes it back")
    return [f"note: {note}" for note in notes.values()]


def _comparison_twins(store: Any, plan: Any) -> str | None:
    """The note on a comparison whose jobs earlier ones compute (the command run twice): each
    job named beside the newest of them (a third run named the first run's, as `submit` did)."""
    from lstui.scheduler.submit import same_settings

    pairs = [(job_id, twins[-1].id)
             for job_id, twins in same_settings(store, [*plan.interps, *plan.curves, *plan.surfaces]).items() if twins]
    if not pairs:
        return None
    listed = ", ".join(f"{new} as {old}" for new, old in pairs)
    return (f"note: earlier jobs compute the same numbers as {len(pairs)} of this comparison's jobs ({listed}): "
            f"they are computed again (lstui cancel {' '.join(map(str, plan.all))} takes the comparison back)")


def _queue_and_report(ctx: click.Context, spec: JobSpec, priority: int,
                      plane: TrajectoryPlane | None = None) -> None:
    """Queue ``spec`` and say its id and notes; ``plane``: a trajectory's, made for it,
    removed when the job is not queued (the database locked: it was left behind, with a
    note naming it as a plane to use)."""
    from lstui.scheduler.submit import submit_spec

    if priority:
        import dataclasses

        spec = dataclasses.replace(spec, priority=priority).validated()
    try:
        with _store(ctx) as store:
            job_id = submit_spec(store, spec, unit_size=ctx.obj.get("unit_size"))
            if plane is not None:
                from lstui.scheduler.trajectory import (
                    plane_dirs_in_use,
                    plane_queued,
                    remove_unqueued_planes,
                )

                plane_queued(plane)
                # those of earlier submits killed before they queued theirs (a failure here
                # must not take this job's plane: it is queued)
                with contextlib.suppress(LstuiError, OSError):
                    remove_unqueued_planes(store.path.parent, lambda: plane_dirs_in_use(store))
            twins = _twins_notes(store, [job_id])
    except BaseException:
        if plane is not None:
            _drop_plane(plane)
        raise
    click.echo(job_id)
    for note in twins:
        click.echo(note, err=True)
    if plane is not None:
        _note_plane(plane, spec)
    _say_job_notes(spec)
    _warn_if_no_daemon(ctx)
    if ctx.obj.get("wait"):
        sys.exit(_follow(ctx, [job_id]))


@submit.command("surface", epilog=_SUBMIT_EPILOG)
@job_options("-1:1:51")
@click.option("--priority", default=0, show_default=True, type=int,
              help="higher runs first; of equal ones, a running job, then in the order queued")
@click.pass_context
@handle_errors
def submit_surface(ctx: click.Context, **flags: Any) -> None:
    """Queue a 1D or 2D surface."""
    _refuse_unused("surface")
    _submit_one(ctx, "surface", flags)


@submit.command("interp", epilog=_SUBMIT_EPILOG)
@job_options(INTERP_X, kind="interp")
@click.option("--checkpoint-b", default=None, help="checkpoint B: x = 1 (required)")
@click.option("--priority", default=0, show_default=True, type=int,
              help="higher runs first; of equal ones, a running job, then in the order queued")
@click.pass_context
@handle_errors
def submit_interp(ctx: click.Context, **flags: Any) -> None:
    """Queue the interpolation A → B."""
    _need_checkpoint_b(flags)
    _refuse_unused("interp")
    _submit_one(ctx, "interp", flags)


def _follow(ctx: click.Context, ids: list[int]) -> int:
    """Show a progress bar per job until all are finished; 1 if one failed or was
    cancelled, 3 if all are done and some points diverged (as ``lstui run``)."""
    import signal

    from rich.console import Console

    from lstui.scheduler.follow import follow_jobs, report_failures

    console = Console(stderr=True)
    # Ctrl-C sets a flag the following looks at between rounds: raised wherever the main
    # thread was (inside the progress display's lock), it could hang the process
    hit: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: hit.append(signum))
    with _store(ctx) as store:
        try:
            jobs = follow_jobs(store, ids, console=console, home=store.path.parent, interrupted=lambda: bool(hit))
        except KeyboardInterrupt:  # only the following stops: the jobs stay queued
            _interrupted(_left_note(ctx, store, ids))  # (deaf to more from now: not the handler before)
        except BaseException:
            signal.signal(signal.SIGINT, previous)
            raise
        signal.signal(signal.SIGINT, previous)
        return report_failures(jobs, console, store)


def _left_note(ctx: click.Context, store: Store, ids: list[int]) -> str:
    """What an interrupted ``--wait`` leaves: the jobs not finished yet, whose daemon (or
    none) goes on with them, and the cancel that stops them all (finished ones left out:
    a cancel naming one is refused whole)."""
    from lstui.scheduler.daemon import daemon_status
    from lstui.store import FINISHED, JobState
    from lstui.views import id_ranges

    try:
        jobs = [job for job in map(store.get_job, ids) if job.state not in FINISHED]
    except LstuiError:  # the store cannot say now (locked): nothing to add
        return ""
    if not jobs:
        return ""
    left = [job.id for job in jobs]
    which = f"job {left[0]} is" if len(left) == 1 else f"jobs {id_ranges(left)} are"
    states = {job.state for job in jobs}
    # a running job with no daemon is stalled, not queued (the daemon was killed)
    state = ("queued" if states == {JobState.QUEUED} else "stalled" if states == {JobState.RUNNING}
             else "unfinished")
    who = "the daemon's" if daemon_status(_home(ctx)).running else f"{state} (no daemon runs on this home)"
    return f"; {which} still {who}: lstui cancel {' '.join(map(str, left))} drops {'it' if len(left) == 1 else 'them'}"


def _parse_job_ids(text: tuple[str, ...], *, ranges: bool = False) -> list[int]:
    """Job ids as given; with ``ranges``, ``9-16`` (or ``9–16``, as lstui writes them)
    for every id from 9 to 16: `lstui cancel 9-24` said "expected a whole number"."""
    out: list[int] = []
    for t in text:
        first, dash, last = t.replace("–", "-").partition("-") if ranges else (t, "", "")
        if dash and _job_id_or_none(first) is not None and _job_id_or_none(last) is not None:
            low, high = int(first), int(last)
            if high < low or high - low >= MAX_IDS_IN_A_RANGE:
                raise SpecError(f"job ids {t!r}: expected a range from a lower id to a higher one, "
                                f"of at most {MAX_IDS_IN_A_RANGE} ids")
            out.extend(range(low, high + 1))
            continue
        job_id = _job_id_or_none(t)
        if job_id is None:
            also = " or a range such as 9-16" if ranges else ""
            raise SpecError(f"job id {t!r}: expected a whole number from 1 to {MAX_JOB_ID}{also}")
        out.append(job_id)
    return out


MAX_IDS_IN_A_RANGE = 100_000


def _job_id_or_none(t: str) -> int | None:
    t = t.strip()
    if not (t.isascii() and t.isdigit()) or not 1 <= int(t) <= MAX_JOB_ID:  # not "１" for 1
        return None
    return int(t)


@cli.command("ls")
@click.option("--all", "show_all", is_flag=True, help="include finished jobs")
@click.option("--json", "as_json", is_flag=True, help="a JSON array of jobs")
@click.option("--state", "states_text", default=None,
              help="only jobs in these states, a comma list of queued, running, paused, done, failed, cancelled")
@click.option("--last", type=click.IntRange(min=1), default=None, help="only the newest N jobs listed")
@click.pass_context
@handle_errors
def ls(ctx: click.Context, show_all: bool, as_json: bool, states_text: str | None, last: int | None) -> None:
    """One line per job: id, state, kind, progress, device, name."""
    from lstui.scheduler.daemon import daemon_status
    from lstui.store import FINISHED, JobState
    from lstui.views import job_summary, jobs_table

    states = _states(states_text)
    try:
        store_cm = _store(ctx, existing=True)
    except NoStore as exc:
        click.echo("[]" if as_json else f"no jobs: {exc}")
        return
    _note_if_disk_full(ctx)
    with store_cm as store:
        jobs = store.list_jobs(include_finished=show_all or bool(states & FINISHED))
        if states:
            jobs = [j for j in jobs if j.state in states]
        if last is not None:
            jobs = jobs[-last:]
        hidden = 0
        if states and not jobs and not as_json:
            click.echo(f"no {' or '.join(sorted(s.value for s in states))} jobs")
            return
        if not jobs and not show_all and not as_json:
            hidden = store.count_jobs()
        # a running job that no daemon computes is stalled: no ETA (only asked when it matters)
        daemon_running = not any(j.state is JobState.RUNNING for j in jobs) or daemon_status(_home(ctx)).running
        # as is one whose workers are silent (stopped: Ctrl-Z of a foreground daemon)
        silent = _silent_jobs(store, jobs) if daemon_running else {}
    if as_json:
        import json

        click.echo(json.dumps([job_summary(j, daemon_running=daemon_running and j.id not in silent,
                                           files_pending=_files_pending(j)) for j in jobs], indent=1))
        return
    click.echo(jobs_table(jobs, hidden_finished=hidden, daemon_running=daemon_running, width=_terminal_width(),
                          silent=silent))
    _note_files_to_come(ctx, jobs)


FILES_NOTE_S = 24 * 3600.0
"""How long after its finish ``ls`` may say a job's files are still to come (one finished
long ago without them had its folder deleted by hand: ``show`` says so)."""


def _note_files_to_come(ctx: click.Context, jobs: Sequence[JobRow]) -> None:
    """Under ``ls``: which of the done jobs listed have their figures and surface file
    still to come. After a daemon's restart 61 jobs read done for two minutes, their
    folders without figures, and only ``show`` said why."""
    import time

    from lstui.scheduler.daemon import daemon_status
    from lstui.scheduler.follow import files_to_come
    from lstui.views import id_ranges

    recent = time.time() - FILES_NOTE_S
    waiting = [j.id for j in jobs if j.finished is not None and j.finished > recent and files_to_come(j)
               and Path(j.results_dir).is_dir()]
    if not waiting:
        return
    status = daemon_status(_home(ctx))
    which = f"job{'s' if len(waiting) > 1 else ''} {id_ranges(waiting)}"
    if not status.running:
        how = "not written yet: lstui daemon start writes them"
    elif status.suspended:
        how = "not written yet: the daemon is suspended (lstui daemon status says how to continue it)"
    else:
        how = "being written by the daemon"
    click.echo(f"note: the figures and surface file of {which} are {how}", err=True)


def _silent_jobs(store: Store, jobs: Sequence[JobRow]) -> dict[int, float]:
    """:func:`lstui.views.silent_jobs` of ``jobs``, the workers read only when one runs."""
    from lstui.scheduler.daemon import WORKER_SILENT_S
    from lstui.store import JobState
    from lstui.views import silent_jobs

    if not any(j.state is JobState.RUNNING for j in jobs):
        return {}
    return silent_jobs(jobs, store.workers(alive_within_s=WORKER_SILENT_S))


def _states(text: str | None) -> frozenset[Any]:
    """The job states a comma list names (none: every state).

    Raises:
        BadInput: a name that is no state.
    """
    from lstui.store import JobState

    if text is None:
        return frozenset()
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    known = {s.value: s for s in JobState}
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise BadInput(f"--state {text!r}: give a comma list of {', '.join(known)}")
    return frozenset(known[n] for n in names)


def _files_pending(job: JobRow) -> bool | None:
    """Whether a finished job's surface file and figures are still to be written by a
    daemon (:func:`~lstui.scheduler.follow.files_to_come`; None while it has not finished)."""
    from lstui.scheduler.follow import files_to_come
    from lstui.store import FINISHED

    return None if job.state not in FINISHED else files_to_come(job)


def _terminal_width() -> int | None:
    """The terminal's width (``$COLUMNS`` first), or None when the output goes to a
    file or a pipe without ``$COLUMNS``: scripts get whole lines."""
    import os
    import shutil

    given = os.environ.get("COLUMNS", "").strip()
    if (given.isdigit() and int(given) > 0) or (sys.stdout is not None and sys.stdout.isatty()):  # (>&-: None)
        return shutil.get_terminal_size().columns
    return None  # (COLUMNS= or COLUMNS=abc on a pipe: shutil's 80, names cut)


@cli.command("show")
@click.argument("job")
@click.option("--json", "as_json", is_flag=True, help="the job as one JSON object (for scripts)")
@click.option("--no-plot", is_flag=True, help="no terminal plot")
@click.option("--surf-name", "surf_name", type=click.Choice(SURF_NAMES), default=None,
              help="what a 2D job's plot draws (an error is 100 − accuracy; a 1D plot draws "
                   "every curve) [default: the train loss, or the test loss]")
@click.pass_context
@handle_errors
def show(ctx: click.Context, job: str, as_json: bool, no_plot: bool, surf_name: str | None) -> None:
    """Details of a job and a terminal plot of its result so far."""
    from lstui.scheduler.daemon import daemon_status
    from lstui.store import JobState
    from lstui.views import check_surf_name, job_details, job_summary, terminal_plot

    (job_id,) = _parse_job_ids((job,))
    with _store(ctx, existing=True) as store:
        _note_if_disk_full(ctx)
        row = store.get_job(job_id)
        if surf_name is not None:
            check_surf_name(row, surf_name)
        events = store.events(job_id, limit=None)
        # a running job that no daemon computes is stalled, as `ls` says
        files_pending = _files_pending(row)
        # asked only when it matters: a running job may be stalled, a finished one's files pending
        status = daemon_status(_home(ctx)) if row.state is JobState.RUNNING or files_pending else None
        daemon_running = status is None or status.running
        suspended = status is not None and status.suspended
        silent_s = _silent_jobs(store, [row]).get(row.id) if daemon_running else None
        if as_json:
            import json

            from lstui.scheduler.exporting import SURFACE_FILE

            info = job_summary(row, daemon_running=daemon_running and silent_s is None, files_pending=files_pending)
            info.update(
                spec=row.spec, results_dir=str(row.results_dir), error=row.error,
                # a comparison's figure job draws figures, it has no surface file
                surface_file=None if row.kind == "figure" else str(Path(row.results_dir) / SURFACE_FILE),
                depends_on=list(row.depends_on),
            )
            click.echo(json.dumps(info, indent=1))
            return
        plot = None
        if not no_plot and row.done_points and row.kind != "figure":
            import shutil

            size = shutil.get_terminal_size((80, 24))
            # drawn first: a --surf-name the job lacks is one line, before anything else
            plot = terminal_plot(store, row, width=min(size.columns, 100), height=20, surf_name=surf_name)
        click.echo(job_details(row, events, daemon_running=daemon_running, files_pending=files_pending,
                               daemon_suspended=suspended, silent_s=silent_s))
        if row.state is JobState.QUEUED:
            _say_if_no_worker(ctx, store)
        from lstui.scheduler.compare import SHARPNESS, sharpness_of, shown_rows

        table = Path(row.results_dir) / f"{SHARPNESS}.json"
        if row.kind == "figure" and table.is_file():
            import json

            from lstui.views import rows_text

            rows = json.loads(table.read_text())
            what = sharpness_of(rows)
            click.echo(f"\nsharpness{f' of the {what}' if what else ''} (every digit: sharpness.csv, sharpness.json)")
            click.echo(rows_text(shown_rows(rows)))
        if plot is not None:
            click.echo(plot)


def _say_if_no_worker(ctx: click.Context, store: Any) -> None:
    """Under a queued job's details: that the daemon runs no worker (a Ray cluster gone,
    PyTorch refused by a memory limit), where `daemon status` says why; the job read
    "requeued: no worker holds it" and waited without a word."""
    import time

    from lstui.scheduler.daemon import daemon_status, listed_workers

    status = daemon_status(_home(ctx))
    if not status.running or status.started is None or time.time() - status.started < STARTING_S:
        return
    if not listed_workers(store, time.time(), recent_s=120):
        click.echo("  note: the daemon runs no worker now: nothing computes this job (lstui daemon status "
                   "says why)")


def _lifecycle(action: str) -> Callable[..., Any]:
    @click.argument("jobs", nargs=-1, required=True)
    @click.pass_context
    @handle_errors
    def command(ctx: click.Context, jobs: tuple[str, ...]) -> None:
        from lstui.errors import InvalidTransition, JobNotFound

        ids = list(dict.fromkeys(_parse_job_ids(jobs, ranges=True)))  # `pause 3 3` pauses job 3 once
        with _store(ctx, existing=True) as store:
            if action == "retry":  # their files are read first, as at submit: all or none
                from lstui.scheduler.submit import retry_jobs

                retry_jobs(store, ids)
            else:  # every job allowed before the first is changed, in one transaction
                try:
                    store.act(action, ids)
                except (InvalidTransition, JobNotFound) as exc:
                    if len(ids) == 1:
                        raise
                    # "job 1 is done; cannot cancel it" read as if the others were cancelled
                    done = {"cancel": "cancelled", "pause": "paused", "resume": "resumed"}[action]
                    raise type(exc)(f"none of jobs {', '.join(map(str, ids))} was {done}: {exc}") from None
            for job_id in ids:
                click.echo(f"job {job_id}: {store.get_job(job_id).state.value}")

    command.__doc__ = _LIFECYCLE_HELP[action]
    return command


_LIFECYCLE_HELP = {
    "cancel": "Cancel queued, running or paused jobs (ids: 3 5): their workers stop after the "
              "point in hand, keeping every point computed; `retry` queues them again.",
    "pause": "Pause queued or running jobs (ids: 3 5): their workers stop after the point in "
             "hand, keeping every point computed, until `resume`.",
    "resume": "Resume paused jobs (ids: 3 5): they are queued again.",
    "retry": "Queue failed or cancelled jobs again (ids: 3 5), keeping the points computed; their "
             "files are checked first, as at submit.",
}


_LIFECYCLE_SHORT = {
    "cancel": "Cancel queued, running or paused jobs, keeping their points.",
    "pause": "Pause queued or running jobs until resume, keeping their points.",
    "resume": "Resume paused jobs: they are queued again.",
    "retry": "Queue failed or cancelled jobs again, keeping their points.",
}


for _action in ("cancel", "pause", "resume", "retry"):
    cli.command(_action, short_help=_LIFECYCLE_SHORT[_action])(_lifecycle(_action))


@cli.command("rm", short_help="Remove finished jobs from the store, with their folders.")
@click.argument("jobs", nargs=-1)
@click.option("--older-than", "older_than", default=None,
              help="every finished job that finished longer ago than this (30d, 12h, 90m, 2w; a "
                   "bare number is days): listed, and removed with --yes")
@click.option("--yes", is_flag=True, help="remove what --older-than selects")
@click.option("--keep-files", is_flag=True, help="leave their folders on the disk")
@click.option("--compact", is_flag=True,
              help="then give the database's free space (removed jobs') back to the disk; with the daemon "
                   "stopped; alone: only that")
@click.pass_context
@handle_errors
def rm(ctx: click.Context, jobs: tuple[str, ...], older_than: str | None, yes: bool, keep_files: bool,
       compact: bool) -> None:
    """Remove finished jobs (ids: 3 5) from the store, with their results folders.

    Their points and logs go with them, and their ids are not given again. A job that a
    job left in the store is drawn from (a comparison's curves) is refused, or kept by
    --older-than; a queued, running or paused job is refused: cancel it first. The
    database keeps its size (new jobs reuse the space) until --compact."""
    import time

    from lstui.scheduler.daemon import daemon_status
    from lstui.scheduler.prune import (
        finished_before,
        parse_age,
        remove_jobs,
        unremovable,
    )
    from lstui.scheduler.shield import signals_held
    from lstui.views import id_ranges

    if jobs and older_than is not None or not (jobs or older_than is not None or compact):
        raise SpecError("give job ids (lstui rm 3 5) or --older-than AGE, not both, not neither")
    if keep_files and not (jobs or older_than is not None):  # (`rm --compact --keep-files`: said nothing)
        raise SpecError("--keep-files keeps the folders of the jobs removed: give job ids or --older-than AGE")
    ids = list(dict.fromkeys(_parse_job_ids(jobs, ranges=True)))
    if compact and daemon_status(_home_path(ctx)).running:  # (it would wait on the daemon's writes, and they on it)
        raise DaemonError("--compact rewrites the database: stop the daemon first (lstui daemon stop)")
    if not jobs and older_than is None:
        with _store(ctx, existing=True) as store:
            _compact(store)
        return
    with _store(ctx, existing=True) as store:
        home = store.path.parent
        running = daemon_status(home).running
        if older_than is not None:
            age_s = parse_age(older_than)
            ids, kept = finished_before(store, time.time() - age_s)
            if kept:
                click.echo(f"kept {len(kept)} job{'s' if len(kept) > 1 else ''} that later jobs are drawn "
                           f"from: {id_ranges(kept)}", err=True)
            busy = unremovable(store, ids, home, keep_files=keep_files, daemon_running=running)
            for why in busy.values():
                click.echo(f"kept: {why}", err=True)
            ids = [j for j in ids if j not in busy]
            if not ids:
                click.echo(f"no finished job is older than {older_than}")
                if compact and yes:  # (it was dropped without a word)
                    _compact(store)
                return
            if not yes:  # the flags given kept in the command it suggests (--compact was dropped)
                flags = "".join(f" --{f}" for f, given in (("keep-files", keep_files), ("compact", compact)) if given)
                click.echo(f"{len(ids)} finished job{'s' if len(ids) > 1 else ''} older than {older_than}: "
                           f"{id_ranges(ids)}; lstui rm --older-than {older_than} --yes{flags} removes them")
                return
        with signals_held():  # an interrupt waits until what was removed is said ("interrupted" alone)
            removal = remove_jobs(store, ids, home, keep_files=keep_files, daemon_running=running)
            freed = f", {removal.freed_bytes / 2**20:.1f} MiB of files" if removal.folders else ""
            kept_note = " (their folders kept)" if keep_files else ""
            click.echo(f"removed {len(removal.jobs)} job{'s' if len(removal.jobs) != 1 else ''}: "
                       f"{id_ranges([j.id for j in removal.jobs])}{freed}{kept_note}")
        if compact:
            _compact(store)
        else:
            size, free = store.space()
            if free >= COMPACT_NOTE_BYTES and free >= size / 2:  # 337 MB kept after 13,769 of 15,000 jobs went
                click.echo(f"note: {store.path.name} keeps its {size / 2**20:.0f} MiB, {free / 2**20:.0f} MiB of "
                           "them free (new jobs reuse them); lstui rm --compact, with the daemon stopped, gives "
                           "them back to the disk", err=True)
    for folder, why in removal.left:
        click.echo(f"lstui: error: {folder} could not be deleted ({why}); its job is out of the store, "
                   "its files are still on the disk: delete them by hand", err=True)
    if removal.left:
        sys.exit(1)


COMPACT_NOTE_BYTES = 64 * 2**20
"""`lstui rm` that leaves this much free in the database, and half of it, says --compact."""


def _compact(store: Any) -> None:
    """``lstui rm --compact``: the database's free pages back to the disk, said."""
    size, free = store.space()
    given, held = store.compact()
    # (a TUI open on it: the file kept its size on the disk, "compacted" said otherwise)
    later = "; the file shrinks on the disk once the programs reading it (a TUI?) close it" if held else ""
    click.echo(f"compacted {store.path.name}: {size / 2**20:.1f} MiB → {(size - given) / 2**20:.1f} MiB "
               f"({free / 2**20:.1f} MiB of it was free){later}")


@cli.command("priority", context_settings={"ignore_unknown_options": True})  # `priority 3 -5`
@click.argument("job")
@click.argument("value", type=int)
@click.pass_context
@handle_errors
def priority(ctx: click.Context, job: str, value: int) -> None:
    """Set a job's priority (higher runs first)."""
    from lstui.spec import MAX_PRIORITY

    (job_id,) = _parse_job_ids((job,))
    if abs(value) > MAX_PRIORITY:
        raise SpecError(f"priority {value} is out of range; use a whole number from -{MAX_PRIORITY} to {MAX_PRIORITY}")
    with _store(ctx, existing=True) as store:
        store.set_priority(job_id, value)
    click.echo(f"job {job_id}: priority {value}")


@cli.command("logs")
@click.argument("job")
@click.option("-f", "--follow", is_flag=True,
              help="keep printing new lines until the job finishes and its files are written "
                   "(exit 1 when it ends failed or cancelled, or its daemon is gone, as submit --wait)")
@click.option("--debug", is_flag=True, help="also show debug lines (tracebacks)")
@click.pass_context
@handle_errors
def logs(ctx: click.Context, job: str, follow: bool, debug: bool) -> None:
    """A job's log lines (events)."""
    import time

    from lstui.scheduler.daemon import daemon_status
    from lstui.scheduler.follow import FOLLOW_FILES_S, DaemonWatch, files_to_come
    from lstui.store import FINISHED, JobState
    from lstui.views import format_event

    (job_id,) = _parse_job_ids((job,))
    with _store(ctx, existing=True) as store:
        store.get_job(job_id)
        last = 0
        files_by = 0.0  # once finished: how long to wait for the daemon's files ("wrote …")
        # a daemon that ran while following and has been gone DAEMON_GONE_S: said, and the
        # following ends as submit --wait's does (it waited for ever after a kill -9)
        watch = DaemonWatch(store.path.parent)
        if follow and store.job_state(job_id) not in FINISHED and not watch.look(time.monotonic()):
            click.echo(f"note: no daemon is running on this home: job {job_id} makes no progress until "
                       "'lstui daemon start'", err=True)
        while True:
            for event in store.events(job_id, after_id=last):
                last = event.id
                if event.level == "debug" and not debug:
                    continue
                click.echo(format_event(event))
            if not follow:
                break
            if store.job_state(job_id) in FINISHED:
                files_by = files_by or time.monotonic() + FOLLOW_FILES_S
                ended = store.get_job(job_id)
                # a job that ended with no point (failed as it started) has no files to come, nor
                # a comparison's figure job (it drew them as it ran: it waited 60 s for a mark)
                if (not files_to_come(ended) or time.monotonic() > files_by
                        or not daemon_status(store.path.parent).running):
                    for event in store.events(job_id, after_id=last):  # the lines written with the mark
                        if event.level != "debug" or debug:
                            click.echo(format_event(event))
                    if ended.state is not JobState.DONE:  # as submit --wait: a script sees it
                        sys.exit(1)
                    break
            else:
                watch.look(time.monotonic())
                if watch.gone(time.monotonic()):
                    now_at = store.get_job(job_id)
                    click.echo(f"lstui: error: the daemon stopped while logs -f followed job {job_id} "
                               f"({now_at.done_points}/{now_at.total_points} points): lstui daemon start "
                               "goes on with it", err=True)
                    sys.exit(1)
            time.sleep(0.5)


@cli.command("export", short_help="Export figures of a job (by id) or of a surface file.")
@click.argument("target")
@click.option("--format", "formats", default="png,pdf", show_default=True, help="png,pdf,svg,vtp")
@click.option("--out", type=_Folder(), default=None,
              help="folder of the figures [default: the job's results folder, or the file's folder]")
@click.option("--dpi", default=None, type=click.IntRange(20, 1200), help="of PNG figures [default: 300]")
@click.option("--vmin", type=float, default=None, help="lowest contour level (the reference's --vmin); the heatmap's and 3D surface's colour scale too")
@click.option("--vmax", type=float, default=None, help="highest contour level (the reference's --vmax); the heatmap's and 3D surface's colour scale too")
@click.option("--vlevel", type=float, default=None, help="spacing of contour levels (the reference's --vlevel)")
@click.option("--zmax", type=float, default=None, help="clip the 3D surface / VTP at this loss (> 0), the 3D z axis's top")
@click.option("--loss-max", type=float, default=None,
              help="top of a 1D figure's loss axis (the reference's plot_1D.py --loss_max)")
@click.option("--log/--no-log", "log_scale", default=None,
              help="log loss scale [default: when the loss spans two decades or more; on 2D "
                   "figures, leaving out its highest 5 %; a comparison's 1D curves: linear]")
@click.option("--surf-name", "surf_names", default=None,
              help="what 2D figures draw, a comma list of train_loss, test_loss, train_err, test_err "
                   "(100 − accuracy; the reference's --surf_name) [default: the losses]")
@click.option("--proj-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="a projected trajectory to draw over a surface file (the reference's --proj_file) "
                   "[default: DIR_FILE_proj_cos.h5 beside the direction file it names, or lstui's "
                   "projection.h5 beside its pca_directions.h5, if there]")
@click.option("--dir-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="the PCA direction file, for the axes' explained variance (the reference's "
                   "--dir_file) [default: the one the surface file names]")
@click.pass_context
@handle_errors
def export(ctx: click.Context, target: str, formats: str, out: Path | None, dpi: int | None,
           vmin: float | None, vmax: float | None, vlevel: float | None, zmax: float | None,
           log_scale: bool | None, surf_names: str | None, proj_file: Path | None,
           dir_file: Path | None, loss_max: float | None) -> None:
    """Export figures of a job (by id) or of a surface file (lstui's or the reference's).

    A reference trajectory is drawn as its plot_2D.py would: `lstui export SURF_FILE
    --proj-file PROJ_FILE --dir-file DIR_FILE`, or just the surface file when the
    projection lies beside the direction file it names.

    Exits 3 when some points diverged (as `lstui run`), 1 when a file holds no computed
    point, the figures drawn either way; a job with no point yet is refused (2): nothing
    to draw."""
    import math

    import numpy as np

    from lstui.results import read_surface
    from lstui.results.h5files import remove_stale_temporaries
    from lstui.scheduler.daemon import write_finish_mark
    from lstui.scheduler.exporting import (
        SURFACE_FILE,
        check_exportable,
        export_file,
        export_job,
        parse_formats,
        point_counts,
    )
    from lstui.scheduler.follow import EXIT_DIVERGED, diverged_text

    fmt = parse_formats(formats)
    if zmax is not None and not (math.isfinite(zmax) and zmax > 0):
        raise BadInput(f"--zmax must be a positive loss to clip at, not {zmax:g} "
                       "(the reference's -1, no clip, is leaving --zmax out)")
    if loss_max is not None and not (math.isfinite(loss_max) and loss_max > 0):
        raise BadInput(f"--loss-max must be a positive loss, the top of the 1D figure's axis, not {loss_max:g}")
    options: dict[str, Any] = dict(dpi=dpi, vmin=vmin, vmax=vmax, vlevel=vlevel, zmax=zmax, log=log_scale)
    if loss_max is not None:
        options["loss_max"] = loss_max
    if surf_names is not None:
        options["surf_names"] = tuple(dict.fromkeys(n.strip() for n in surf_names.split(",") if n.strip()))
        if not options["surf_names"]:
            raise BadInput("--surf-name is empty; give e.g. train_loss,train_err")
        bounds = [flag for flag, value in (("--vmin", vmin), ("--vmax", vmax), ("--vlevel", vlevel),
                                           ("--zmax", zmax)) if value is not None]
        if bounds and len(options["surf_names"]) > 1:  # an error's 3.5–90 % under a loss's 0.1–10: one colour
            click.echo(f"note: {', '.join(bounds)} apply to each of {', '.join(options['surf_names'])}; "
                       "export them one at a time for bounds of their own", err=True)
    if target.isdigit():
        if proj_file is not None or dir_file is not None:
            raise BadInput(f"--{'proj' if proj_file is not None else 'dir'}-file is for a surface file; "
                           f"job {target} draws its own trajectory (if it is one)")
        (job_id,) = _parse_job_ids((target,))
        with _store(ctx, existing=True) as store:
            job = store.get_job(job_id)
            check_exportable(job)
            # a folder deleted since the job finished: written again here, and marked so (the
            # daemon, which had handled the job, does not); one there is the daemon's to mark
            gone = out is None and job.kind != "figure" and not Path(job.results_dir).is_dir()
            remove_stale_temporaries(out or job.results_dir)  # of an export killed half way
            paths = export_job(store, job, formats=fmt, out=out, **options)
            if gone:
                write_finish_mark(job)
        surface = None if job.kind == "figure" else Path(job.results_dir) / SURFACE_FILE
    else:
        surface = Path(target)
        remove_stale_temporaries(out or surface.parent)
        paths = export_file(surface, out or surface.parent, formats=fmt, proj_file=proj_file,
                            dir_file=dir_file, **options)
    for p in paths:
        click.echo(p)
    if surface is not None:  # the figures say it; so does the exit code, as `lstui run`'s
        drawn = read_surface(surface)
        total = int(np.prod(drawn.shape))
        computed, diverged = point_counts(drawn)
        if not computed:
            click.echo(f"warning: no point of {surface} is computed: its figures show none", err=True)
            sys.exit(1)
        if computed < total:  # the legends say it; a script or a person reading the paths did not see it
            again = " (export again when the job is done)" if target.isdigit() else ""
            click.echo(f"note: partial: {computed:,} of {total:,} points are computed; the figures "
                       f"show those{again}", err=True)
        if diverged:
            click.echo(f"warning: {diverged_text(diverged, total)}; they are drawn as gaps", err=True)
            sys.exit(EXIT_DIVERGED)


@cli.group()
def daemon() -> None:
    """Start, stop or query the scheduler daemon."""


@daemon.command("start")
@click.option("--devices", default=None,
              help="GPU indices (0,2), cpu:N, or ray:N / ray-cpu:N (N GPUs / CPU cores of a Ray cluster); "
                   "default: every GPU, else one CPU worker")
@click.option("--ray-address", default="auto", show_default=True,
              help="the Ray cluster of ray devices (auto: RAY_ADDRESS, or the one `ray start` runs here)")
@click.option("--foreground", is_flag=True, help="run in this terminal")
@click.option("--export", "export_formats", default="png,pdf", show_default=True, help="figures exported when a job finishes ('' for none)")
@click.option("--max-gpu-share", default=0.5, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="leave alone a GPU whose memory other processes use more than this share of")
@click.option("--kill-after", default=30.0, show_default=True, type=click.FloatRange(1.0, 86400.0),
              help="seconds a worker may go on with a point of a job cancelled, paused or failed "
                   "meanwhile (a hung point) before it is killed and a fresh one started")
@click.pass_context
@handle_errors
def daemon_start(ctx: click.Context, devices: str | None, ray_address: str, foreground: bool,
                 export_formats: str, max_gpu_share: float, kill_after: float) -> None:
    """Start the daemon (detached unless --foreground)."""
    import math

    from lstui.scheduler.daemon import main as daemon_main
    from lstui.scheduler.daemon import parse_export_formats, start_daemon
    from lstui.scheduler.devices import RAY_DEVICES, crowded_cpu_note, parse_devices
    from lstui.scheduler.worker import local_point_timeout_s
    from lstui.store import DB_NAME, SCHEMA_VERSION, file_schema_version

    parse_export_formats(export_formats)  # refused here, in one line, not by the daemon it would start
    local_point_timeout_s("cpu")  # a bad $LSTUI_POINT_TIMEOUT_S too, not by each worker
    if math.isnan(max_gpu_share):
        raise SpecError("--max-gpu-share must be a number from 0 to 1, got nan")
    home = _home(ctx)
    version = file_schema_version(_home_path(ctx) / DB_NAME)
    if version is not None and 0 < version < SCHEMA_VERSION:
        _store(ctx).close()  # upgraded here, and said: the daemon would do it without a word
    extra = ["--export", export_formats, "--max-gpu-share", str(max_gpu_share), "--ray-address", ray_address,
             "--kill-after", str(kill_after)]
    parsed = parse_devices(devices)
    crowded = crowded_cpu_note(parsed)
    if crowded:
        click.echo(crowded, err=True)
    if any(d in RAY_DEVICES for d in parsed):
        from lstui.scheduler.daemon import refuse_if_running
        from lstui.scheduler.ray_executor import check_cluster

        refuse_if_running(home)  # said before a cluster is asked (a second, and its errors)

        check_cluster(parsed, ray_address)  # no Ray, no cluster, too few GPUs: one line now
    if foreground:
        args = (["--home", str(home)] if home else []) + (["--devices", devices] if devices else []) + extra
        sys.exit(daemon_main(args))
    try:
        pid = start_daemon(home, devices, extra_args=extra)
    except KeyboardInterrupt:  # (start_daemon stopped it: "interrupted" alone left that unsaid)
        _interrupted("; the daemon it was starting was stopped")
    click.echo(f"daemon started (pid {pid})")


@daemon.command("stop", short_help="Stop the daemon gracefully, keeping every point.")
@click.pass_context
@handle_errors
def daemon_stop(ctx: click.Context) -> None:
    """Stop the daemon gracefully: each worker finishes the point in hand (for up to 30 s;
    one still computing then is killed and its point computed again later) and gives its
    unit back; finished jobs' files are written."""
    import time

    from lstui.scheduler.daemon import stop_daemon

    asked = time.time()
    pid = stop_daemon(_home(ctx))
    if pid is None:
        click.echo("no daemon was running")
        return
    click.echo(f"daemon (pid {pid}) stopped")
    with contextlib.suppress(LstuiError), _store(ctx) as store:
        for event in store.daemon_events(since=asked):
            if "and was killed;" in event.message:
                click.echo(event.message)


TROUBLE_WINDOW_S = 600.0
"""How far back ``lstui daemon status`` looks for why workers are missing."""
STARTING_S = 120.0
"""For this long after it started, a daemon's workers not listed yet are said to be starting."""


def _last_trouble(events: Sequence[Event]) -> str | None:
    """The daemon's latest error line (else warning) and how often it came, as one line."""
    from datetime import datetime

    for level in ("error", "warning"):
        said = [e for e in events if e.level == level]
        if said:
            last = said[-1]
            same = [e for e in said if e.message == last.message]
            when = datetime.fromtimestamp(same[0].ts).strftime("%H:%M:%S")
            times = f" ({len(same)} times since {when})" if len(same) > 1 else f" (at {when})"
            return f"{level}: {last.message}{times}"
    return None


def _daemon_status_json(ctx: click.Context, status: DaemonStatus) -> NoReturn:
    """``daemon status --json``: the daemon, its workers (each one's seconds since its last
    heartbeat), its latest trouble since it started, and the jobs a daemon that ended
    without stopping left running; exit 3 when none runs, as without ``--json``."""
    import json
    import time

    from lstui.scheduler.daemon import listed_workers, locked_in_log
    from lstui.store import JobState

    now = time.time()
    out: dict[str, Any] = {"running": status.running, "pid": status.pid, "suspended": status.suspended,
                           "started": status.started, "devices": list(status.devices), "workers": [],
                           "trouble": None, "stalled_jobs": []}
    with contextlib.suppress(NoStore), _store(ctx, existing=True) as store:  # (no store: no jobs, no workers)
        if status.running:
            out["workers"] = [{"id": w.id, "pid": w.pid, "host": w.host, "device": w.device,
                               "job": w.current_job, "silent_s": round(now - w.heartbeat, 1)}
                              for w in listed_workers(store, now, recent_s=120)]
            since = max(now - TROUBLE_WINDOW_S, status.started or 0.0)
            out["trouble"] = _last_trouble(store.daemon_events(since))
        else:
            out["stalled_jobs"] = [j.id for j in store.list_jobs(include_finished=False)
                                   if j.state is JobState.RUNNING]
    if status.running and out["trouble"] is None:  # a database locked: said in its log, not the store
        out["trouble"] = locked_in_log(_home_path(ctx), status.pid)
    click.echo(json.dumps(out, indent=1))
    sys.exit(0 if status.running else 3)


def _stalled_jobs(ctx: click.Context) -> str:
    """What `daemon status` adds when no daemon runs but jobs were left running (a daemon
    killed, the machine rebooted): they wait for one."""
    from lstui.store import JobState

    try:
        with _store(ctx, existing=True) as store:
            left = [j.id for j in store.list_jobs(include_finished=False) if j.state is JobState.RUNNING]
    except LstuiError:
        return ""
    if not left:
        return ""
    which = ", ".join(map(str, left[:5])) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
    return (f"; job{'s' if len(left) > 1 else ''} {which} stalled (left running by a daemon that "
            f"ended without stopping): lstui daemon start resumes {'them' if len(left) > 1 else 'it'}")


@daemon.command("status", short_help="Whether a daemon runs, its workers, and its troubles.")
@click.option("--json", "as_json", is_flag=True, help="one JSON object (for scripts); exit 3 still when none runs")
@click.pass_context
@handle_errors
def daemon_status_cmd(ctx: click.Context, as_json: bool) -> None:
    """Whether a daemon runs, and its workers (and, when some are missing, why); exit 3
    when none runs."""
    import time
    from collections import Counter

    from lstui.scheduler.daemon import daemon_status, listed_workers, locked_in_log, process_stopped
    from lstui.views import STALE_HEARTBEAT_S

    status = daemon_status(_home(ctx))
    if as_json:
        _daemon_status_json(ctx, status)
    if not status.running:
        click.echo("daemon: not running" + _stalled_jobs(ctx))
        sys.exit(3)
    _note_if_disk_full(ctx)
    counts = Counter(status.devices)  # cpu:2 is two workers on "cpu"
    devices = ", ".join(d if n == 1 else f"{d} ×{n}" for d, n in counts.items())
    pid = status.pid if status.pid is not None else "unknown"
    # its pid file moved or damaged: "running (pid None) on " said nothing of what it runs on
    on = f" on {devices}" if devices else " (its pid file is unreadable: what it runs on is not known)"
    click.echo(f"daemon: running (pid {pid}){on}")
    with _store(ctx, existing=True) as store:
        now = time.time()
        workers = listed_workers(store, now, recent_s=120)
        if status.suspended:  # it looked running, a job's ETA growing, nothing computed
            import socket

            here = socket.gethostname()  # (a Ray worker's pid is of another machine)
            going = [w for w in workers if not (w.host == here and process_stopped(w.pid))]  # (SIGSTOP to it alone)
            what = ("its workers go on computing, but the files and figures of the jobs that finish wait, "
                    "and no worker is restarted," if going else "it computes nothing")
            # (a detached daemon leads a session of its own: no terminal to `fg` it in)
            fg = "fg in its terminal, or " if status.pid is None or _session_of(status.pid) != status.pid else ""
            click.echo(f"  but stopped (Ctrl-Z or SIGSTOP): {what} until continued ({fg}kill -CONT {pid}); "
                       "lstui daemon stop continues and stops it")
        for w in workers:
            job = f"job {w.current_job}" if w.current_job else "idle"
            # a worker stopped (SIGSTOP), or stuck on a locked database, beats no more
            silent = now - w.heartbeat
            quiet = f" (no heartbeat for {silent:.0f} s)" if silent > STALE_HEARTBEAT_S else ""
            click.echo(f"  worker {w.id} pid {w.pid} {w.device}: {job}{quiet}")
        if len(workers) < len(status.devices):  # some do not start, or keep stopping: why
            click.echo(f"  {len(workers)} of {len(status.devices)} workers running")
            # this daemon's troubles: not those of one stopped before it started
            since = max(time.time() - TROUBLE_WINDOW_S, status.started or 0.0)
            trouble = _last_trouble(store.daemon_events(since)) or locked_in_log(_home_path(ctx), status.pid)
            if trouble:
                click.echo(f"  {trouble}")
            elif status.started is not None and 0 <= now - status.started < STARTING_S:
                # right after `daemon start` "0 of 2 workers running" alone read as a failure
                click.echo(f"  (starting: the daemon started {now - status.started:.0f} s ago, and each worker "
                           "loads PyTorch before it is listed)")


def _trajectory_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--checkpoints", "checkpoint_items", multiple=True, required=True,
                      help="a path or glob (sorted naturally: model_2 before model_10), taken whole first "
                           "(folders named lr=0.1,bs=128 or run[1] work), else a comma-separated list (as "
                           "given); in training order; the last is the centre")(fn)
    fn = click.option("--projection", default="cos", show_default=True, type=click.Choice(PROJECTIONS),
                      help="how a checkpoint's offset d from the last is put on the plane, as the reference's "
                           "--proj_method: cos, d·dx/‖dx‖ and d·dy/‖dy‖; lstsq, the least-squares x, y of "
                           "x·dx + y·dy ≈ d, the α, β of the surface's axes (the same on orthonormal directions, "
                           "PCA's; a surface's random --dir-file directions are not: there cos "
                           "is not where the path lies on the surface)")(fn)
    fn = click.option("--num", default=21, show_default=True, type=int, help="grid points per axis when --x/--y are not given")(fn)
    fn = click.option("--origin", default="own", show_default=True, type=click.Choice(ORIGINS),
                      help="where (0, 0) and the surface's centre are: this run's last checkpoint (the "
                           "reference's), or, with an lstui plane as --dir-file, that plane's own, its "
                           "run's path drawn beside: both paths in one frame")(fn)
    return fn


def _trajectory_spec_and_plane(
    flags: dict[str, Any], plane_for: Callable[[JobSpec, str], TrajectoryPlane]
) -> tuple[JobSpec, TrajectoryPlane]:
    """Expand the checkpoints, run the PCA (``plane_for``: into which folder), and
    return the job's spec and its plane."""
    from lstui.scheduler.trajectory import expand_checkpoints, plan_trajectory

    _refuse_unused("trajectory")
    items = flags.pop("checkpoint_items")
    num = flags.pop("num")
    origin = flags.pop("origin")
    x_given = flags.get("x") is not None
    y_given = flags.get("y") is not None
    flags["x"] = flags.get("x") or "-1:1:3"
    flags["checkpoints"] = tuple(expand_checkpoints(items))
    if num < 2 or num > 1001:
        raise SpecError(f"--num must be between 2 and 1001, got {num}")
    if flags.get("norm") == "filter":
        flags["norm"] = "none"
    spec, plane = plan_trajectory(spec_from_flags("trajectory", flags), plane_for,
                                  x_given=x_given, y_given=y_given, num=num, origin=origin)
    _note_trajectory(plane, spec, x_given=x_given, y_given=y_given)
    return spec, plane


def _drop_plane(plane: TrajectoryPlane) -> None:
    """Remove the folder made for ``plane`` (under the home's ``trajectories/``), whose
    job was not queued."""
    import shutil

    shutil.rmtree(Path(plane.dir_file).parent, ignore_errors=True)


def _note_plane(plane: TrajectoryPlane, spec: JobSpec) -> None:
    from lstui.scheduler.trajectory import plane_note

    click.echo(f"note: {plane_note(plane, spec)}", err=True)


def _note_trajectory(plane: TrajectoryPlane, spec: JobSpec, *, x_given: bool, y_given: bool) -> None:
    from lstui.scheduler.trajectory import path_outside, trajectory_notes

    outside = path_outside(plane, spec.x, spec.y)
    for note in ([outside] if outside else []) + trajectory_notes(spec, plane, x_given=x_given, y_given=y_given):
        click.echo(f"note: {note}", err=True)


@run.command("trajectory", short_help="A training run's PCA plane, its path and the surface on it.")
@job_options(None, kind="trajectory")
@_trajectory_options
@_with(_run_extra)
@handle_errors
def run_trajectory(out: Path | None, device: str, no_figure: bool, **flags: Any) -> None:
    """PCA of a training run's checkpoints, the surface on that plane, the path over it."""
    from lstui.scheduler.foreground import run_foreground

    out_dir = out if out is not None else Path("lstui-out") / "trajectory"
    spec = _plane_into(out_dir, flags)
    sys.exit(run_foreground(spec, out_dir, device=device, figure=not no_figure))


def _plane_into(out_dir: Path, flags: dict[str, Any]) -> JobSpec:
    """``run trajectory``'s plane, made beside ``out_dir`` and moved in only once the
    folder is known to hold this trajectory or none: a refused ``--out`` (another run's)
    kept its surface but had its plane and path overwritten by the new run's."""
    import dataclasses
    import os
    import shutil

    from lstui.results.h5files import make_private_dirs
    from lstui.scheduler.compute import existing_points
    from lstui.scheduler.trajectory import (
        PCA_DIRECTIONS_FILE,
        PLANE_PROJECTION_FILE,
        PROJECTION_FILE,
        compute_plane,
    )

    staging = out_dir.parent / f".{out_dir.name}.plane-{os.getpid()}"
    try:
        spec, plane = _trajectory_spec_and_plane(
            flags, lambda spec, origin: compute_plane(spec, staging, origin=origin))
        final = (out_dir / PCA_DIRECTIONS_FILE).expanduser().resolve()
        spec = dataclasses.replace(spec, dir_file=str(final))
        existing_points(spec, out_dir)  # another run's folder: refused before anything of it changes
        make_private_dirs(out_dir)
        for name in (PCA_DIRECTIONS_FILE, PROJECTION_FILE, PLANE_PROJECTION_FILE):
            if (staging / name).exists() or name != PLANE_PROJECTION_FILE:
                os.replace(staging / name, out_dir / name)
            else:  # no plane's own path to draw beside (not --origin plane): none left from before
                (out_dir / name).unlink(missing_ok=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _note_plane(dataclasses.replace(plane, dir_file=final, projection_file=final.parent / PROJECTION_FILE), spec)
    return spec


@submit.command("trajectory", epilog=_SUBMIT_EPILOG,
                short_help="Queue a trajectory: its PCA plane now, then the surface on it.")
@job_options(None, kind="trajectory")
@_trajectory_options
@click.option("--priority", default=0, show_default=True, type=int,
              help="higher runs first; of equal ones, a running job, then in the order queued")
@click.pass_context
@handle_errors
def submit_trajectory(ctx: click.Context, **flags: Any) -> None:
    """Queue a trajectory: PCA now (streaming), then the surface on the PCA plane
    (--dir-file: on that file's plane instead)."""
    from lstui.scheduler.trajectory import plane_in_new_dir

    with _store(ctx) as store:
        home = store.path.parent

    priority = flags.pop("priority", 0)
    spec, plane = _trajectory_spec_and_plane(
        flags, lambda spec, origin: plane_in_new_dir(home, spec, origin=origin))
    _queue_and_report(ctx, spec, priority, plane)


@cli.command("compare", short_help="Queue the comparison of minimizers A B [C …], with its figures.")
@click.argument("checkpoints", nargs=-1, required=True)
@click.option("--model", default="cnn", show_default=True)
@click.option("--data", default="digits", show_default=True)
@click.option("--x", "curve_x", default="-1:1:41", show_default=True,
              help="grid of the 1D curves (a point every 0.05: the sharpness table's ±0.25, ±0.5, ±1 are on it)")
@click.option("--surface", "surface_grid", default="-1:1:51", show_default=True, help="grid of each axis of the 2D surfaces")
@click.option("--interp-x", default=INTERP_X, show_default=True, help="grid of the interpolations")
@click.option("--split", default="train", show_default=True, type=click.Choice(SPLITS))
@click.option("--loss", "--loss-name", "loss", default="ce", show_default=True, type=click.Choice(LOSSES),
              help="ce: cross-entropy; mse: the softmax of the logits against one-hot classes")
@click.option("--subset", default=None, help="a count or fraction of the train split (seeded); the test split is cut to the same count")
@click.option("--raw-data", is_flag=True, help="skip input normalisation")
@click.option("--seed", default=123, show_default=True, type=int, help="of the random directions and the subset")
@click.option("--precision", default="fp32", show_default=True, type=click.Choice(PRECISIONS),
              help="as for lstui submit surface")
@click.option("--bn", default="eval", show_default=True, type=click.Choice(BN_MODES),
              help="eval: running statistics; recompute: re-estimate them at every point, over equal training batches of at most --batch-size (1024 if not given) on every device")
@click.option("--batch-size", default=None, type=int, help="samples per forward pass (default: by device)")
@click.option("--trust-checkpoint", is_flag=True, help="allow checkpoints holding arbitrary pickled objects")
@click.option("--labels", default=None, help="comma-separated labels, one per checkpoint")
@click.option("--name", default="", help="a prefix for the job names")
@click.option("--wait", is_flag=True, help="follow the jobs until they finish and their files are written; exit 1 if one fails or is cancelled, 3 if all finish but some points are NaN/inf (an interpolation's BatchNorm statistics often are beyond its ends)")
@click.pass_context
@handle_errors
def compare(ctx: click.Context, checkpoints: tuple[str, ...], curve_x: str, surface_grid: str, interp_x: str,
            labels: str | None, name: str, wait: bool, **flags: Any) -> None:
    """Queue the comparison of minimizers A B [C …]: interpolations, 1D/2D surfaces, figures.

    The interpolations go between neighbours in the order given (A→B, B→C; not A→C).

    The figures include a sharpness table: for each minimizer, along its 1D curve (a
    filter-normalised random direction), loss@0 = L(0) and Δloss@d = ½ (L(−d) + L(+d))
    − L(0) at d = 0.25, 0.5 and 1, L the train loss (the test loss of --split test)."""
    from lstui.scheduler.compare import queue_comparison

    label_list = [s.strip() for s in labels.split(",")] if labels else None
    if label_list is not None and len(label_list) != len(checkpoints):
        raise SpecError(f"--labels gives {len(label_list)} label{'s' if len(label_list) != 1 else ''} "
                        f"for {len(checkpoints)} checkpoints")
    if label_list is not None and (not all(label_list) or len(set(label_list)) < len(label_list)):
        raise SpecError(f"--labels {labels!r}: give each checkpoint a label of its own, none empty")
    for checkpoint in checkpoints:  # named as compare's arguments, not as the flags they become
        if not Path(checkpoint).expanduser().is_file():
            what = "is a folder" if Path(checkpoint).expanduser().is_dir() else "no such file"
            raise SpecError(f"checkpoint {checkpoint!r}: {what}")
    import numpy as np

    from lstui.scheduler.compare import (
        has_centre,
        left_out_distances,
        off_grid_distances,
        off_grid_names,
    )

    base = JobSpec(**flags).validated()
    axis = parse_axis(surface_grid, "--surface")
    curve_axis = parse_axis(curve_x, "--x")
    interp_axis = parse_axis(interp_x, "--interp-x")
    if not has_centre(curve_axis.coordinates):
        raise SpecError(f"--x {curve_x} has no point at 0, the minimizer itself: the sharpness table is "
                        "measured from its loss there; give a grid through 0 (an odd count, as -1:1:41)")
    off_grid = off_grid_distances(curve_axis.coordinates)
    if off_grid:
        click.echo(f"note: --x {curve_x} has no points at {off_grid_names(off_grid)}: the sharpness "
                   "table interpolates those values between grid points (a point every 0.05, as "
                   "-1:1:41 has, gives them exactly)", err=True)
    left_out = left_out_distances(curve_axis.coordinates)
    if left_out:  # a value there would be drawn from L(0): a share of the next Δloss, no measure
        click.echo(f"note: --x {curve_x} has no point between the centre and {off_grid_names(left_out)}: "
                   "the sharpness table leaves those columns out (a point every 0.05, as -1:1:41 has, "
                   "gives them)", err=True)
    ends = [a for a in (0, 1) if not np.isclose(interp_axis.coordinates, a, rtol=0, atol=1e-9).any()]
    if ends:
        click.echo(f"note: --interp-x {interp_x} has no point at α = {' and '.join(map(str, ends))}, "
                   f"{'the minimizers' if len(ends) == 2 else 'a minimizer'} themselves: the curves pass "
                   "between their losses unmeasured (-0.5:1.5:41 has both)", err=True)
    def say(plan: Any) -> None:  # (before an interrupt that came as they were queued)
        twins = _comparison_twins(store, plan)
        for job_id in plan.all:
            click.echo(job_id)
        if twins:
            click.echo(twins, err=True)
        click.echo(f"figures will be in job {plan.figure}'s results folder (lstui show {plan.figure})", err=True)

    with _store(ctx) as store:
        plan = queue_comparison(
            store, list(checkpoints), base,
            curve_x=curve_axis, surface_x=axis, surface_y=axis,
            interp_x=interp_axis, labels=label_list, name=name, queued=say,
        )
    _warn_if_no_daemon(ctx)
    if wait:
        sys.exit(_follow(ctx, list(plan.all)))


@cli.command("demo", short_help="Train small- and large-batch CNNs on digits and compare them.")
@click.option("--out", type=_Folder(), default=Path("lstui-demo"), show_default=True,
              help="its folder: the figures in OUT/figures (an earlier demo's copies there replaced), "
                   "the trained checkpoints in OUT/checkpoints (an earlier demo's replaced)")
@click.option("--quick", is_flag=True,
              help="a shorter run, for CI: the large-batch run is undertrained (about 77 % train "
                   "accuracy), so its sharpness is not the paper's comparison")
@click.option("--devices", default=None,
              help="devices for the daemon it starts if none runs [default: every GPU, else cpu:2]")
@click.pass_context
@handle_errors
def demo(ctx: click.Context, out: Path, quick: bool, devices: str | None) -> None:
    """Train small- and large-batch CNNs on digits, compare them, and write the figures."""
    from lstui.scheduler.demo import run_demo

    sys.exit(run_demo(_home(ctx), out, quick=quick, devices=devices))


def _interrupt_on_termination() -> None:
    """SIGTERM (``kill``) and SIGHUP (an SSH connection dropped) end a command as Ctrl-C
    does: `lstui run` writes the points it holds, `lstui export` leaves no half file,
    and the line says so. (The daemon and the TUI set their own handlers.)"""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_DFL:  # not when started with nohup
            signal.signal(signum, interrupt)


def home_first(args: Sequence[str]) -> list[str]:
    """``args`` with a ``--home D`` (or ``--home=D``) given after the command moved before
    it, where the group reads it: ``lstui ls --home D`` said "No such option '--home'".
    Nothing after ``--`` moves.

    Raises:
        click.UsageError: a ``--home`` last, without its folder.
    """
    args = list(args)
    moved: list[str] = []
    n = 0
    while n < len(args) and args[n] != "--":
        if args[n] == "--home" and n + 1 == len(args):
            raise click.UsageError("--home needs a folder: lstui --home FOLDER COMMAND …")
        if args[n] == "--home":
            moved += args[n : n + 2]
            del args[n : n + 2]
        elif args[n].startswith("--home="):
            moved.append(args.pop(n))
        else:
            n += 1
    return moved + args


DRAWING_FLAGS = ("--vmin", "--vmax", "--vlevel", "--zmax", "--log", "--proj-file", "--surf-name", "--loss-max")
"""Flags of the reference's plot_2D.py / h52vtp.py: ``lstui export``'s, not a job's."""
EMPTY_MEANS_NONE = ("--xnorm", "--ynorm", "--xignore", "--yignore", "--norm", "--ignore")


def reference_flags(args: Sequence[str]) -> list[str]:
    """``args`` with the reference's spellings of flags made lstui's: ``--model_file`` as
    ``--model-file``, ``--loss_name crossentropy`` as ``--loss-name ce``, ``--xnorm ''``
    (its default: no normalisation) as ``--xnorm none``. A flag of the reference that
    lstui has no use for (``--mpi``, ``--surf_file``) is refused in one line saying what
    to do instead, and a drawing flag given to a job points at ``lstui export``. Nothing
    after ``--`` is touched, nor a value (one that starts with ``--`` is read as a flag).

    Raises:
        click.UsageError: a reference flag lstui does not take.
    """
    out = list(args)
    command, k = "", 0
    while k < len(out) and not command:  # the first word that is no option (nor --home's folder)
        k, command = (k + 2, "") if out[k] == "--home" else (k + 1, "" if out[k].startswith("-") else out[k])
    n = 0
    while n < len(out) and out[n] != "--":
        token = out[n]
        if not token.startswith("--") or token == "--":
            n += 1
            continue
        name, eq, value = token.partition("=")
        name = name.replace("_", "-")
        if name == "--loss-name":  # compare has --loss alone
            name = "--loss"
        if name == "--surf-file" and command == "export":
            raise click.UsageError(f"{token.partition('=')[0]}: give the surface file as lstui export FILE")
        if name in REFERENCE_ONLY:
            raise click.UsageError(f"{token.partition('=')[0]}: {REFERENCE_ONLY[name]}")
        if name in DRAWING_FLAGS and command in ("run", "submit", "compare"):
            raise click.UsageError(f"{token.partition('=')[0]} is a drawing option: lstui export "
                                   f"takes it (lstui export JOB {name} …)")
        takes_value = not eq and n + 1 < len(out)
        if name == "--loss":
            if eq and value == "crossentropy":
                value = "ce"
            elif takes_value and out[n + 1] == "crossentropy":
                out[n + 1] = "ce"
        if name in EMPTY_MEANS_NONE:
            if eq and value == "":
                value = "none"
            elif takes_value and out[n + 1] == "":
                out[n + 1] = "none"
        out[n] = f"{name}{eq}{value}" if eq else name
        n += 1
    return out


def _note_x_flags_only(args: Sequence[str]) -> None:
    """A 2D surface given the reference's ``--xnorm``/``--xignore`` and no ``--ynorm``/
    ``--yignore``: lstui's y takes x's settings, where plot_surface.py's would take its
    own defaults (not normalised, nothing ignored). Said, since the numbers differ."""
    def given(flag: str) -> bool:
        return any(a == flag or a.startswith(flag + "=") for a in args)

    def value(flag: str) -> str | None:  # the last value given
        found = None
        for n, a in enumerate(args):
            if a.startswith(flag + "="):
                found = a.split("=", 1)[1]
            elif a == flag and n + 1 < len(args):
                found = args[n + 1]
        return found

    x_flags = [f for f in ("--xnorm", "--xignore") if given(f)]
    # both '' (none): y takes none and none, as plot_surface.py's does: no difference to say
    as_reference = all(value(f) in ("", "none") for f in ("--xnorm", "--xignore"))
    surface = any(a == "surface" and n and args[n - 1] in ("run", "submit") for n, a in enumerate(args))
    if surface and given("--y") and x_flags and not as_reference and not (given("--ynorm") or given("--yignore")):
        _LATER_NOTES.append(f"{' and '.join(x_flags)} set y's direction too (lstui treats both alike); "
                            "plot_surface.py's y would take --ynorm '' --yignore '' (not normalised, "
                            "nothing ignored)")


_LATER_NOTES: list[str] = []
"""Notes on how the command line was read, said once the job is queued or computed (not
before an error, which is then the one line)."""


_GLYPHS_SAID: list[bool] = []


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: object = None, line: str | None = None) -> None:
    """A warning from a library (matplotlib, torch) as one line, without its source line;
    the figures' missing glyphs (a name in a script the font lacks), once, not a line each."""
    text = " ".join(str(message).split())
    if text.startswith("Glyph ") and "missing from font" in text:
        if _GLYPHS_SAID:
            return
        _GLYPHS_SAID.append(True)
        text = f"the figures' font lacks some characters of their text, drawn as boxes ({text})"
    try:
        click.echo(f"lstui: warning: {text}", err=True)
    except (OSError, ValueError):  # stderr gone (a closed pipe, a dropped terminal): as Python's, dropped
        pass


def main(argv: list[str] | None = None) -> None:
    """Console entry point: usage errors become one line and exit code 2."""
    from lstui import glyphs

    glyphs.register()
    for stream in (sys.stdout, sys.stderr):  # a terminal that is not UTF-8: plain stand-ins, not a traceback
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors=glyphs.ERRORS)
    _interrupt_on_termination()
    _LATER_NOTES.clear()  # (a process may call main more than once: the tests do)
    _GLYPHS_SAID.clear()
    shown_before = warnings.showwarning
    warnings.showwarning = _show_warning
    no_command = getattr(click.exceptions, "NoArgsIsHelpError", ())
    args: list[str] = []
    try:
        args = reference_flags(home_first(sys.argv[1:] if argv is None else argv))
        _note_x_flags_only(args)
        code = cli.main(args=args, prog_name="lstui", standalone_mode=False)
    except no_command as exc:  # `lstui submit`, `lstui daemon` alone: their help, not an error line,
        assert exc.ctx is not None  # but on stderr and exit 2: `id=$(lstui submit $(ls *.toml))` of no file
        click.echo(exc.ctx.get_help(), err=True)  # got the help as its id, and exit 0
        sys.exit(2)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        if "--checkpoints" in args and exc.format_message().startswith("Got unexpected extra argument"):
            # `--checkpoints run/model_*.t7` unquoted: the shell gave the files one by one
            hint = " (quote --checkpoints' glob, as in --checkpoints 'run/model_*.t7': the shell expanded it)"
        click.echo(f"lstui: error: {exc.format_message()}{hint}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"lstui: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.Abort:
        _interrupted("")
    finally:
        warnings.showwarning = shown_before
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
