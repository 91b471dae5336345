"""BatchNorm folded into convolutions: the same outputs, for every built-in model, at
every point (weights, running statistics and re-estimated statistics moving)."""

import copy
import math

import pytest
import torch
from torch import nn

from lstui.landscape.directions import create_random_direction
from lstui.landscape.evaluator import EvalData, Evaluator
from lstui.landscape.fold import ConvBN, add_into, fold_batchnorm, freeze, onednn_available, thaw
from lstui.models import build_model
from lstui.models._zoo import REFERENCE_ZOO
from tests.landscape.nets import conv_bn

# one of each family (the deep variants differ only in depth); all 29 in test_zoo_folds below
FAMILIES = ["resnet20", "resnet56_noshort", "wrn56_2", "resnet18", "resnet50", "vgg9", "densenet121", "cnn"]


def _randomise_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """BatchNorm statistics and affine parameters far from their initial 0/1."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
                m.running_var.copy_(0.5 + 1.5 * torch.rand(n, generator=g))
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(0.4 * torch.rand(n, generator=g) - 0.2)
    return model.eval()


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.parametrize("fuse_relu", [False, True])
@pytest.mark.parametrize("name", FAMILIES)
def test_a_folded_model_gives_the_models_outputs(name: str, fuse_relu: bool) -> None:
    model = _randomise_bn(build_model(name, input_shape=(3, 32, 32), num_classes=10))
    folded, count = fold_batchnorm(model, fuse_relu=fuse_relu)
    convs_with_bn = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert count > 0
    assert count <= convs_with_bn
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = model(x), folded(x)
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-5 * want.abs().max().item())
    assert {id(p) for p in folded.parameters()} <= {id(p) for p in model.parameters()}, "shared, not copied"


def test_zoo_folds() -> None:
    """Every model of the reference zoo traces and folds every BatchNorm that follows a convolution."""
    for name in REFERENCE_ZOO:
        model = build_model(name, input_shape=(3, 32, 32), num_classes=10).eval()
        _, count = fold_batchnorm(model)
        assert count > 0, name


def test_which_pairs_fold() -> None:
    torch.manual_seed(0)

    class TwoUsers(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3, padding=1)
            self.bn = nn.BatchNorm2d(2)
            self.plain = nn.BatchNorm2d(1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv(x)
            return self.bn(y) + y + self.plain(x).mean()  # the conv's output is needed as it is

    model = _randomise_bn(TwoUsers())
    assert fold_batchnorm(model) == (model, 0)
    no_stats = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2, track_running_stats=False)).eval()
    assert fold_batchnorm(no_stats)[1] == 0, "batch statistics in eval mode cannot be folded"
    no_bn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
    assert fold_batchnorm(no_bn) == (no_bn, 0)


def test_a_model_that_does_not_trace_is_used_as_it_is() -> None:
    class Branchy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = conv_bn(0)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.sum() > 0:  # data-dependent control flow: fx cannot trace it
                return self.body(x)
            return -self.body(x)

    model = Branchy().eval()
    assert fold_batchnorm(model) == (model, 0)
    x = torch.rand(4, 1, 8, 8)
    ev = Evaluator(model, [create_random_direction(model, torch.Generator().manual_seed(0))],
                   train=EvalData(x, torch.zeros(4, dtype=torch.long)), batch_size=4)
    assert ev.folded_bn == 0
    assert ev.evaluate(0.5).finite


def _data(n: int = 40, seed: int = 0) -> EvalData:
    g = torch.Generator().manual_seed(seed)
    raw = torch.randint(0, 256, (n, 1, 8, 8), dtype=torch.uint8, generator=g)
    return EvalData(raw, torch.randint(0, 3, (n,), generator=g), scale=1 / 255, mean=(0.45,), std=(0.27,))


@pytest.mark.parametrize(("dir_type", "bn"), [("weights", "eval"), ("states", "eval"), ("weights", "recompute")])
def test_the_folded_evaluator_follows_every_point(dir_type: str, bn: str) -> None:
    """Weights, running statistics (``states`` directions) and re-estimated statistics
    (``--bn recompute``) change at every point; the folded model sees all of them."""
    model = _randomise_bn(conv_bn(2), seed=2)
    g = torch.Generator().manual_seed(7)
    dirs = [create_random_direction(model, g, dir_type=dir_type, ignore="none") for _ in range(2)]
    kw = dict(dir_type=dir_type, train=_data(), test=_data(24, seed=1), batch_size=16, bn=bn)
    plain = Evaluator(copy.deepcopy(model), dirs, fold_bn=False, **kw)  # type: ignore[arg-type]
    folded = Evaluator(copy.deepcopy(model), dirs, **kw)  # type: ignore[arg-type]
    assert (plain.folded_bn, folded.folded_bn) == (0, 2)
    assert any(isinstance(m, ConvBN) for m in folded._forward_model.modules())
    points = [(0.0, 0.0), (0.3, -0.2), (-0.5, 0.4), (0.0, 0.0)]
    losses = set()
    for x, y in points:
        want, got = plain.evaluate(x, y), folded.evaluate(x, y)
        for key in ("train_loss", "test_loss"):
            assert getattr(got, key) == pytest.approx(getattr(want, key), rel=1e-6)
        assert abs(got.train_acc - want.train_acc) <= 100 / 40
        losses.add(got.train_loss)
    assert len(losses) == 3, "the loss moved with the point, and came back at the centre"


def test_a_diverged_model_is_folded_without_blaming_the_folding(caplog: pytest.LogCaptureFixture) -> None:
    """Weights × 1e30: the model's own outputs were inf/NaN, and the check said
    "convolutions and ReLUs not fused: largest difference nan" and "BatchNorm not folded",
    as if the folding were wrong. Where the model's outputs are not finite the folded
    model's are not either: they agree."""
    model = _randomise_bn(conv_bn(2), seed=3)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1e30)
    with caplog.at_level("WARNING"):
        ev = Evaluator(model, [create_random_direction(model, torch.Generator().manual_seed(0))],
                       train=_data(), batch_size=16)
    assert not bool(torch.isfinite(model(_data().inputs[:4].float())).all()), "it diverged"
    assert ev.folded_bn == 2
    assert "not folded" not in caplog.text and "not fused" not in caplog.text, caplog.text


