"""The built-in zoo matches the reference's definitions; the small models fit the data."""

from __future__ import annotations

import hashlib

import pytest
import torch
from torch import nn

from lstui.models import MODEL_NAMES, REFERENCE_MODEL_NAMES, SMALL_MODEL_NAMES, build_model

# Key count and a digest of "key:[shape]" lines, in state-dict order, of the models that
# the reference's cifar10/model_loader.py builds (checked against its definitions).
REFERENCE_FINGERPRINTS = {
    "resnet20": (128, "7289bf7ec67cf939"),
    "resnet20_noshort": (116, "42b4c27756d0682b"),
    "resnet32_noshort": (188, "cdbab6caf68ce3ef"),
    "resnet44_noshort": (260, "eff5577b468564ba"),
    "resnet50_16_noshort": (296, "6a4b1070797e4480"),
    "resnet56": (344, "d327ef8bac979a22"),
    "resnet56_noshort": (332, "6853b9d721345896"),
    "resnet110": (668, "9928ffd1957bb7b0"),
    "resnet110_noshort": (656, "6ad33b2186ce9d91"),
    "wrn56_2": (344, "930427fda7c60554"),
    "wrn56_2_noshort": (332, "36f44a7fbe4fbb5b"),
    "wrn56_4": (344, "4bfa197997106449"),
    "wrn56_4_noshort": (332, "e0ff339791bd9f0d"),
    "wrn56_8": (344, "d4760fbe1d0c01c4"),
    "wrn56_8_noshort": (332, "f2de4d52551a92af"),
    "wrn110_2_noshort": (656, "a7878f99a16d430e"),
    "wrn110_4_noshort": (656, "50603d7a297737ec"),
    "resnet18": (122, "b8f5988bb2bc78b5"),
    "resnet18_noshort": (104, "c7a9cdc5fe6fad2c"),
    "resnet34": (218, "268acbf6d9b31ed8"),
    "resnet34_noshort": (200, "d7ddb1a4a59cce4e"),
    "resnet50": (320, "ae574ca2bb92bf76"),
    "resnet50_noshort": (296, "da6255f54b14e950"),
    "resnet101": (626, "7862a4c33160ceb7"),
    "resnet101_noshort": (602, "a30112db30604132"),
    "resnet152": (932, "023e2e561817427c"),
    "resnet152_noshort": (908, "bd4a1ab2a9a8157c"),
    "vgg9": (58, "59007ab051364a28"),
    "densenet121": (722, "5bbd396afa45fbbc"),
}

# Readable facts, read off the reference's model definitions.
REFERENCE_FACTS: dict[str, dict[str, tuple[int, ...]]] = {
    "resnet20": {
        "conv1.weight": (16, 3, 3, 3),
        "layer1.0.conv1.weight": (16, 16, 3, 3),
        "layer2.0.shortcut.0.weight": (32, 16, 1, 1),
        "layer2.0.shortcut.1.running_mean": (32,),
        "layer3.2.bn2.running_var": (64,),
        "linear.weight": (10, 64),
    },
    "resnet56_noshort": {
        "layer1.0.conv1.weight": (16, 16, 3, 3),
        "layer3.8.conv2.weight": (64, 64, 3, 3),
        "layer3.8.bn2.num_batches_tracked": (),
        "linear.weight": (10, 64),
    },
    "wrn56_2": {
        "conv1.weight": (32, 3, 3, 3),
        "layer1.0.conv1.weight": (32, 32, 3, 3),
        "layer3.0.shortcut.0.weight": (128, 64, 1, 1),
        "linear.weight": (10, 128),
    },
    "resnet50": {
        "layer1.0.conv3.weight": (256, 64, 1, 1),
        "layer1.0.shortcut.0.weight": (256, 64, 1, 1),
        "layer4.2.bn3.running_mean": (2048,),
        "linear.weight": (10, 2048),
    },
    "vgg9": {
        "features.0.weight": (64, 3, 3, 3),
        "features.0.bias": (64,),
        "features.1.running_mean": (64,),
        "features.20.weight": (256, 256, 3, 3),
        "fc.0.weight": (256, 4096),
        "fc.1.running_var": (256,),
        "classifier.weight": (10, 256),
    },
    "densenet121": {
        "conv1.weight": (64, 3, 3, 3),
        "dense1.0.bn1.weight": (64,),
        "dense1.5.conv2.weight": (32, 128, 3, 3),
        "trans1.conv.weight": (128, 256, 1, 1),
        "trans3.conv.weight": (512, 1024, 1, 1),
        "dense4.15.conv1.weight": (128, 992, 1, 1),
        "bn.running_var": (1024,),
        "linear.weight": (10, 1024),
    },
}

# Too slow to run on two CPU cores in a unit test; their keys are checked above.
SLOW_FORWARD = {
    "wrn56_4",
    "wrn56_4_noshort",
    "wrn56_8",
    "wrn56_8_noshort",
    "wrn110_2_noshort",
    "wrn110_4_noshort",
    "resnet101",
    "resnet101_noshort",
    "resnet152",
    "resnet152_noshort",
}


def _state_shapes(name: str, **kwargs: object) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):  # shapes without allocating or initialising weights
        model = build_model(name, **kwargs)  # type: ignore[arg-type]
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


def test_model_names_cover_the_reference_zoo_and_the_small_models() -> None:
    assert set(REFERENCE_MODEL_NAMES) == set(REFERENCE_FINGERPRINTS)
    assert set(MODEL_NAMES) == set(REFERENCE_MODEL_NAMES) | {"mlp", "cnn", "cnn_nobn"}
    assert set(SMALL_MODEL_NAMES) == {"mlp", "cnn", "cnn_nobn"}
    assert len(set(MODEL_NAMES)) == len(MODEL_NAMES)


