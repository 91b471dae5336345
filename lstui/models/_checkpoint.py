"""Reading checkpoints safely and fitting them to models.

A checkpoint is whatever ``torch.save`` wrote: a bare state dict, or a dict that holds one
under ``state_dict`` (the reference's layout), ``model_state_dict``, ``model`` or ``net``.
Keys may carry the ``module.`` prefix of ``DataParallel`` (or ``_orig_mod.`` of
``torch.compile``), and a wrapper's prefix (Lightning's ``model.``, ``AveragedModel``'s
``module.``); they are fitted to the model's own keys, which may carry such a prefix
themselves. Files are unpickled with ``weights_only=True`` unless the person trusts them.
"""

from __future__ import annotations

import io
import pickle
import pickletools
import re
import warnings
import zipfile
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import torch
from torch import nn

from lstui.errors import CheckpointError, LstuiError, described

#: Keys under which training scripts commonly keep the state dict, in order of preference.
STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model", "net")

#: Key prefixes added by wrappers around the model, stripped when every key has one.
WRAPPER_PREFIXES = ("module.", "_orig_mod.")

#: The buffer ``torch.optim.swa_utils.AveragedModel`` keeps beside its ``module.`` keys:
#: how many models it averaged, no weight of the model's.
AVERAGED_COUNT = "n_averaged"

_UNSUPPORTED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def load_checkpoint(path: str | Path, *, trust: bool = False) -> dict[str, torch.Tensor]:
    """Read the state dict a checkpoint file holds, onto the CPU.

    Args:
        path: the file ``torch.save`` wrote.
        trust: unpickle anything the file holds (``weights_only=False``). Only for
            files from a trusted source: unpickling can run arbitrary code.

    Returns:
        The state dict, with ``module.`` prefixes stripped.

    Raises:
        CheckpointError: the file is missing, is a directory, is not a torch checkpoint
            (or is one cut short), holds objects other than tensors (without ``trust``),
            holds no state dict, or holds a NaN.
    """
    file = Path(path).expanduser()
    if not file.exists():
        raise CheckpointError(f"checkpoint {str(file)!r} does not exist")
    if file.is_dir():
        raise CheckpointError(f"checkpoint {str(file)!r} is a directory, not a file")
    if _is_safetensors(file):
        raise CheckpointError(
            f"checkpoint {str(file)!r} is a safetensors file, which lstui does not read: convert it "
            "with safetensors.torch.load_file and torch.save the dict it returns"
        )
    plain = _plain_pickle(file)
    _check_checksums(file)
    try:
        if plain and trust:  # (torch.load unpickles it whole as its "magic number", then fails)
            stored = _load_plain_pickle(file)
        else:
            with warnings.catch_warnings():  # torch's "Detected pickle protocol 4 … file an issue"
                warnings.filterwarnings("ignore", message="Detected pickle protocol")
                warnings.filterwarnings("ignore", message="Validating sparse tensor")  # (refused later)
                stored = torch.load(file, map_location="cpu", weights_only=not trust)
    except CheckpointError:
        raise
    except Exception as error:  # any failure to read means the file is not usable
        if plain:  # its tensors are pickled objects: it cannot be read as tensors only
            raise CheckpointError(
                f"checkpoint {str(file)!r} is a plain pickle (pickle.dump), not a torch.save file; "
                "--trust-checkpoint loads it with pickle if you trust the file"
            ) from error
        raise CheckpointError(_unreadable(file, error, trust)) from error
    state = strip_wrapper_prefixes(_find_state_dict(stored, file))
    _check_has_data(state, file)
    _check_no_nan(state, file)
    return state


def _check_checksums(file: Path) -> None:
    """Refuse a torch.save archive one of whose parts fails its CRC-32: torch.load reads a
    flipped bit as a weight (25 values of 373 in a walk's copy) and a job, or a retry,
    computed a surface of it. Parts saved without a CRC (``set_crc32_options(False)``
    writes 0) are not checked."""
    try:
        if not zipfile.is_zipfile(file):
            return
        with zipfile.ZipFile(file) as archive:
            for part in archive.infolist():
                if part.CRC == 0:
                    continue
                with archive.open(part) as stream:  # raises BadZipFile at its end on a bad CRC
                    while stream.read(1 << 24):
                        pass
    except zipfile.BadZipFile as error:
        if "CRC" not in str(error):
            return  # not an archive zipfile reads: torch.load says what it is
        raise CheckpointError(
            f"checkpoint {str(file)!r} is damaged: a part of it fails its checksum ({error}); a bit "
            "changed on the disk or in a copy: copy it again from where it was saved"
        ) from None
    except OSError as error:
        raise CheckpointError(_unreadable(file, error, False)) from error