class _Counting(nn.Module):
    """A model whose outputs depend on its Python state: how often it was called."""

    def __init__(self) -> None:
        super().__init__()
        self.body = _randomise_bn(conv_bn(0))
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.body(x) * self.calls


def test_a_model_whose_python_matters_is_checked_and_evaluated_as_it_is(caplog: pytest.LogCaptureFixture) -> None:
    """fx bakes a forward's Python into the graph as it ran while tracing; the Evaluator
    compares the folded model with the model on a few samples and keeps the model."""

    model = _Counting().eval()
    assert fold_batchnorm(model)[1] == 2, "it traces"
    model.calls = 0
    with caplog.at_level("WARNING"):
        ev = Evaluator(model, [create_random_direction(model, torch.Generator().manual_seed(0))],
                       train=_data(), batch_size=16)
    assert ev.folded_bn == 0
    assert "BatchNorm not folded" in caplog.text
    assert ev._forward_model is ev.model


def test_relu_runs_in_place_only_on_tensors_nothing_else_reads() -> None:
    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 2, 3, padding=1)
            self.bn1 = nn.BatchNorm2d(2)
            self.conv2 = nn.Conv2d(2, 2, 3, padding=1)
            self.bn2 = nn.BatchNorm2d(2)
            self.act = nn.ReLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            inp = torch.relu(x)  # the caller's tensor: never changed in place
            a = torch.nn.functional.relu(self.bn1(self.conv1(inp)))  # fresh, read once: in place
            b = self.bn2(self.conv2(a))
            c = self.act(b)  # b is read again below: not in place
            return c + b + self.act(a + b)  # a fresh sum read once: in place

    model = _randomise_bn(Net())
    folded, count = fold_batchnorm(model)
    assert count == 2
    assert isinstance(folded, torch.fx.GraphModule)
    in_place = [n for n in folded.graph.nodes if n.target is torch.relu_]
    assert [n.args[0].op for n in in_place] == ["call_module", "call_function"]
    sums = [n for n in folded.graph.nodes if n.target is add_into]
    assert len(sums) == 1, "only (c + b) is a fresh summand read once; a and b are read again"
    x = torch.randn(2, 1, 6, 6)
    before = x.clone()
    with torch.no_grad():
        want, got = model(x), folded(x)
    assert torch.equal(x, before), "the input was not written"
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_residual_sum_is_written_into_the_fresh_summand() -> None:
    model = _randomise_bn(build_model("resnet20", input_shape=(3, 32, 32), num_classes=10))
    folded, _ = fold_batchnorm(model)
    assert isinstance(folded, torch.fx.GraphModule)
    sums = [n for n in folded.graph.nodes if n.target is add_into]
    assert len(sums) == 9, "one per basic block"
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(folded(x), model(x), rtol=1e-5, atol=1e-5)


