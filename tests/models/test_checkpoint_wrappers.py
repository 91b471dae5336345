"""Checkpoint keys are fitted to the model's: a wrapper's prefix on either side (a model
that is itself a wrapper, Lightning's ``model.``, ``AveragedModel``'s ``module.`` and
``n_averaged``) loads, and a prefix beside extra keys is named, not blamed on the model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from lstui.errors import CheckpointError
from lstui.models import load_model

HERE = "tests.models.test_checkpoint_wrappers"


class Net(nn.Module):
    """A small model with a BatchNorm (running statistics and a counter)."""

    def __init__(self, channels: int = 16):
        super().__init__()
        self.conv1 = nn.Conv2d(3, channels, 3)
        self.bn1 = nn.BatchNorm2d(channels)
        self.fc = nn.Linear(channels, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.bn1(self.conv1(x)).mean((2, 3)))


class Wrap(nn.Module):
    """A model whose own keys all start with ``module.``, as timm's ``ModelEmaV2`` and
    hand-written EMA wrappers keep theirs."""

    def __init__(self) -> None:
        super().__init__()
        self.module = Net(16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)


def make_net() -> nn.Module:
    return Net(16)


def make_wrap() -> nn.Module:
    return Wrap()


def make_compiled() -> nn.Module:
    return torch.compile(Net(16))  # type: ignore[return-value]


def make_averaged() -> nn.Module:
    return AveragedModel(Net(16))


def _trained(model: nn.Module, seed: int = 3) -> nn.Module:
    """``model`` with weights and running statistics no fresh model has."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.normal_()
    return model


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """``model``'s state without a wrapper's prefix, to compare across wrappers."""
    state = model.state_dict()
    return {key.split(".", 1)[1] if key.startswith(("module.", "_orig_mod.")) else key: value
            for key, value in state.items() if key != "n_averaged"}


def _assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    left, right = _weights(a), _weights(b)
    assert left.keys() == right.keys()
    for key in left:
        assert torch.equal(left[key], right[key]), key


def test_a_model_whose_keys_all_start_with_module_loads_its_own_state_dict(tmp_path: Path) -> None:
    saved = _trained(Wrap())
    path = tmp_path / "wrap.pt"
    torch.save(saved.state_dict(), path)
    _assert_same_weights(load_model(f"{HERE}:make_wrap", path), saved)


def test_a_wrapper_model_loads_its_state_dict_saved_under_data_parallel(tmp_path: Path) -> None:
    saved = _trained(Wrap())
    path = tmp_path / "wrap_dp.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in saved.state_dict().items()}}, path)
    _assert_same_weights(load_model(f"{HERE}:make_wrap", path), saved)


def test_a_wrapper_model_loads_a_checkpoint_of_the_model_it_wraps(tmp_path: Path) -> None:
    saved = _trained(Net())
    path = tmp_path / "net.pt"
    torch.save(saved.state_dict(), path)
    _assert_same_weights(load_model(f"{HERE}:make_wrap", path), saved)


@pytest.mark.parametrize("saved_from", ["plain", "compiled"])
def test_a_compiled_model_loads_plain_and_compiled_checkpoints(tmp_path: Path, saved_from: str) -> None:
    saved = _trained(Net())
    state = saved.state_dict()
    if saved_from == "compiled":
        state = {f"_orig_mod.{k}": v for k, v in state.items()}
    path = tmp_path / f"{saved_from}.pt"
    torch.save(state, path)
    loaded = load_model(f"{HERE}:make_compiled", path)
    assert all(key.startswith("_orig_mod.") for key in loaded.state_dict())
    _assert_same_weights(loaded, saved)


@pytest.mark.parametrize("prefix", ["model.", "net.", "model.module."])
def test_a_checkpoint_whose_keys_share_a_wrappers_prefix_loads(tmp_path: Path, prefix: str) -> None:
    # Lightning saves {'state_dict': {'model.conv1.weight': …}, 'epoch': …}
    saved = _trained(Net())
    path = tmp_path / "epoch=9-step=90.ckpt"
    stored = {f"{prefix}{k}": v for k, v in saved.state_dict().items()}
    torch.save({"state_dict": stored, "epoch": 9, "global_step": 90}, path)
    _assert_same_weights(load_model(f"{HERE}:make_net", path), saved)


def test_an_averaged_models_state_dict_loads_into_the_model_it_averaged(tmp_path: Path) -> None:
    averaged = AveragedModel(Net())
    for seed in (1, 2):
        averaged.update_parameters(_trained(Net(), seed))
    path = tmp_path / "swa.pt"
    torch.save(averaged.state_dict(), path)
    assert "n_averaged" in torch.load(path)
    _assert_same_weights(load_model(f"{HERE}:make_net", path), averaged.module)


def test_an_averaged_model_loads_its_own_state_dict(tmp_path: Path) -> None:
    averaged = AveragedModel(_trained(Net()))
    averaged.update_parameters(_trained(Net(), 5))
    path = tmp_path / "swa.pt"
    torch.save(averaged.state_dict(), path)
    loaded = load_model(f"{HERE}:make_averaged", path)
    assert torch.equal(loaded.state_dict()["n_averaged"], averaged.state_dict()["n_averaged"])
    _assert_same_weights(loaded, averaged)


def test_a_prefix_beside_extra_keys_is_named_not_blamed_on_the_model(tmp_path: Path) -> None:
    # a Lightning module that keeps a loss's weight beside its model's
    stored = {f"model.{k}": v for k, v in Net().state_dict().items()}
    stored["loss.weight"] = torch.ones(10)
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": stored}, path)
    with pytest.raises(CheckpointError) as caught:
        load_model(f"{HERE}:make_net", path)
    message = str(caught.value)
    assert message.startswith(f"checkpoint {str(path)!r} does not fit model '{HERE}:make_net'")
    assert "the checkpoint holds every missing key under the prefix 'model.'" in message
    assert "beside 1 the model lacks (first loss.weight)" in message
    assert "another model" not in message
    assert "\n" not in message


def test_a_prefix_the_model_has_beside_keys_the_checkpoint_lacks_is_named(tmp_path: Path) -> None:
    path = tmp_path / "net.pt"
    torch.save(Net().state_dict(), path)
    with pytest.raises(CheckpointError) as caught:
        load_model(f"{HERE}:make_averaged", path)
    message = str(caught.value)
    assert "the model holds every key of the checkpoint under the prefix 'module.'" in message
    assert "beside 1 the checkpoint lacks (first n_averaged)" in message
    assert "another model" not in message


def test_another_models_checkpoint_under_a_prefix_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "wide.pt"
    torch.save({f"model.{k}": v for k, v in Net(32).state_dict().items()}, path)
    with pytest.raises(CheckpointError, match=r"mis-shaped \(first conv1.weight: checkpoint \[32, 3, 3, 3\]"):
        load_model(f"{HERE}:make_net", path)
