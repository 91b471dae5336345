"""Checkpoints that are whole files but hold NaN, and checkpoints cut short, are refused
before any point is computed, in one line that blames the file; an infinity (a mask
buffer of −inf) is let through."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lstui.errors import CheckpointError
from lstui.models import build_model, load_checkpoint, load_model
from tests.cli.conftest import run_lstui

#: The digits set's samples and classes, which the small ``mlp`` sizes itself to.
DIGITS = {"input_shape": (1, 8, 8), "num_classes": 10}

SMALL = ["--model", "mlp", "--data", "digits", "--subset", "200", "--x", "-1:1:3"]


def _mlp_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return dict(build_model("mlp", **DIGITS).state_dict())


def _saved(path: Path, state: dict[str, torch.Tensor], *, legacy: bool = False) -> Path:
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    return path


@pytest.fixture
def nan_checkpoint(tmp_path: Path) -> Path:
    state = _mlp_state()
    state["fc1.weight"][0, 0] = float("nan")
    return _saved(tmp_path / "nanweight.pt", state)


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lstui: error:"), stderr
    assert "Traceback" not in stderr
    return lines[0]


def _cut(source: Path, percent: int, target: Path) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: len(data) * percent // 100])
    return target


# --- NaN and inf -----------------------------------------------------------------------


def test_a_nan_weight_names_the_file_and_the_first_non_finite_tensor(nan_checkpoint: Path) -> None:
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(nan_checkpoint)
    message = str(caught.value)
    assert message == (
        f"checkpoint {str(nan_checkpoint)!r} holds NaN in fc1.weight: the run that saved it had "
        "diverged; leave it out, or take an earlier one"
    )


def test_the_workers_load_model_refuses_a_nan_checkpoint(nan_checkpoint: Path) -> None:
    with pytest.raises(CheckpointError, match="holds NaN"):
        load_model("mlp", nan_checkpoint, **DIGITS)


def test_every_nan_tensor_is_counted_and_an_infinity_is_let_through(tmp_path: Path) -> None:
    state = _mlp_state()
    state["fc2.bias"][3] = float("nan")
    state["fc3.weight"][0, 0] = float("nan")
    path = _saved(tmp_path / "nan2.pt", {"state_dict": state, "epoch": 3})
    with pytest.raises(CheckpointError, match=r"in fc2\.bias and 1 more tensor: "):
        load_checkpoint(path)
    # a model may keep −inf on purpose: a causal attention mask in a buffer (the review's)
    masked = {**_mlp_state(), "mask": torch.full((4, 4), float("-inf")).triu(1)}
    loaded = load_checkpoint(_saved(tmp_path / "mask.pt", masked))
    assert torch.equal(loaded["mask"], masked["mask"])


def test_an_infinity_in_a_parameter_is_refused_when_the_model_is_known(tmp_path: Path) -> None:
    """A diverged fp16 run often holds inf before NaN: let through with the mask buffers,
    its surface came out "2 of 3 points … diverged", blamed on the landscape."""
    state = _mlp_state()
    state["fc1.weight"][0, 0] = float("inf")
    path = _saved(tmp_path / "inf.pt", state)
    with pytest.raises(CheckpointError) as caught:
        load_model("mlp", path, **DIGITS)
    assert str(caught.value) == (
        f"checkpoint {str(path)!r} holds an infinity in the parameter fc1.weight: the run that "
        "saved it had diverged; leave it out, or take an earlier one")
    result = run_lstui("run", "surface", *SMALL, "--checkpoint", str(path), "--out", str(tmp_path / "o"),
                       "--device", "cpu", home=tmp_path / "home", cwd=tmp_path)
    assert result.returncode == 2 and "holds an infinity in the parameter fc1.weight" in _one_error_line(
        result.stderr)


def test_a_whole_pickled_model_with_nan_is_refused_even_when_trusted(tmp_path: Path) -> None:
    model = build_model("mlp", **DIGITS)
    with torch.no_grad():
        model.fc3.bias[0] = float("nan")  # type: ignore[index]
    path = tmp_path / "whole.pt"
    torch.save(model, path)
    with pytest.raises(CheckpointError, match=r"holds NaN in fc3\.bias"):
        load_checkpoint(path, trust=True)


def test_batchnorm_checkpoints_with_integer_counters_still_load(tmp_path: Path) -> None:
    state = dict(build_model("resnet20").state_dict())
    assert any(key.endswith("num_batches_tracked") for key in state)
    loaded = load_checkpoint(_saved(tmp_path / "resnet20.pt", state))
    assert loaded.keys() == state.keys()


def test_a_nan_in_a_batchnorm_running_variance_is_refused(tmp_path: Path) -> None:
    state = dict(build_model("resnet20").state_dict())
    state["bn1.running_var"][2] = float("nan")
    with pytest.raises(CheckpointError, match=r"in bn1\.running_var: "):
        load_checkpoint(_saved(tmp_path / "bn.pt", state))


def test_a_checkpoint_of_meta_tensors_is_refused_in_one_line(tmp_path: Path) -> None:
    """Saved from a model built on the meta device: `run` printed a 60-line traceback
    from load_state_dict, `submit` queued a job that failed on its worker."""
    state = {k: v.to("meta") for k, v in build_model("mlp").state_dict().items()}
    path = _saved(tmp_path / "meta.pt", state)
    with pytest.raises(CheckpointError, match=r"holds tensors with no data \(on the meta device\): fc1\.weight and 5 more"):
        load_checkpoint(path)
    for command in (("run", "surface", "--out", str(tmp_path / "out"), "--device", "cpu"), ("submit", "surface")):
        result = run_lstui(*command, *SMALL, "--checkpoint", str(path), home=tmp_path / "home", cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert "meta.pt' holds tensors with no data" in _one_error_line(result.stderr)
    assert not (tmp_path / "out").exists() and not (tmp_path / "home" / "results").exists()


def test_lstui_run_refuses_a_nan_checkpoint_before_computing_a_point(
    tmp_path: Path, nan_checkpoint: Path
) -> None:
    out = tmp_path / "out"
    result = run_lstui("run", "surface", *SMALL, "--checkpoint", str(nan_checkpoint),
                       "--out", str(out), "--device", "cpu", home=tmp_path / "home", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    line = _one_error_line(result.stderr)
    assert "nanweight.pt' holds NaN in fc1.weight" in line
    assert "points have NaN" not in result.stderr  # not blamed on the landscape
    assert not out.exists()


@pytest.mark.parametrize("kind", ["surface", "interp"])
def test_lstui_submit_refuses_a_nan_checkpoint_and_queues_nothing(
    tmp_path: Path, nan_checkpoint: Path, kind: str
) -> None:
    home = tmp_path / "home"
    if kind == "surface":
        args = [*SMALL, "--checkpoint", str(nan_checkpoint)]
    else:  # the NaN file is checkpoint B, the end of the line
        good = _saved(tmp_path / "good.pt", _mlp_state())
        args = [*SMALL[:6], "--checkpoint", str(good), "--checkpoint-b", str(nan_checkpoint)]
    result = run_lstui("submit", kind, *args, home=home, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    line = _one_error_line(result.stderr)
    assert "nanweight.pt' holds NaN in fc1.weight" in line

    listed = run_lstui("ls", "--all", "--json", home=home, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []


@pytest.mark.parametrize(("change", "said"), [
    (lambda t: t.to_sparse(), "fc1.weight is a sparse tensor (torch.sparse_coo): save the state dict dense (.to_dense())"),
    (lambda t: t.to(torch.complex64), "fc1.weight holds complex numbers (torch.complex64) where the model's are "
                                       "real (torch.float32)"),
    (lambda t: t.to(torch.int64), "fc1.weight holds torch.int64 where the model's weights are torch.float32: "
                                   "is it another model's?"),
])
def test_a_sparse_complex_or_integer_weight_is_refused_at_submit_in_one_line(
    tmp_path: Path, change: object, said: str
) -> None:
    """A sparse weight was queued and failed its job ("copy_() between dense and sparse
    Tensors", cut to its first line in the job's log; `run`: 48 lines); a complex one was
    computed with its imaginary part dropped (a warning of torch's); an integer one was
    taken without a word."""
    state = _mlp_state()
    state["fc1.weight"] = change(state["fc1.weight"])  # type: ignore[operator]
    path = _saved(tmp_path / "odd.pt", state)
    home = tmp_path / "home"
    result = run_lstui("submit", "surface", *SMALL, "--checkpoint", str(path), home=home, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert _one_error_line(result.stderr) == f"lstui: error: checkpoint {str(path)!r}: {said}"
    assert json.loads(run_lstui("ls", "--all", "--json", home=home, cwd=tmp_path).stdout) == []


# --- cut short -------------------------------------------------------------------------


@pytest.mark.parametrize("percent", [10, 50, 90, 99])
def test_a_zip_checkpoint_cut_short_says_it_looks_truncated(tmp_path: Path, percent: int) -> None:
    whole = _saved(tmp_path / "whole.pt", _mlp_state())
    cut = _cut(whole, percent, tmp_path / "trunc.pt")
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(cut)
    assert str(caught.value) == (
        f"{str(cut)!r} is not a readable torch checkpoint: it looks truncated or damaged "
        "(a zip archive whose end is missing)"
    )


@pytest.mark.parametrize("percent", [1, 50, 99])
def test_a_legacy_checkpoint_cut_short_says_it_looks_truncated(tmp_path: Path, percent: int) -> None:
    whole = _saved(tmp_path / "whole.t7", _mlp_state(), legacy=True)
    cut = _cut(whole, percent, tmp_path / "trunc.t7")
    with pytest.raises(CheckpointError, match="it looks truncated") as caught:
        load_checkpoint(cut)
    assert "\n" not in str(caught.value)


def test_a_whole_zip_that_is_no_checkpoint_gives_a_short_reason(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "notes.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "x" * 500)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert "truncated" not in message and "\n" not in message
    reason = message.split("(", 1)[1]
    assert len(reason) <= 121, message


def _flipped(source: Path, target: Path) -> Path:
    """``source`` with 100 bytes of its first tensor's data inverted, as a bad disk or copy
    leaves it: torch.load reads it without a word."""
    import zipfile

    data = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as archive:
        part = next(p for p in archive.infolist() if p.filename.endswith("/data/0"))
    start = part.header_offset + 30 + len(part.filename.encode()) + len(part.extra)
    for n in range(start, start + min(100, part.file_size)):
        data[n] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


def test_a_checkpoint_whose_bits_flipped_is_refused_by_its_checksums(tmp_path: Path) -> None:
    """A walk flipped 100 bytes of a checkpoint: torch.load took it, and `lstui retry` of
    its job computed a surface of weights up to 373."""
    whole = _saved(tmp_path / "whole.pt", _mlp_state())
    flipped = _flipped(whole, tmp_path / "flipped.pt")
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(flipped)
    assert str(caught.value) == (
        f"checkpoint {str(flipped)!r} is damaged: a part of it fails its checksum (Bad CRC-32 for file "
        "'whole/data/0'); a bit changed on the disk or in a copy: copy it again from where it was saved")
    home = tmp_path / "home"
    result = run_lstui("submit", "surface", *SMALL, "--checkpoint", str(flipped), home=home, cwd=tmp_path)
    assert result.returncode == 2 and "fails its checksum" in _one_error_line(result.stderr), result.stderr
    assert json.loads(run_lstui("ls", "--all", "--json", home=home, cwd=tmp_path).stdout) == []


def test_a_checkpoint_saved_without_checksums_loads(tmp_path: Path) -> None:
    """``torch.serialization.set_crc32_options(False)`` writes 0 for every part's CRC."""
    torch.serialization.set_crc32_options(False)
    try:
        path = _saved(tmp_path / "fast.pt", _mlp_state())
    finally:
        torch.serialization.set_crc32_options(True)
    assert set(load_checkpoint(path)) == set(_mlp_state())


@pytest.mark.parametrize("percent", [10, 99])
def test_lstui_run_on_a_truncated_checkpoint_prints_one_line(tmp_path: Path, percent: int) -> None:
    whole = _saved(tmp_path / "whole.pt", _mlp_state())
    cut = _cut(whole, percent, tmp_path / "trunc.pt")
    out = tmp_path / "out"
    result = run_lstui("run", "surface", *SMALL, "--checkpoint", str(cut), "--out", str(out),
                       "--device", "cpu", home=tmp_path / "home", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    line = _one_error_line(result.stderr)
    assert "trunc.pt' is not a readable torch checkpoint: it looks truncated" in line
    assert "miniz" not in line and "Errno" not in line
    assert not out.exists()