@pytest.mark.parametrize("name", sorted(REFERENCE_FINGERPRINTS))
def test_zoo_state_dict_keys_and_shapes_match_the_reference(name: str) -> None:
    shapes = _state_shapes(name)
    text = "\n".join(f"{key}:{list(shape)}" for key, shape in shapes.items())
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    assert (len(shapes), digest) == REFERENCE_FINGERPRINTS[name]


@pytest.mark.parametrize("name", sorted(REFERENCE_FACTS))
def test_zoo_has_the_reference_key_shapes(name: str) -> None:
    shapes = _state_shapes(name)
    for key, shape in REFERENCE_FACTS[name].items():
        assert shapes[key] == shape, key


def test_noshort_models_have_no_shortcut_keys() -> None:
    short = _state_shapes("resnet56")
    noshort = _state_shapes("resnet56_noshort")
    assert not any("shortcut" in key for key in noshort)
    assert [key for key in short if "shortcut" in key] == [
        f"layer{stage}.0.shortcut.{index}.{leaf}"
        for stage in (2, 3)
        for index, leaves in (
            (0, ["weight"]),
            (1, ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]),
        )
        for leaf in leaves
    ]
    assert set(noshort) == {key for key in short if "shortcut" not in key}


def test_cifar_resnets_have_batchnorm_running_statistics() -> None:
    shapes = _state_shapes("resnet20")
    bn_layers = [key[: -len(".running_mean")] for key in shapes if key.endswith("running_mean")]
    assert len(bn_layers) == 1 + 9 * 2 + 2  # stem, two per block, two projection shortcuts
    for prefix in bn_layers:
        assert shapes[f"{prefix}.running_var"] == shapes[f"{prefix}.running_mean"]
        assert shapes[f"{prefix}.num_batches_tracked"] == ()


@pytest.mark.parametrize("name", ["resnet56", "vgg9", "densenet121", "resnet18", "wrn56_2"])
def test_zoo_takes_the_number_of_classes(name: str) -> None:
    shapes = _state_shapes(name, num_classes=100)
    last_weight = [key for key in shapes if key.endswith("weight")][-1]
    assert shapes[last_weight][0] == 100


@pytest.mark.parametrize("name", [n for n in REFERENCE_MODEL_NAMES if n not in SLOW_FORWARD])
def test_zoo_forward_gives_one_row_of_logits_per_image(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()


def _zero_residual_branch(block: nn.Module) -> None:
    """Make the residual branch output exactly zero in eval mode."""
    last_bn = block.bn2
    assert isinstance(last_bn, nn.BatchNorm2d)
    with torch.no_grad():
        last_bn.weight.zero_()
        last_bn.bias.zero_()


def test_blocks_add_the_shortcut_only_when_they_have_one() -> None:
    torch.manual_seed(0)
    short = build_model("resnet20").eval()
    noshort = build_model("resnet20_noshort").eval()
    x = torch.randn(2, 16, 8, 8)
    for model in (short, noshort):
        _zero_residual_branch(model.get_submodule("layer1.0"))
    with torch.no_grad():
        assert torch.equal(short.get_submodule("layer1.0")(x), torch.relu(x))
        assert torch.equal(noshort.get_submodule("layer1.0")(x), torch.zeros_like(x))


def test_noshort_and_short_compute_differently_with_shared_weights() -> None:
    torch.manual_seed(0)
    short = build_model("resnet20").eval()
    noshort = build_model("resnet20_noshort").eval()
    noshort.load_state_dict(
        {k: v for k, v in short.state_dict().items() if "shortcut" not in k}, strict=True
    )
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(short(x), noshort(x))


@pytest.mark.parametrize(
    ("name", "input_shape"),
    [
        ("mlp", (1, 8, 8)),
        ("mlp", (3, 32, 32)),
        ("mlp", (20,)),
        ("cnn", (1, 8, 8)),
        ("cnn", (3, 32, 32)),
        ("cnn_nobn", (1, 8, 8)),
        ("cnn_nobn", (3, 32, 32)),
    ],
)
def test_small_models_fit_the_data(name: str, input_shape: tuple[int, ...]) -> None:
    model = build_model(name, input_shape=input_shape, num_classes=7).eval()
    with torch.no_grad():
        out = model(torch.randn(4, *input_shape))
    assert out.shape == (4, 7)


def test_mlp_has_hidden_layers_of_64_and_32() -> None:
    shapes = _state_shapes("mlp", input_shape=(1, 8, 8), num_classes=10)
    weights = [shape for key, shape in shapes.items() if key.endswith("weight")]
    assert weights == [(64, 64), (32, 64), (10, 32)]


def test_cnn_has_batchnorm_and_cnn_nobn_has_none() -> None:
    cnn = build_model("cnn", input_shape=(1, 8, 8))
    nobn = build_model("cnn_nobn", input_shape=(1, 8, 8))
    assert any(isinstance(m, nn.BatchNorm2d) for m in cnn.modules())
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in nobn.modules())
    assert not any("running" in key for key in nobn.state_dict())
    assert cnn.state_dict()["conv1.weight"].shape == (16, 1, 3, 3)


def test_zoo_adapts_to_other_image_sizes_without_a_checkpoint() -> None:
    model = build_model("vgg9", input_shape=(1, 8, 8)).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)