def _check_has_data(state: Mapping[str, torch.Tensor], file: Path) -> None:
    """Refuse tensors with no data (on the ``meta`` device: a model built there and saved
    before its weights were made): loading them failed in a 60-line traceback."""
    empty = [key for key, value in state.items() if isinstance(value, torch.Tensor) and value.is_meta]
    if empty:
        more = f" and {len(empty) - 1} more" if len(empty) > 1 else ""
        raise CheckpointError(
            f"checkpoint {str(file)!r} holds tensors with no data (on the meta device): {empty[0]}{more}; "
            "it was saved from a model whose weights were never made"
        )


def has_running_statistics(path: str | Path, *, trust: bool = False) -> bool:
    """Whether a checkpoint holds BatchNorm running statistics; False for one that cannot
    be read (said where it is read for the job)."""
    try:
        state = load_checkpoint(path, trust=trust)
    except LstuiError:
        return False
    return any(key.endswith(("running_mean", "running_var")) for key in state)


def _check_no_nan(state: Mapping[str, torch.Tensor], file: Path) -> None:
    """Refuse a state dict with a NaN in a floating-point tensor: every point of a
    landscape around it would be NaN, and the landscape, not the file, would be blamed.
    An infinity is let through: a model may keep one on purpose (an attention mask of
    −inf in a buffer). Integer tensors (``num_batches_tracked``) hold neither."""
    bad = [key for key, value in state.items() if _dense_float(value) and bool(torch.isnan(value).any())]
    if bad:
        more = f" and {len(bad) - 1} more tensor{'s' if len(bad) > 2 else ''}" if len(bad) > 1 else ""
        raise CheckpointError(
            f"checkpoint {str(file)!r} holds NaN in {bad[0]}{more}: the run that saved it had "
            "diverged; leave it out, or take an earlier one"
        )


#: How a file ``torch.save`` wrote begins: a zip archive (PyTorch 1.6 and later) or a pickle
#: of protocol 2 or more (the legacy format).
_CHECKPOINT_MAGIC = (b"PK\x03\x04", b"\x80")

#: How much of a reader's own message a one-line error quotes.
_REASON_CHARS = 120

#: What PyTorch and pickle say when a legacy (pickle) checkpoint ends early.
_PICKLE_CUT_SHORT = ("unexpected EOF", "pickle data was truncated", "Ran out of input")


_LEGACY_TORCH_MAGIC = b"\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
"""How a legacy (pickle, before zip) ``torch.save`` file begins, after the pickle's
protocol (and, from protocol 4, frame) opcodes: its magic number, pickled as a long. A
plain ``pickle.dump`` of a state dict has none."""


def _is_safetensors(file: Path) -> bool:
    """Whether ``file`` is laid out as a safetensors file: an 8-byte little-endian header
    length, then a JSON header (``{"``) that fits in the file. It was called "neither a zip
    archive nor a pickle", or (when the length's low byte is 0x80) a plain pickle."""
    try:
        with file.open("rb") as handle:
            head = handle.read(10)
        size = file.stat().st_size
    except OSError:
        return False
    if len(head) < 10 or head[8:10] != b'{"':
        return False
    return 2 <= int.from_bytes(head[:8], "little") <= size - 8


def _plain_pickle(file: Path) -> bool:
    """Whether ``file`` is a pickle (protocol 2 or later) that ``torch.save`` did not write
    (``pickle.dump`` of a state dict: torch.load said "Invalid magic number", or, tensors
    only, "Unsupported operand", and ``--trust-checkpoint`` was a dead end)."""
    try:
        with file.open("rb") as handle:
            head = handle.read(32)
    except OSError:
        return False
    return head.startswith(b"\x80") and _LEGACY_TORCH_MAGIC not in head


class _CpuUnpickler(pickle.Unpickler):
    """A plain pickle's tensors onto the CPU: pickled by themselves, each is a
    ``torch.save`` of its storage, loaded where it was saved from (a GPU, on a machine
    that may have none)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return lambda data: torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
        return super().find_class(module, name)


def _load_plain_pickle(file: Path) -> object:
    """A trusted plain pickle's object, its tensors on the CPU."""
    try:
        with file.open("rb") as handle:
            return _CpuUnpickler(handle).load()  # the person vouched for the file (--trust-checkpoint)
    except Exception as error:
        unimportable = _unimportable_class(file, error)
        if unimportable is not None:
            raise CheckpointError(unimportable) from error
        raise CheckpointError(f"{str(file)!r} is not a readable pickle ({described(error)[:_REASON_CHARS]})") from error