def test_add_into_writes_only_when_the_sum_has_the_summands_dtype_and_shape() -> None:
    a, b = torch.ones(2, 3), torch.full((2, 3), 2.0)
    assert add_into(a, b) is a and torch.equal(a, torch.full((2, 3), 3.0))
    narrow = torch.ones(2, 3, dtype=torch.bfloat16)
    wide = add_into(narrow, b)  # autocast: a bfloat16 output plus a float32 shortcut
    assert isinstance(wide, torch.Tensor) and wide.dtype == torch.float32
    assert torch.equal(narrow, torch.ones(2, 3, dtype=torch.bfloat16)), "not written"
    column = torch.ones(2, 1)
    grown = add_into(column, b)  # broadcast to a bigger shape
    assert isinstance(grown, torch.Tensor) and grown.shape == (2, 3)
    assert torch.equal(column, torch.ones(2, 1))
    assert add_into(2, 3) == 5


# -- convolution, sum and ReLU as one call ---------------------------------------------------
def _calls(folded: nn.Module) -> list[tuple[str, int]]:
    """Each module call of a traced graph: the module's type and how many inputs it takes."""
    assert isinstance(folded, torch.fx.GraphModule)
    modules = dict(folded.named_modules())
    return [(type(modules[str(n.target)]).__name__ + ("+relu" if getattr(modules[str(n.target)], "relu", False) else ""),
             len(n.args)) for n in folded.graph.nodes if n.op == "call_module"]


def test_a_residual_block_is_two_fused_calls() -> None:
    """ResNet-20: the stem and each block's first convolution take their ReLU; each
    block's second convolution takes the shortcut's sum and the ReLU after it. The
    projection shortcuts (1×1 convolution and BatchNorm) stay folded, unfused."""
    model = _randomise_bn(build_model("resnet20", input_shape=(3, 32, 32), num_classes=10))
    folded, count = fold_batchnorm(model, fuse_relu=True)
    calls = _calls(folded)
    assert count == 21
    assert calls.count(("ConvBN+relu", 1)) == 10
    assert calls.count(("ConvBN+relu", 2)) == 9, "one sum and ReLU per basic block"
    assert calls.count(("ConvBN", 1)) == 2, "the two projection shortcuts"
    assert not [n for n in folded.graph.nodes if n.target in (add_into, torch.relu_, torch.nn.functional.relu)]
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(folded(x), model(x), rtol=1e-5, atol=1e-5)


def test_only_outputs_nothing_else_reads_are_fused() -> None:
    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2)
            self.conv2, self.bn2 = nn.Conv2d(2, 2, 3, padding=1), nn.BatchNorm2d(2)
            self.conv3, self.bn3 = nn.Conv2d(2, 2, 3, padding=1), nn.BatchNorm2d(2)
            self.act = nn.ReLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            a = self.bn1(self.conv1(x))
            b = self.act(a)  # a is read again below: not fused
            c = self.bn2(self.conv2(b)) + a
            d = torch.relu(c)  # c is read again below: not fused
            e = torch.relu(a + self.bn3(self.conv3(d)))  # the second summand: fused with a
            return e + c

    model = _randomise_bn(Net())
    folded, count = fold_batchnorm(model, fuse_relu=True)
    assert count == 3
    assert _calls(folded).count(("ConvBN+relu", 2)) == 1
    assert _calls(folded).count(("ConvBN", 1)) == 2
    x = torch.randn(2, 1, 6, 6)
    with torch.no_grad():
        assert torch.allclose(folded(x), model(x), rtol=1e-5, atol=1e-6)


