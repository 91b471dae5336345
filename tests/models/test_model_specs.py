"""Model names: built-ins, torchvision:NAME, pkg.module:factory, and clear refusals."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from lstui.errors import ModelError
from lstui.models import build_model


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(ModelError) as caught:
        build_model("resnet5")
    message = str(caught.value)
    assert "unknown model 'resnet5'" in message
    assert "resnet56" in message
    assert "torchvision:NAME" in message and "pkg.module:factory" in message
    assert "\n" not in message


def test_unknown_name_without_close_matches_lists_what_is_accepted() -> None:
    with pytest.raises(ModelError, match="built-in name .*vgg9.*torchvision:NAME"):
        build_model("transformer")


def test_the_specs_torch_free_list_of_names_is_the_zoos() -> None:
    from lstui.models import MODEL_NAMES
    from lstui.spec import BUILTIN_MODELS

    assert BUILTIN_MODELS == MODEL_NAMES


def test_builtin_names_ignore_case() -> None:
    assert build_model("ResNet20").state_dict()["linear.weight"].shape == (10, 64)


def test_zoo_refuses_inputs_that_are_not_images() -> None:
    with pytest.raises(ModelError, match="channels, height, width"):
        build_model("resnet20", input_shape=(64,))


def test_torchvision_model_is_built_untrained_with_the_number_of_classes() -> None:
    model = build_model("torchvision:resnet18", num_classes=100)
    assert isinstance(model, nn.Module)
    assert model.state_dict()["fc.weight"].shape == (100, 512)


def test_unknown_torchvision_model_is_refused_with_suggestions() -> None:
    with pytest.raises(ModelError, match="resnet18"):
        build_model("torchvision:resnet19")


def _write_module(directory: Path, name: str, source: str) -> None:
    (directory / f"{name}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def factory_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = "lstui_test_factories"
    _write_module(
        tmp_path,
        name,
        """
        import torch

        def tiny():
            return torch.nn.Linear(4, 3)

        def needs_width(width):
            return torch.nn.Linear(width, 3)

        def not_a_model():
            return 42

        class Zoo:
            @staticmethod
            def small():
                return torch.nn.Linear(2, 2)

        CONSTANT = 7
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


def test_factory_by_import_path_builds(factory_module: str) -> None:
    model = build_model(f"{factory_module}:tiny")
    assert isinstance(model, nn.Linear)
    assert model(torch.zeros(1, 4)).shape == (1, 3)


def test_factory_may_be_a_dotted_attribute(factory_module: str) -> None:
    assert isinstance(build_model(f"{factory_module}:Zoo.small"), nn.Linear)


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ("not_a_model", "returned an object of type int, not a torch.nn.Module"),
        ("needs_width", "needs arguments"),
        ("CONSTANT", "is of type int, not a callable factory"),
        ("missing", "has no 'missing'"),
    ],
)
def test_bad_factories_are_refused_saying_what_they_are(
    factory_module: str, attribute: str, expected: str
) -> None:
    with pytest.raises(ModelError, match=expected):
        build_model(f"{factory_module}:{attribute}")


def test_factory_in_a_missing_module_is_refused() -> None:
    with pytest.raises(ModelError, match="cannot import 'no_such_pkg.models'"):
        build_model("no_such_pkg.models:net")


def test_factory_spec_needs_both_parts() -> None:
    with pytest.raises(ModelError, match="pkg.module:factory"):
        build_model("mymodule:")