def _unreadable(file: Path, error: Exception, trust: bool) -> str:
    try:
        with file.open("rb") as handle:
            head = handle.read(4)
    except OSError as denied:  # (permission denied was called a zip archive cut short)
        return f"cannot read {str(file)!r}: {denied.strerror or denied}"
    unimportable = _unimportable_class(file, error) if trust else None
    if unimportable is not None:
        return unimportable
    if not head.startswith(_CHECKPOINT_MAGIC):
        what = "is empty" if not head else "is neither a zip archive nor a pickle"
        return f"{str(file)!r} is not a torch checkpoint: it {what}"
    message = str(error)
    if head.startswith(b"PK") and not _zip_is_whole(file):
        return (
            f"{str(file)!r} is not a readable torch checkpoint: it looks truncated or damaged "
            "(a zip archive whose end is missing)"
        )
    if head.startswith(b"\x80") and (
        isinstance(error, EOFError) or any(cut in message for cut in _PICKLE_CUT_SHORT)
    ):
        return (
            f"{str(file)!r} is not a readable torch checkpoint: it looks truncated "
            "(a legacy pickle that ends early)"
        )
    if not trust and message.startswith("Weights only load failed"):
        found = sorted(set(_UNSUPPORTED_GLOBAL.findall(message)))
        if found:
            return (
                f"checkpoint {str(file)!r} holds objects other than tensors "
                f"({', '.join(found)}); --trust-checkpoint loads it if you trust the file"
            )
        reason = message.rsplit("WeightsUnpickler error:", 1)[-1].strip().splitlines()[0]
        return (
            f"checkpoint {str(file)!r} cannot be read as tensors only ({reason}); "
            "--trust-checkpoint loads it if you trust the file"
        )
    detail = described(error)
    if len(detail) > _REASON_CHARS:
        detail = detail[: _REASON_CHARS - 1].rstrip() + "…"
    return f"{str(file)!r} is not a readable torch checkpoint ({detail})"


_CANT_GET_ATTRIBUTE = re.compile(r"Can't get attribute '([\w.]+)' on <module '([\w.]+)'")
"""What pickle says of a class its module no longer (or never) holds."""


def _unimportable_class(file: Path, error: Exception) -> str | None:
    """What to say of a trusted pickle naming a class that cannot be imported here (a whole
    model, ``torch.save(model)``, from a training script's ``__main__`` or a module not on
    the path), or None for another failure: pickle's bare "Can't get attribute 'Net' on
    <module '__main__'…>" came after the --trust-checkpoint lstui itself had suggested."""
    found = _CANT_GET_ATTRIBUTE.search(str(error)) if isinstance(error, AttributeError) else None
    if found is None and not (isinstance(error, ModuleNotFoundError) and error.name):
        return None
    named = _pickled_globals(file)
    if found is not None:
        # the pickle's name for it: this process's __main__ may be shown by its spec's name
        attribute, shown = found.group(1), f"{found.group(2)}.{found.group(1)}"
        pickled = [name for name in named if name.endswith(f".{attribute}")]
        wanted = shown if shown in pickled or not pickled else pickled[0]
        module = wanted[: -len(attribute) - 1]
    else:
        module = str(getattr(error, "name", ""))
        wanted = next((name for name in named if name.startswith(f"{module}.")), f"in {module}")
    # a pickled module holds its parameters and, mostly, submodules of torch's
    whole = any(name.startswith("torch.nn.modules.") or name == "torch._utils._rebuild_parameter"
                for name in named)
    what = (f"is a whole pickled model (torch.save(model)) whose class {wanted} cannot" if whole
            else f"holds objects of the class {wanted}, which cannot")
    if module == "__main__":
        return (
            f"checkpoint {str(file)!r} {what} be imported here: it was defined in the script that "
            "saved it; save model.state_dict() there instead, and give lstui that file"
        )
    return (
        f"checkpoint {str(file)!r} {what} be imported here ({described(error)[:_REASON_CHARS]}); "
        f"save model.state_dict() instead, or run lstui from the folder (or with the PYTHONPATH) "
        f"that holds {module}"
    )


_STRING_OPS = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING",
                         "BINSTRING", "SHORT_BINSTRING"})