def test_frozen_weights_hold_until_thawed() -> None:
    model = _randomise_bn(conv_bn(1))
    folded, _ = fold_batchnorm(model, fuse_relu=True)
    x = torch.randn(3, 1, 8, 8)
    with torch.no_grad():
        before = folded(x)
        assert freeze(folded) == 2
        model[0].weight.mul_(2.0)
        assert torch.equal(folded(x), before), "the frozen weights are used"
        thaw(folded)
        assert not torch.allclose(folded(x), before), "the live weights again"
        assert all(m.frozen is None for m in folded.modules() if isinstance(m, ConvBN))
        freeze(folded, torch.bfloat16)
        frozen = [m.frozen for m in folded.modules() if isinstance(m, ConvBN)]
        assert all(w.dtype == b.dtype == torch.bfloat16 for w, b in frozen if w is not None)
        thaw(folded)


def test_frozen_weights_for_the_triton_kernel_are_laid_out_once_per_freeze_in_kept_buffers() -> None:
    """With the Triton kernel on, a freeze also lays the weight out as the kernel reads it
    ([KH, KW, C, K]); the next freeze writes into the same tensors (a captured CUDA graph
    reads them there), thaw drops them; with it off there is no such copy."""
    from lstui.landscape import triton_conv

    model = _randomise_bn(conv_bn(3))
    off, _ = fold_batchnorm(model, fuse_relu=True)
    on, _ = fold_batchnorm(model, fuse_relu=True, triton="on")
    with torch.no_grad():
        freeze(off)
        assert all(m.frozen_taps is None for m in off.modules() if isinstance(m, ConvBN))
        freeze(on, torch.float16)
        layers = [m for m in on.modules() if isinstance(m, ConvBN)]
        first = []
        for m in layers:
            assert m.frozen is not None and m.frozen_taps is not None
            assert torch.equal(m.frozen_taps, m.frozen[0].permute(2, 3, 1, 0))
            assert m.frozen_taps.is_contiguous() and m.frozen_taps.dtype == torch.float16
            first.append(m.frozen_taps.data_ptr())
        model[0].weight.mul_(-1.0)
        freeze(on, torch.float16)
        for m, ptr in zip(layers, first, strict=True):
            assert m.frozen is not None and m.frozen_taps is not None
            assert m.frozen_taps.data_ptr() == ptr
            assert torch.equal(m.frozen_taps, triton_conv.taps(m.frozen[0]))
        # a layer that gave the kernel up keeps its buffers, and its taps up to date (a graph
        # captured before may still run the kernel on them)
        weights = [m.frozen[0].data_ptr() for m in layers if m.frozen is not None]
        for m in layers:
            m.triton_failed = True
        model[0].weight.mul_(3.0)
        freeze(on, torch.float16)
        assert [m.frozen[0].data_ptr() for m in layers if m.frozen is not None] == weights
        for m, ptr in zip(layers, first, strict=True):
            assert m.frozen is not None and m.frozen_taps is not None and m.frozen_taps.data_ptr() == ptr
            assert torch.equal(m.frozen_taps, triton_conv.taps(m.frozen[0]))
        thaw(on)
        assert all(m.frozen is None and m.frozen_taps is None for m in layers)


@pytest.mark.parametrize(("library", "use", "failed"),
                         [("cuDNN", "_use_cudnn", "cudnn_failed"), ("oneDNN", "_use_onednn", "onednn_failed")])
