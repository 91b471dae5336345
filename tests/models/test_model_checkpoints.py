"""Checkpoints load in every common layout, safely, and misfits are named clearly."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import textwrap
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


def test_a_state_dict_with_an_epoch_among_its_weights_names_the_epoch(tmp_path: Path) -> None:
    """It listed eight of the weights as the dict's keys, not the 'epoch' that was wrong."""
    path = tmp_path / "ep.pt"
    torch.save({**build_model("mlp", input_shape=(1, 8, 8)).state_dict(), "epoch": 3}, path)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    assert str(caught.value) == (
        f"checkpoint {str(path)!r} holds a state dict with entries that are not tensors: 'epoch' (int); save "
        "the weights apart, as {'state_dict': model.state_dict(), 'epoch': …}"
    )


def test_empty_dict_is_called_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.pt"
    torch.save({}, path)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    assert str(caught.value) == (
        f"checkpoint {str(path)!r} holds an empty dict, no weights: save model.state_dict() of the "
        "trained model"
    )
    torch.save({"state_dict": {}, "epoch": 3}, path)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    assert str(caught.value) == (
        f"checkpoint {str(path)!r} holds an empty state dict under 'state_dict', no weights: save "
        "model.state_dict() of the trained model"
    )


def _safetensors(path: Path, header_length: int) -> None:
    """A safetensors file written by hand (the package is not installed): its header's
    length, 8 bytes little-endian, then the JSON header (padded with spaces, as the
    format allows) and the data."""
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    header += b" " * (header_length - len(header))
    path.write_bytes(struct.pack("<Q", len(header)) + header + struct.pack("<2f", 1.0, 2.0))


@pytest.mark.parametrize("header_length", [0x78, 0x180])  # 0x180: the length begins with 0x80
def test_safetensors_file_is_named_with_how_to_convert_it(tmp_path: Path, header_length: int) -> None:
    path = tmp_path / "model.safetensors"
    _safetensors(path, header_length)
    for trust in (False, True):
        with pytest.raises(CheckpointError) as caught:
            load_checkpoint(path, trust=trust)
        assert str(caught.value) == (
            f"checkpoint {str(path)!r} is a safetensors file, which lstui does not read: convert it "
            "with safetensors.torch.load_file and torch.save the dict it returns"
        )


_READ_AS_DENIED = """
import sys
from lstui.errors import CheckpointError
from lstui.models import load_checkpoint
try:
    open(sys.argv[1], "rb").close()
except PermissionError:
    pass
else:
    sys.exit(3)  # read all the same: nothing to test
for trust in (False, True):
    try:
        load_checkpoint(sys.argv[1], trust=trust)
    except CheckpointError as error:
        print(error)
"""


def test_checkpoint_without_read_permission_says_so(tmp_path: Path) -> None:
    path = tmp_path / "denied.pt"
    torch.save({"state_dict": {"w": torch.ones(2)}}, path)
    path.chmod(0)
    command = [sys.executable, "-c", _READ_AS_DENIED, str(path)]
    if os.geteuid() == 0:  # root reads a 000 file: drop the capabilities that let it
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot be refused a file")
        drop = "-dac_override,-dac_read_search"
        command = [setpriv, f"--bounding-set={drop}", f"--inh-caps={drop}", *command]
    done = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).parents[2])
    if done.returncode == 3:
        pytest.skip("the file is readable all the same here")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"cannot read {str(path)!r}: Permission denied"] * 2


_SAVE_A_WHOLE_MODEL = """
import pickle
import sys

import torch
from torch import nn

sys.path.insert(0, sys.argv[2])
try:
    from {module} import Net
except ImportError:
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

path, how = sys.argv[1], sys.argv[3]
if how == "pickle":
    with open(path, "wb") as handle:
        pickle.dump(Net(), handle)
else:
    torch.save(Net(), path, _use_new_zipfile_serialization=how == "zip")
"""

_A_MODULE_OF_ITS_OWN = """
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
"""


def _save_whole_model(path: Path, how: str, module: str | None, folder: Path) -> None:
    """``torch.save(model)`` (or pickle.dump) in a training script of its own, whose
    class ``Net`` is its ``__main__``'s or, given ``module``, that module's in ``folder``."""
    if module is not None:
        (folder / f"{module}.py").write_text(_A_MODULE_OF_ITS_OWN)
    script = _SAVE_A_WHOLE_MODEL.format(module=module or "no_such_module_here")
    subprocess.run([sys.executable, "-c", script, str(path), str(folder), how], check=True)


@pytest.mark.parametrize("how", ["zip", "legacy", "pickle"])
def test_whole_model_of_a_training_scripts_main_says_to_save_its_state_dict(
    tmp_path: Path, how: str
) -> None:
    path = tmp_path / "whole.pt"
    _save_whole_model(path, how, None, tmp_path)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path, trust=True)
    assert str(caught.value) == (
        f"checkpoint {str(path)!r} is a whole pickled model (torch.save(model)) whose class "
        "__main__.Net cannot be imported here: it was defined in the script that saved it; save "
        "model.state_dict() there instead, and give lstui that file"
    )


@pytest.mark.parametrize("how", ["zip", "legacy", "pickle"])
def test_whole_model_whose_module_is_not_on_the_path_says_where_to_run(
    tmp_path: Path, how: str
) -> None:
    module = f"lstui_test_gone_{how}"
    folder = tmp_path / "training"
    folder.mkdir()
    path = tmp_path / "whole.pt"
    _save_whole_model(path, how, module, folder)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path, trust=True)
    message = str(caught.value)
    assert message.startswith(
        f"checkpoint {str(path)!r} is a whole pickled model (torch.save(model)) whose class "
        f"{module}.Net cannot be imported here (ModuleNotFoundError: No module named '{module}'); "
    )
    assert message.endswith(
        f"save model.state_dict() instead, or run lstui from the folder (or with the PYTHONPATH) "
        f"that holds {module}"
    )
    assert "\n" not in message


def test_custom_object_of_a_training_scripts_main_is_not_called_a_model(tmp_path: Path) -> None:
    path = tmp_path / "with_note.pt"
    script = textwrap.dedent("""
        import sys
        import torch

        class Note:
            pass

        torch.save({"state_dict": {"w": torch.ones(2)}, "note": Note()}, sys.argv[1])
    """)
    subprocess.run([sys.executable, "-c", script, str(path)], check=True)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path, trust=True)
    assert str(caught.value).startswith(
        f"checkpoint {str(path)!r} holds objects of the class __main__.Note, which cannot be imported here"
    )