_GET_OPS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_PUT_OPS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})


def _pickled_globals(file: Path) -> list[str]:
    """The classes and functions (``module.name``) a checkpoint's pickles name, in order,
    read without importing any; as many as could be read (none of a damaged file)."""
    found: list[str] = []
    try:
        with file.open("rb") as handle:
            if zipfile.is_zipfile(handle):
                with zipfile.ZipFile(handle) as archive:
                    name = next((n for n in archive.namelist() if n.rsplit("/", 1)[-1] == "data.pkl"), None)
                    if name is not None:
                        with archive.open(name) as stream:
                            _read_globals(stream, found, pickles=1)
            else:  # a legacy torch.save file is 5 pickles (magic, protocol, info, object, keys)
                handle.seek(0)
                _read_globals(handle, found, pickles=5)
    except (OSError, zipfile.BadZipFile, ValueError):
        pass
    return list(dict.fromkeys(found))


def _read_globals(stream: IO[bytes], found: list[str], *, pickles: int) -> None:
    """Add to ``found`` the globals named by the next ``pickles`` pickles of ``stream``,
    stopping at what is not a pickle (a legacy file's raw storage bytes) or is cut short."""
    for _ in range(pickles):
        pushed: list[object] = []  # what each opcode pushed: a string, or None
        memo: dict[object, object] = {}
        try:
            for op, arg, _ in pickletools.genops(stream):
                if op.name == "GLOBAL":
                    found.append(str(arg).replace(" ", "."))
                elif op.name == "STACK_GLOBAL" and len(pushed) > 1 and all(isinstance(p, str) for p in pushed[-2:]):
                    found.append(f"{pushed[-2]}.{pushed[-1]}")
                if op.name == "MEMOIZE" and pushed:
                    memo[len(memo)] = pushed[-1]
                elif op.name in _PUT_OPS and pushed:
                    memo[arg] = pushed[-1]
                elif op.name in _GET_OPS:
                    pushed.append(memo.get(arg))
                else:
                    pushed.append(arg if op.name in _STRING_OPS else None)
        except Exception:  # the reading of a file's pickles ends at the first that is not one
            return


def _zip_is_whole(file: Path) -> bool:
    """Whether ``file`` is a zip archive whose central directory (at its end) can be read:
    a ``torch.save`` file cut short by a full disk or a broken copy has none."""
    try:
        if not zipfile.is_zipfile(file):
            return False
        with zipfile.ZipFile(file) as archive:
            archive.infolist()
    except (OSError, zipfile.BadZipFile, ValueError):
        return False
    return True


def _is_state_dict(value: object) -> bool:
    return (
        isinstance(value, Mapping)
        and len(value) > 0
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())
    )


def _find_state_dict(stored: object, file: Path) -> Mapping[str, torch.Tensor]:
    if isinstance(stored, nn.Module):  # a whole pickled model (only with trust)
        return stored.state_dict()
    if _is_state_dict(stored):
        assert isinstance(stored, Mapping)
        return stored
    if isinstance(stored, Mapping):
        if not stored:
            raise CheckpointError(
                f"checkpoint {str(file)!r} holds an empty dict, no weights: save model.state_dict() "
                "of the trained model"
            )
        for key in STATE_DICT_KEYS:
            value = stored.get(key)
            if isinstance(value, nn.Module):
                return value.state_dict()
            if isinstance(value, Mapping) and not value:  # (it was "a dict without a state dict")
                raise CheckpointError(
                    f"checkpoint {str(file)!r} holds an empty state dict under {key!r}, no weights: save "
                    "model.state_dict() of the trained model"
                )
            if _is_state_dict(value):
                assert isinstance(value, Mapping)
                return value
        others = [k for k, v in stored.items() if not isinstance(v, torch.Tensor)]
        if len(others) < len(stored) / 2:  # weights with an 'epoch' among them: name it, not 8 weights
            shown = ", ".join(f"{k!r} ({type(stored[k]).__name__})" for k in others[:4])
            raise CheckpointError(
                f"checkpoint {str(file)!r} holds a state dict with entries that are not tensors: {shown}"
                f"{' …' if len(others) > 4 else ''}; save the weights apart, as {{'state_dict': "
                "model.state_dict(), 'epoch': …}"
            )
        keys = ", ".join(repr(k) for k in list(stored)[:8])
        raise CheckpointError(
            f"checkpoint {str(file)!r} holds a dict without a state dict (keys: {keys}; "
            f"looked for a bare state dict or one under {', '.join(STATE_DICT_KEYS)})"
        )
    raise CheckpointError(
        f"checkpoint {str(file)!r} holds a {type(stored).__name__}, not a state dict"
    )


