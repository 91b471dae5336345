"""Checkpoints load in every common layout, safely, and misfits are named clearly."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn

from lstui.errors import CheckpointError
from lstui.models import apply_state_dict, build_model, load_checkpoint, load_model


class TrainingNote:
    """A custom class, as some training scripts pickle into their checkpoints."""

    def __init__(self, text: str):
        self.text = text


def _trained_resnet20() -> nn.Module:
    torch.manual_seed(1)
    model = build_model("resnet20")
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name.endswith("running_mean"):
                buffer.normal_()
    return model


def _assert_same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.fixture(scope="module")
def reference_state() -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in _trained_resnet20().state_dict().items()}


def _with_prefix(state: dict[str, torch.Tensor], prefix: str) -> OrderedDict[str, torch.Tensor]:
    return OrderedDict((prefix + key, value) for key, value in state.items())


@pytest.mark.parametrize(
    "layout",
    [
        "bare",
        "reference",  # {'acc', 'epoch', 'state_dict'} as the reference's main.py saves
        "model_state_dict",
        "model",
        "net",
        "data_parallel",
        "data_parallel_wrapped",
        "legacy_format",
    ],
)
def test_every_checkpoint_layout_loads(
    tmp_path: Path, reference_state: dict[str, torch.Tensor], layout: str
) -> None:
    state = OrderedDict(reference_state)
    stored: object = {
        "bare": state,
        "reference": {"acc": 93.1, "epoch": 300, "state_dict": state},
        "model_state_dict": {"epoch": 3, "model_state_dict": state, "optimizer": {"lr": 0.1}},
        "model": {"model": state},
        "net": {"net": state, "acc": 90.0},
        "data_parallel": _with_prefix(state, "module."),
        "data_parallel_wrapped": {"state_dict": _with_prefix(state, "module."), "epoch": 1},
        "legacy_format": {"state_dict": state, "acc": 93.1, "epoch": 300},
    }[layout]
    path = tmp_path / "model_300.t7"
    torch.save(stored, path, _use_new_zipfile_serialization=layout != "legacy_format")

    loaded = load_checkpoint(path)
    _assert_same_state(loaded, reference_state)

    model = load_model("resnet20", path)
    _assert_same_state(model.state_dict(), reference_state)
    assert not model.training


def test_load_model_without_checkpoint_gives_an_eval_model_on_cpu() -> None:
    model = load_model("cnn", None, input_shape=(1, 8, 8))
    assert not model.training
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_checkpoint_without_batchnorm_counters_still_loads(
    tmp_path: Path, reference_state: dict[str, torch.Tensor]
) -> None:
    # Checkpoints from PyTorch before 0.4.1 have no num_batches_tracked.
    old = {k: v for k, v in reference_state.items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "old.t7"
    torch.save({"state_dict": old}, path)
    model = load_model("resnet20", path)
    for key, value in old.items():
        assert torch.equal(model.state_dict()[key], value), key


def test_mismatched_checkpoint_names_the_keys_that_do_not_fit(
    tmp_path: Path, reference_state: dict[str, torch.Tensor]
) -> None:
    path = tmp_path / "resnet20.t7"
    torch.save({"state_dict": reference_state}, path)
    with pytest.raises(CheckpointError) as caught:
        load_model("resnet20_noshort", path, num_classes=100)
    message = str(caught.value)
    assert f"checkpoint {str(path)!r} does not fit model 'resnet20_noshort'" in message
    assert "12 unexpected (first layer2.0.shortcut.0.weight)" in message
    assert "2 mis-shaped (first linear.weight: checkpoint [10, 64], model [100, 64])" in message
    assert "\n" not in message


def test_missing_keys_are_counted_and_named() -> None:
    model = build_model("resnet20")
    state = dict(model.state_dict())
    del state["layer1.0.conv1.weight"]
    del state["linear.bias"]
    with pytest.raises(CheckpointError, match=r"2 missing \(first layer1.0.conv1.weight\)"):
        apply_state_dict(model, state)


def test_pickle_with_custom_objects_is_refused_without_trust(
    tmp_path: Path, reference_state: dict[str, torch.Tensor]
) -> None:
    path = tmp_path / "custom.pt"
    torch.save({"state_dict": reference_state, "note": TrainingNote("lr 0.1")}, path)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert "holds objects other than tensors" in message
    assert "TrainingNote" in message
    assert "--trust-checkpoint" in message
    assert "\n" not in message

    _assert_same_state(load_checkpoint(path, trust=True), reference_state)


def test_legacy_pickle_with_custom_objects_is_refused_without_trust(tmp_path: Path) -> None:
    path = tmp_path / "custom.t7"
    torch.save(
        {"state_dict": {"w": torch.ones(2)}, "note": TrainingNote("x")},
        path,
        _use_new_zipfile_serialization=False,
    )
    with pytest.raises(CheckpointError, match="holds objects other than tensors"):
        load_checkpoint(path)
    assert torch.equal(load_checkpoint(path, trust=True)["w"], torch.ones(2))


def test_whole_pickled_model_loads_only_with_trust(tmp_path: Path) -> None:
    model = build_model("mlp", input_shape=(4,), num_classes=2)
    path = tmp_path / "whole.pt"
    torch.save(model, path)
    with pytest.raises(CheckpointError, match="--trust-checkpoint"):
        load_checkpoint(path)
    _assert_same_state(load_checkpoint(path, trust=True), model.state_dict())


def test_missing_file_is_a_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.t7")


def test_directory_is_a_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="is a directory"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("content", [b"", b"hello, I am a text file\n", b"PK\x03\x04broken zip"])
def test_file_that_is_not_a_checkpoint_is_a_checkpoint_error(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "notes.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    assert "\n" not in str(caught.value)
    assert "notes.pt" in str(caught.value)


def test_dict_without_a_state_dict_says_what_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "opt_state_300.t7"
    torch.save({"optimizer": {"lr": 0.1}, "epoch": 300}, path)
    with pytest.raises(CheckpointError, match="without a state dict.*'optimizer'"):
        load_checkpoint(path)


def test_checkpoint_holding_no_dict_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), path)
    with pytest.raises(CheckpointError, match="holds a Tensor, not a state dict"):
        load_checkpoint(path)