def test_a_fused_call_that_fails_runs_unfused(
    library: str, use: str, failed: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Where cuDNN (or oneDNN) has no fused kernel for a dtype, a card or a shape, the call
    raises once per layer and the layer runs the unfused operations from then on, with
    one warning. (Here: cuDNN's operator asked to run on the CPU, where it does not exist;
    oneDNN's replaced by one that refuses.)"""
    from lstui.landscape import fold

    def refuse(*args: object) -> torch.Tensor:
        raise RuntimeError("could not create a primitive descriptor")

    model = _randomise_bn(build_model("resnet20", input_shape=(3, 16, 16), num_classes=10))
    folded, _ = fold_batchnorm(model, fuse_relu=True)
    monkeypatch.setattr(fold, use, lambda *args: True)
    if library == "oneDNN":
        monkeypatch.setattr(fold, "_onednn_conv_relu", refuse)
    monkeypatch.setattr(fold, "_said", set())
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad(), caplog.at_level("WARNING"):
        assert torch.allclose(folded(x), model(x), rtol=1e-5, atol=1e-5)
        assert torch.allclose(folded(x), model(x), rtol=1e-5, atol=1e-5)
    assert caplog.text.count(f"{library}'s fused convolution and ReLU failed") == 1
    assert all(getattr(m, failed) for m in folded.modules() if isinstance(m, ConvBN) and m.relu)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_fused_evaluator_agrees_with_the_unfused_one(precision: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the CPU a fused call is oneDNN's convolution with the sum and the ReLU as
    post-ops in float32 (by default where this torch has it), the unfused operations
    under bf16 autocast: the same losses; the folded weights are frozen for each point
    only."""
    from lstui.landscape import fold

    calls = []
    real = fold._onednn_conv_relu
    monkeypatch.setattr(fold, "_onednn_conv_relu", lambda *a: calls.append(1) or real(*a))
    model = _randomise_bn(build_model("resnet20", input_shape=(1, 8, 8), num_classes=3), seed=3)
    g = torch.Generator().manual_seed(4)
    dirs = [create_random_direction(model, g) for _ in range(2)]
    kw = dict(train=_data(), batch_size=16, precision=precision)
    plain = Evaluator(copy.deepcopy(model), dirs, fuse_relu=False, **kw)  # type: ignore[arg-type]
    fused = Evaluator(copy.deepcopy(model), dirs, fuse_relu=True, **kw)  # type: ignore[arg-type]
    default = Evaluator(copy.deepcopy(model), dirs, **kw)  # type: ignore[arg-type]
    assert default.fused_relu is fold.onednn_available(), "on the CPU: where oneDNN fuses"
    assert (plain.fused_relu, fused.fused_relu) == (False, True)
    calls.clear()
    for x, y in [(0.0, 0.0), (0.4, -0.3), (-0.2, 0.5)]:
        want, got = plain.evaluate(x, y), fused.evaluate(x, y)
        assert got.train_loss == pytest.approx(want.train_loss, rel=1e-6)
        assert got.train_acc == want.train_acc
    assert all(m.frozen is None for m in fused._forward_model.modules() if isinstance(m, ConvBN))
    assert bool(calls) is (precision == "fp32" and fold.onednn_available())


@pytest.mark.skipif(not onednn_available(), reason="this torch has no oneDNN convolution with post-ops")
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("with_z", [True, False])
@pytest.mark.parametrize("channels_last", [True, False])
def test_onednn_fused_calls_give_the_unfused_operations(stride: int, with_z: bool, channels_last: bool) -> None:
    """oneDNN's ``relu(conv(x) + bias (+ z))`` in one call against the three operations."""
    from lstui.landscape.fold import _onednn_conv_relu

    g = torch.Generator().manual_seed(stride + 2 * with_z)
    conv = nn.Conv2d(16, 32, 3, stride=stride, padding=1, bias=False)
    x = torch.randn(4, 16, 12, 12, generator=g)
    weight, bias = torch.randn(32, 16, 3, 3, generator=g) * 0.1, torch.randn(32, generator=g)
    z = torch.randn(4, 32, 12 // stride, 12 // stride, generator=g) if with_z else None
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
        z = None if z is None else z.contiguous(memory_format=torch.channels_last)
    want = torch.nn.functional.conv2d(x, weight, bias, stride, 1)
    want = torch.relu(want if z is None else want + z)
    got = _onednn_conv_relu(conv, x, weight, bias, z)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    if z is not None:
        assert not torch.equal(z, got), "z is read, not written"


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("precision", ["fp32", "tf32", "bf16"])
def test_cudnn_fused_calls_agree_with_the_unfused_model(precision: str) -> None:
    """cuDNN's fused convolution, bias, sum and ReLU against the unfused fold on CUDA."""
    from lstui.landscape.evaluator import TOLERANCE

    model = _randomise_bn(build_model("resnet20", input_shape=(3, 32, 32), num_classes=10), seed=5)
    g = torch.Generator().manual_seed(6)
    dirs = [create_random_direction(model, g) for _ in range(2)]
    raw = torch.randint(0, 256, (300, 3, 32, 32), dtype=torch.uint8, generator=g)
    data = EvalData(raw, torch.randint(0, 10, (300,), generator=g), 1 / 255, (0.5,) * 3, (0.25,) * 3)
    kw = dict(train=data, device="cuda", batch_size=128, precision=precision)
    plain = Evaluator(copy.deepcopy(model), dirs, fuse_relu=False, **kw)  # type: ignore[arg-type]
    fused = Evaluator(copy.deepcopy(model), dirs, **kw)  # type: ignore[arg-type]
    assert fused.fused_relu and fused.folded_bn == 21
    rel = 1e-5 if precision == "fp32" else TOLERANCE[precision]
    for x, y in [(0.0, 0.0), (0.3, -0.2)]:
        assert fused.evaluate(x, y).train_loss == pytest.approx(plain.evaluate(x, y).train_loss, rel=rel)


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize(("precision", "bn"), [("fp32", "eval"), ("bf16", "eval"), ("fp32", "recompute")])
def test_cuda_graphs_replay_each_points_weights(precision: str, bn: str) -> None:
    """The eager model captured in CUDA graphs (one per batch shape: 300 samples run as
    3 × 100, 120 as 2 × 60) gives the eager losses at every point."""
    model = _randomise_bn(build_model("resnet20", input_shape=(3, 16, 16), num_classes=10), seed=7)
    g = torch.Generator().manual_seed(8)
    dirs = [create_random_direction(model, g) for _ in range(2)]

    def split(n: int) -> EvalData:
        raw = torch.randint(0, 256, (n, 3, 16, 16), dtype=torch.uint8, generator=g)
        return EvalData(raw, torch.randint(0, 10, (n,), generator=g), 1 / 255, (0.5,) * 3, (0.25,) * 3)

    kw = dict(train=split(300), test=split(120), device="cuda", batch_size=100, precision=precision, bn=bn)
    eager = Evaluator(copy.deepcopy(model), dirs, cuda_graphs=False, **kw)  # type: ignore[arg-type]
    graphed = Evaluator(copy.deepcopy(model), dirs, **kw)  # type: ignore[arg-type]
    assert graphed.cuda_graphs and not eager.cuda_graphs
    losses = set()
    for x, y in [(0.0, 0.0), (0.3, -0.2), (-0.4, 0.1)]:
        want, got = eager.evaluate(x, y), graphed.evaluate(x, y)
        for key in ("train_loss", "test_loss"):
            assert getattr(got, key) == pytest.approx(getattr(want, key), rel=1e-5)
        assert abs(got.train_acc - want.train_acc) <= 100 / 300
        losses.add(got.train_loss)
    assert len(losses) == 3
    assert len(graphed._graphs) == 2, "one graph per batch shape"


@pytest.mark.gpu
@cuda
def test_a_model_that_cannot_be_captured_is_evaluated_eagerly(caplog: pytest.LogCaptureFixture) -> None:
    class Syncing(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = _randomise_bn(conv_bn(0))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.body(x)
            return out * (1.0 if float(out.abs().max()) < 1e9 else 0.0)  # reads the device: no capture

    model = Syncing().eval()
    dirs = [create_random_direction(model, torch.Generator().manual_seed(0))]
    want = Evaluator(copy.deepcopy(model), dirs, train=_data(), batch_size=16, fold_bn=False).evaluate(0.3)
    with caplog.at_level("WARNING"):
        ev = Evaluator(copy.deepcopy(model), dirs, train=_data(), batch_size=16, device="cuda", fold_bn=False)
        got = ev.evaluate(0.3)
    assert caplog.text.count("CUDA graphs off") == 1 and not ev.cuda_graphs, "said once, for 3 batches"
    assert got.train_loss == pytest.approx(want.train_loss, rel=1e-5)
    assert ev.evaluate(-0.3).finite


@pytest.mark.gpu
@cuda
def test_a_model_whose_python_matters_is_not_replayed(caplog: pytest.LogCaptureFixture) -> None:
    """A graph holds the Python of the forward pass as it ran at capture."""

    model = _Counting().eval()
    dirs = [create_random_direction(model, torch.Generator().manual_seed(0))]
    with caplog.at_level("WARNING"):
        ev = Evaluator(model, dirs, train=_data(), batch_size=16, device="cuda", fold_bn=False)
        assert ev.evaluate(0.3).finite
    assert "graph's outputs differ" in caplog.text and not ev.cuda_graphs


def test_cuda_graphs_are_for_cuda_only() -> None:
    model = _randomise_bn(conv_bn(0))
    ev = Evaluator(model, [create_random_direction(model, torch.Generator().manual_seed(0))],
                   train=_data(), batch_size=16, cuda_graphs=True)
    assert not ev.cuda_graphs
    assert ev.evaluate(0.2).finite


@pytest.mark.gpu
@cuda
def test_auto_does_not_compile_a_model_whose_convolutions_run_fused() -> None:
    """Measured on an H200 (ResNet-56, bf16): fused eager 0.149 s a point, compiled 0.199."""
    from lstui.landscape.evaluator import compile_available

    model = _randomise_bn(build_model("resnet20", input_shape=(3, 16, 16), num_classes=10))
    dirs = [create_random_direction(model, torch.Generator().manual_seed(0))]
    raw = torch.randint(0, 256, (64, 3, 16, 16), dtype=torch.uint8)
    data = EvalData(raw, torch.zeros(64, dtype=torch.long), 1 / 255, (0.5,) * 3, (0.25,) * 3)
    kw = dict(train=data, device="cuda", compile="auto", expected_points=100_000)
    fused = Evaluator(copy.deepcopy(model), dirs, **kw)  # type: ignore[arg-type]
    assert fused.fused_relu and not fused._compile_undecided
    plain = Evaluator(copy.deepcopy(model), dirs, fuse_relu=False, **kw)  # type: ignore[arg-type]
    assert plain._compile_undecided == compile_available("cuda")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=[cuda, pytest.mark.gpu])])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_negative_running_variance_gives_nan_fused_or_not(precision: str, device: str) -> None:
    """An interpolation or a ``states`` direction can make a BatchNorm's running variance
    negative; the model's outputs are then NaN. A fused call's ReLU maps NaN to 0, and a
    finite, wrong loss came out (the demo's interpolation beyond x = 1.05 showed 163
    where the model gives NaN): every path now gives NaN, with a NaN accuracy."""
    model = _randomise_bn(build_model("resnet20", input_shape=(1, 8, 8), num_classes=3), seed=5)
    state = model.state_dict()
    direction = [torch.zeros(t.shape) for t in state.values()]
    var = list(state).index("bn1.running_var")  # the first BatchNorm: its ReLU is fused
    direction[var] = -2.0 * state["bn1.running_var"].float()  # x = 1: the variance negated
    kw = dict(dir_type="states", train=_data(), batch_size=16, precision=precision, device=device)
    plain = Evaluator(copy.deepcopy(model), [direction], fold_bn=False, **kw)  # type: ignore[arg-type]
    fused = Evaluator(copy.deepcopy(model), [direction], fuse_relu=True, **kw)  # type: ignore[arg-type]
    assert fused.fused_relu and fused.folded_bn
    ok_plain, ok_fused = plain.evaluate(0.25), fused.evaluate(0.25)  # variance halved: fine
    assert ok_fused.train_loss == pytest.approx(ok_plain.train_loss, rel=1e-2 if precision == "bf16" else 1e-6)
    for ev in (plain, fused):
        got = ev.evaluate(1.0)
        assert got.train_loss is not None and got.train_acc is not None
        assert math.isnan(got.train_loss) and math.isnan(got.train_acc), (ev.fused_relu, got)
        assert not got.finite
    assert fused.evaluate(0.0).finite  # the next point is not marked


def test_a_negative_variance_before_a_fused_layer_gives_nan_too() -> None:
    """A pre-activation block (DenseNet's ``norm1 → relu → conv1 → norm2 → relu``): its
    first BatchNorm is not folded, and the NaN of its negative variance reached the
    fused ``conv1`` whose ReLU made it 0."""
    model = nn.Sequential(
        nn.BatchNorm2d(1), nn.ReLU(), nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Flatten(), nn.Linear(4 * 8 * 8, 3),
    )
    model = _randomise_bn(model, seed=6)
    state = model.state_dict()
    direction = [torch.zeros(t.shape) for t in state.values()]
    direction[list(state).index("0.running_var")] = -2.0 * state["0.running_var"].float()
    kw = dict(dir_type="states", train=_data(), batch_size=16)
    plain = Evaluator(copy.deepcopy(model), [direction], fold_bn=False, **kw)  # type: ignore[arg-type]
    fused = Evaluator(copy.deepcopy(model), [direction], fuse_relu=True, **kw)  # type: ignore[arg-type]
    assert fused.fused_relu and fused.folded_bn == 1
    for ev in (plain, fused):
        assert math.isnan(ev.evaluate(1.0).train_loss)  # type: ignore[arg-type]
    assert fused.evaluate(0.25).train_loss == pytest.approx(plain.evaluate(0.25).train_loss, rel=1e-6)