def strip_wrapper_prefixes(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop a ``module.`` (or ``_orig_mod.``) prefix that every key carries, repeatedly."""
    result = dict(state)
    while True:
        for prefix in WRAPPER_PREFIXES:
            if result and all(key.startswith(prefix) for key in result):
                result = {key[len(prefix) :]: value for key, value in result.items()}
                break
        else:
            return result


def apply_state_dict(
    model: nn.Module, state: Mapping[str, torch.Tensor], *, subject: str | None = None
) -> None:
    """Load ``state`` into ``model`` strictly: every key present, none extra, shapes equal.

    A missing BatchNorm ``num_batches_tracked`` counter (absent from checkpoints written
    before PyTorch 0.4.1) is tolerated; the model keeps its own.

    Args:
        model: the model to load into.
        state: the state dict, e.g. from ``load_checkpoint``.
        subject: what is loaded into what, for the error message (default
            "checkpoint does not fit <model class>").

    Raises:
        CheckpointError: the keys or shapes do not fit, naming the first missing, the
            first unexpected and the first mis-shaped key, with counts.
    """
    model.load_state_dict(fitted_state_dict(model, state, subject=subject), strict=True)


def fitted_state_dict(
    model: nn.Module, state: Mapping[str, torch.Tensor], *, subject: str | None = None
) -> dict[str, torch.Tensor]:
    """``state`` checked against ``model``'s keys and shapes, with its keys fitted to the
    model's (see :func:`_fitted_keys`) and a missing BatchNorm counter taken from the model;
    loads nothing, so ``model`` may be on the meta device.

    Raises:
        CheckpointError: as :func:`apply_state_dict`.
    """
    expected = model.state_dict()
    full = _fitted_keys(state, expected)
    missing = []
    for key, value in expected.items():
        if key not in full:
            if key.endswith("num_batches_tracked"):
                full[key] = value
            else:
                missing.append(key)
    unexpected = [key for key in full if key not in expected]
    misshaped = [
        (key, tuple(value.shape), tuple(expected[key].shape))
        for key, value in full.items()
        if key in expected and value.shape != expected[key].shape
    ]
    if missing or unexpected or misshaped:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (first {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (first {unexpected[0]})")
        if misshaped:
            key, got, want = misshaped[0]
            parts.append(
                f"{len(misshaped)} mis-shaped (first {key}: checkpoint {list(got)}, "
                f"model {list(want)})"
            )
        subject = subject or f"checkpoint does not fit {type(model).__name__}"
        raise CheckpointError(f"{subject}: {'; '.join(parts)} — {_misfit_reason(missing, unexpected, expected)}")
    odd = next(((key, why) for key, value in full.items()
                if (why := _kind_misfit(value, expected[key])) is not None), None)
    if odd is not None:
        raise CheckpointError(f"{_checkpoint_named(subject)}: {odd[0]} {odd[1]}")
    # an infinity in a buffer may be on purpose (a mask); in a parameter, a run diverged
    parameters = {name for name, _ in model.named_parameters()}
    infinite = [key for key in full if key in parameters and _dense_float(full[key])
                and bool(torch.isinf(full[key]).any())]
    if infinite:
        raise CheckpointError(
            f"{_checkpoint_named(subject)} holds an infinity in the parameter {infinite[0]}: the "
            "run that saved it had diverged; leave it out, or take an earlier one"
        )
    return full


def _fitted_keys(state: Mapping[str, torch.Tensor], expected: Collection[str]) -> dict[str, torch.Tensor]:
    """``state`` with its keys fitted to the model's ``expected`` ones: as they are, without
    a prefix every key shares (a wrapper's: Lightning's ``model.``, ``AveragedModel``'s
    ``module.``, whose ``n_averaged`` counter is dropped), or with a prefix every one of the
    model's keys shares (a model that is a wrapper: timm's ``ModelEmaV2``, ``torch.compile``,
    ``self.module = backbone``, whose keys ``load_checkpoint`` had stripped from its own
    checkpoint); the first whose keys are the model's (but for BatchNorm counters), or
    ``state`` as it is when none is, for its misfit to be named."""
    wanted = set(expected)
    counters = {key for key in wanted if key.endswith("num_batches_tracked")}
    layouts = [dict(state)]
    rest = [key for key in state if key != AVERAGED_COUNT]
    if AVERAGED_COUNT in state and AVERAGED_COUNT not in wanted and rest and all(
        key.startswith("module.") for key in rest
    ):
        layouts.append({key: state[key] for key in rest})
    for layout in layouts:
        for strip in _shared_prefixes(layout):
            for add in _shared_prefixes(wanted):
                keys = {add + key[len(strip) :] for key in layout}
                if keys <= wanted and wanted - keys <= counters:
                    return {add + key[len(strip) :]: value for key, value in layout.items()}
    return dict(state)


def _shared_prefixes(keys: Iterable[str]) -> list[str]:
    """``""`` and each longer prefix of whole components that every key shares, leaving
    each a name: ``["", "module.", "module.net."]`` for keys all under ``module.net.``."""
    parts = [key.split(".") for key in keys]
    prefixes = [""]
    if not parts:
        return prefixes
    for i in range(min(len(part) for part in parts) - 1):
        if any(part[i] != parts[0][i] for part in parts):
            break
        prefixes.append(f"{prefixes[-1]}{parts[0][i]}.")
    return prefixes


def _misfit_reason(missing: list[str], unexpected: list[str], expected: Collection[str]) -> str:
    """Why keys do not fit: a prefix under which the checkpoint holds every missing key (or
    the model every key of the checkpoint) is named, for keys that are the model's but
    for a wrapper's extra ones; else the likeliest cause."""
    prefix = _prefix_above(missing, unexpected)
    if prefix is not None:
        return (
            f"the checkpoint holds every missing key under the prefix {prefix!r}"
            f"{_beside(unexpected, prefix, expected, 'the model lacks')}: save the model's own state dict"
        )
    prefix = _prefix_above(unexpected, expected)
    if prefix is not None:
        return (
            f"the model holds every key of the checkpoint under the prefix {prefix!r}"
            f"{_beside(missing, prefix, unexpected, 'the checkpoint lacks')}: build the model without its "
            "wrapper, or save the wrapper's state dict"
        )
    return "is it for another model or number of classes?"


def _beside(keys: list[str], prefix: str, within: Collection[str], lacks: str) -> str:
    """``, beside N {lacks} (first KEY)``: the ``keys`` that are not ``prefix`` + a key of
    ``within`` (a wrapper's own), or nothing."""
    extra = [key for key in keys if not (key.startswith(prefix) and key[len(prefix) :] in within)]
    return f", beside {len(extra)} {lacks} (first {extra[0]})" if extra else ""


def _prefix_above(keys: list[str], among: Collection[str]) -> str | None:
    """The one prefix (whole components) under which every one of ``keys`` is in ``among``,
    or None."""
    if not keys:
        return None
    others = set(among)
    for candidate in among:
        if candidate.endswith(f".{keys[0]}"):
            prefix = candidate[: -len(keys[0])]
            if all(prefix + key in others for key in keys):
                return prefix
    return None


def _kind_misfit(value: torch.Tensor, expected: torch.Tensor) -> str | None:
    """Why tensor ``value`` cannot stand for the model's real, dense ``expected`` one (its
    weights are moved along real directions), or None: a sparse tensor failed in a
    traceback at the first point, a complex one lost its imaginary part with a warning of
    torch's, an integer one was taken without a word."""
    if not expected.is_floating_point() or expected.is_complex():
        return None
    if value.layout != torch.strided:
        return f"is a sparse tensor ({value.layout}): save the state dict dense (.to_dense())"
    if value.is_quantized:
        return "is a quantized tensor: save the float model's state dict"
    if value.is_complex():
        return f"holds complex numbers ({value.dtype}) where the model's are real ({expected.dtype})"
    if not value.is_floating_point():
        return f"holds {value.dtype} where the model's weights are {expected.dtype}: is it another model's?"
    return None


def _dense_float(value: torch.Tensor) -> bool:
    """Whether ``value`` holds numbers to look at: a dense floating tensor with data (not
    on the meta device, not sparse or quantized)."""
    return (value.is_floating_point() or value.is_complex()) and value.layout == torch.strided \
        and not value.is_meta and not value.is_quantized


def _checkpoint_named(subject: str | None) -> str:
    """The checkpoint a misfit ``subject`` names ("checkpoint 'a.pt' does not fit …", or a
    bare path), for another message about it."""
    if subject and subject.startswith("checkpoint '"):
        return subject[: subject.index("'", len("checkpoint '")) + 1]
    return f"checkpoint {subject!r}" if subject else "the checkpoint"
