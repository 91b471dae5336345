"""lstui's Triton convolution: its outputs against PyTorch's (on the CPU through Triton's
interpreter, in a process of its own started with ``TRITON_INTERPRET=1``; on a card when
there is one), and a folded layer falling back to cuDNN when it fails or differs."""

import copy
import logging
import os
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from lstui.errors import BadInput
from lstui.landscape import fold, triton_conv
from lstui.landscape.directions import create_random_direction
from lstui.landscape.evaluator import TOLERANCE, EvalData, Evaluator
from lstui.landscape.fold import ConvBN
from lstui.models import build_model
from tests.landscape.nets import conv_bn

needs_triton = pytest.mark.skipif(not triton_conv.available(), reason="needs triton")
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _interpreted(script: str) -> str:
    """Run ``script`` in a new Python with Triton's interpreter on; its stdout."""
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@needs_triton
def test_the_kernel_computes_the_convolution_bias_sum_and_relu() -> None:
    """Shapes of every kind the kernel meets: 3 input channels, output channels not a
    power of two, more input channels than one block (70 > 64), strides 1 and 2, 1×1 and
    3×3 kernels, channels-last and contiguous inputs, with and without sum and ReLU; and
    the same with a kernel row's taps read as one (``ROW_TAPS``) where that applies."""
    out = _interpreted("""
        import torch
        import torch.nn.functional as F
        from lstui.landscape import triton_conv

        g = torch.Generator().manual_seed(0)
        cases = [  # n, c, h, w, k, kernel, stride, padding
            (2, 16, 8, 8, 16, 3, 1, 1), (2, 3, 9, 7, 20, 3, 2, 1), (1, 32, 8, 8, 64, 1, 2, 0),
            (3, 70, 6, 5, 17, 3, 1, 1), (1, 16, 7, 7, 32, 3, 2, 1), (2, 8, 5, 5, 8, 3, 1, 0),
        ]
        # float32: the interpreter's products are float32 ones (on a card, TF32)
        for dtype, tolerance in ((torch.float16, 4e-3), (torch.float32, 1e-5)):
            for n, c, h, w, k, kernel, stride, padding in cases:
                for channels_last in (True, False):
                    x = torch.randn(n, c, h, w, generator=g).to(dtype)
                    if channels_last:
                        x = x.to(memory_format=torch.channels_last)
                    weight = (torch.randn(k, c, kernel, kernel, generator=g) / (c * kernel * kernel) ** 0.5).to(dtype)
                    bias = torch.randn(k, generator=g).to(dtype)
                    conv = F.conv2d(x.float(), weight.float(), bias.float(), stride=stride, padding=padding)
                    z = torch.randn(conv.shape, generator=g).to(dtype)
                    for summand, relu in ((None, False), (None, True), (z, True), (z, False)):
                        got = triton_conv.conv2d(x, weight, bias, (stride, stride), (padding, padding), z=summand, relu=relu)
                        want = conv if summand is None else conv + summand.float()
                        want = want.relu() if relu else want
                        assert got.dtype == dtype and got.shape == want.shape
                        assert got.is_contiguous(memory_format=torch.channels_last)
                        err = float((got.float() - want).abs().max())
                        assert err <= tolerance * float(want.abs().max()), (dtype, n, c, k, kernel, stride, relu, err)
                        print("ok", dtype, n, c, k, kernel, stride, channels_last, summand is not None, relu)
                        if channels_last and c in (16, 32):  # one load and one product per kernel row
                            row = triton_conv.conv2d(x, weight, bias, (stride, stride), (padding, padding), z=summand,
                                                     relu=relu, config={"BLOCK_M": 32, "ROW_TAPS": True, "num_warps": 4})
                            err = float((row.float() - want).abs().max())
                            assert err <= tolerance * float(want.abs().max()), (dtype, n, c, k, kernel, stride, relu, err)
                            print("row", dtype)
        try:  # rows of taps need each pixel's channels contiguous
            x = torch.randn(1, 16, 5, 5, generator=g).half()
            triton_conv.conv2d(x, torch.randn(16, 16, 3, 3).half(), torch.zeros(16).half(), (1, 1), (1, 1),
                               config={"BLOCK_M": 32, "ROW_TAPS": True, "num_warps": 4})
        except Exception as exc:
            print("refused:", exc)
    """)
    assert out.count("ok torch.float16") == out.count("ok torch.float32") == 6 * 2 * 4
    # the channels-last cases of 16 and 32 channels: 3 shapes × 4 combinations, each dtype
    assert out.count("row torch.float16") == out.count("row torch.float32") == 3 * 4
    assert "refused:" in out and "ROW_TAPS: channels-last input" in out


@needs_triton
def test_a_folded_resnet_on_the_triton_kernel_gives_the_models_outputs() -> None:
    """ResNet-20 in float16, folded and fused with every convolution on the kernel: each
    layer checked against PyTorch's at its first call, none falls back, same logits."""
    out = _interpreted("""
        import torch
        from lstui.landscape.fold import ConvBN, fold_batchnorm, freeze, thaw
        from lstui.models import build_model

        torch.manual_seed(0)
        model = build_model("resnet20", input_shape=(3, 32, 32), num_classes=10).eval()
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 2.0)
        model = model.half().to(memory_format=torch.channels_last)
        x = torch.randn(2, 3, 8, 8).half().to(memory_format=torch.channels_last)
        for mode in ("on", "auto"):
            folded, count = fold_batchnorm(model, fuse_relu=True, triton=mode)
            with torch.no_grad():
                want, got = model(x).float(), folded(x).float()
                again = folded(x).float()
            layers = [m for m in folded.modules() if isinstance(m, ConvBN)]
            assert all(len(m.triton_use) == 1 and not m.triton_failed for m in layers)
            on_triton = sum(use for m in layers for use in m.triton_use.values())
            print(mode, "layers", len(layers), "on triton", on_triton, "err", float((got - want).abs().max()))
            assert torch.allclose(got, want, rtol=2e-2, atol=2e-2 * float(want.abs().max()))
            assert torch.equal(got, again)
            with torch.no_grad():  # the frozen weights, laid out for the kernel once
                freeze(folded)
                assert torch.equal(folded(x).float(), got)
                thaw(folded)
        # float32 runs the kernel while cuDNN may use TF32 (lstui's tf32 mode), not in strict fp32
        model, x = model.float(), x.float()
        for tf32 in (True, False):
            torch.backends.cudnn.allow_tf32 = tf32
            folded, _ = fold_batchnorm(model, fuse_relu=True, triton="on")
            with torch.no_grad():
                want, got = model(x), folded(x)
            on_triton = sum(use for m in folded.modules() if isinstance(m, ConvBN) for use in m.triton_use.values())
            print("float32 tf32", tf32, "on triton", on_triton)
            assert torch.allclose(got, want, rtol=1e-4, atol=1e-4 * float(want.abs().max()))
    """)
    assert "on layers 21 on triton 21" in out, out
    assert "float32 tf32 True on triton 21" in out and "float32 tf32 False on triton 0" in out, out
    # auto checked and timed every layer (which it keeps is a matter of timing: the
    # interpreter is far slower than PyTorch's CPU convolution, but PyTorch's float16 one is
    # slow too, and a loaded machine can tip a layer; the choice is tested with a fake timer)
    assert "auto layers 21 on triton" in out, out


@needs_triton
def test_the_evaluator_in_tf32_runs_the_kernel_on_weights_laid_out_once_a_point() -> None:
    """``tf32`` with ``triton_conv="on"`` (float32 on the interpreter): every folded layer
    runs the kernel on the frozen weights laid out for it at each point (not per batch),
    and the losses are those of the Evaluator without it."""
    out = _interpreted("""
        import copy
        import torch
        from lstui.landscape import triton_conv
        from lstui.landscape.directions import create_random_direction
        from lstui.landscape.evaluator import EvalData, Evaluator
        from lstui.models import build_model

        model = build_model("resnet20", input_shape=(3, 4, 4), num_classes=10).eval()
        g = torch.Generator().manual_seed(0)
        dirs = [create_random_direction(model, g) for _ in range(2)]
        data = EvalData(torch.randn(8, 3, 4, 4, generator=g), torch.randint(0, 10, (8,), generator=g))
        kw = dict(train=data, batch_size=4, precision="tf32", compile="off")
        plain = Evaluator(copy.deepcopy(model), dirs, **kw)
        tri = Evaluator(copy.deepcopy(model), dirs, triton_conv="on", **kw)
        laid_out = []
        taps = triton_conv.taps
        triton_conv.taps = lambda w: laid_out.append(w.shape) or taps(w)
        for x, y in [(0.0, 0.0), (0.3, -0.2)]:
            want, got = plain.evaluate(x, y).train_loss, tri.evaluate(x, y).train_loss
            assert abs(got - want) <= 1e-6 * abs(want), (x, y, got, want)
        print("layers", tri.triton_layers, "of", tri.folded_bn, "laid out", len(laid_out))
    """)
    # two points, two batches each: 21 layouts a point, none per batch
    assert "layers 21 of 21 laid out 42" in out, out


def _ptx(arch: int, c: int, k: int, stride: int, has_z: bool, pointer: str = "*bf16", stages: int = 3,
         **overrides: object) -> str:
    """The PTX of the kernel for a ResNet layer on a channels-last batch, compiled for
    ``sm_<arch>`` with Triton's own compiler and ptxas (no card needed), specialised as a
    launch on such tensors specialises it (unit channel strides, the rest multiples of 16)."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    fn = triton_conv._conv_kernel.fn
    fixed: dict[str, object] = {**triton_conv.constexprs(c, k, (3, 3), (stride, stride), (1, 1), has_z, True),
                                "BLOCK_M": 128, "ROW_TAPS": False, "sxc": 1, "syc": 1, "szc": 1, **overrides}
    signature = {n: "constexpr" if n in fixed else pointer if n.endswith("_ptr") else "i32" for n in fn.arg_names}
    aligned = [(i,) for i, n in enumerate(fn.arg_names) if n not in fixed and n not in ("C", "H", "W", "K", "OH", "OW", "M_LOG2")]
    src = ASTSource(fn, signature, {(fn.arg_names.index(n),): v for n, v in fixed.items()},
                    {key: [["tt.divisibility", 16]] for key in aligned})
    kernel = triton.compile(src, target=GPUTarget("cuda", arch, 32), options={"num_warps": 4, "num_stages": stages})
    return str(kernel.asm["ptx"])


def _nvidia_compiler() -> bool:
    try:
        from triton.backends import backends
    except ImportError:
        return False
    return "nvidia" in backends


@needs_triton
@pytest.mark.skipif(not _nvidia_compiler(), reason="needs Triton's CUDA compiler")
@pytest.mark.parametrize("arch", [80, 90])
def test_the_kernel_compiles_to_tensor_cores_and_vector_memory_access(
    arch: int, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ResNet-56's layers compiled for an A100 (sm_80) and an H100/H200 (sm_90): the
    products on tensor cores (TF32 ones for float32 activations), each step's tiles copied to shared memory 16 bytes at a time
    behind the current product (cp.async), outputs stored 16 bytes at a time. With a mask
    per channel (``EVEN_C``/``EVEN_K`` off: channels not filling whole blocks) the same
    layer loads and stores one 2-byte element at a time: what the flags are for. With one
    stage (configurations that read the taps' overlapping pixels through L1) the loads are
    plain 16-byte ones."""
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path))  # compiled anew, not from ~/.triton
    mma = "wgmma.mma_async" if arch == 90 else "mma.sync.aligned"
    for c, k, stride, has_z in [(16, 16, 1, True), (16, 32, 2, False), (32, 32, 1, True), (64, 64, 1, True)]:
        ptx = _ptx(arch, c, k, stride, has_z)
        assert mma in ptx and ".bf16" in ptx, (c, k)
        assert "cp.async.cg.shared.global" in ptx and "st.global.v4" in ptx, (c, k)
        assert "st.global.b16" not in ptx, (c, k)
    masked = _ptx(arch, 16, 16, 1, True, EVEN_C=False, EVEN_K=False)
    assert "cp.async" not in masked and "st.global.b16" in masked and "st.global.v4" not in masked
    # a kernel row's taps as one load and one product: the same 16-byte copies
    for c, k, stride in [(16, 16, 1), (16, 32, 2), (32, 32, 1)]:
        rows = _ptx(arch, c, k, stride, True, ROW_TAPS=True)
        assert mma in rows and "cp.async.cg.shared.global" in rows and "st.global.v4" in rows, (c, k)
        assert "st.global.b16" not in rows and ", 0x2," not in rows, (c, k)
    # one stage: nothing copied ahead (no cp.async), plain 16-byte loads through L1
    single = _ptx(arch, 16, 16, 1, True, stages=1)
    assert mma in single and "cp.async" not in single and "ld.global.v4" in single and "st.global.v4" in single
    # float32 activations (lstui's tf32 mode): TF32 products, the same 16-byte accesses
    for c, k in [(16, 16), (64, 64)]:
        ptx = _ptx(arch, c, k, 1, True, pointer="*fp32")
        assert mma in ptx and ".tf32" in ptx, (c, k)
        assert "cp.async.cg.shared.global" in ptx and "st.global.v4.b32" in ptx, (c, k)


def _fp16_layer(relu: bool) -> tuple[ConvBN, torch.Tensor]:
    model = conv_bn(3).eval()
    layer = ConvBN(model[0], model[1], relu=relu).half()
    layer.triton = "on"
    return layer, torch.randn(2, 1, 6, 6, generator=torch.Generator().manual_seed(3)).half()


def test_a_failing_kernel_falls_back_to_cudnn(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A kernel that raises (no compiler, too little shared memory): the layer's output
    from PyTorch's operations, said once, and the kernel not tried again."""
    calls = []

    def broken(*args: object, **kwargs: object) -> torch.Tensor:
        calls.append(1)
        raise RuntimeError("PassManager::run failed\nmore detail")

    monkeypatch.setattr(triton_conv, "usable", lambda x, conv, dtype: True)
    monkeypatch.setattr(triton_conv, "conv2d", broken)
    monkeypatch.setattr(fold, "_said", set())
    layer, x = _fp16_layer(relu=True)
    want = torch.relu(layer.conv._conv_forward(x, *layer.folded()))
    with caplog.at_level(logging.WARNING, logger="lstui.landscape.fold"), torch.no_grad():
        outs = [layer(x) for _ in range(3)]
    assert all(torch.equal(o, want) for o in outs)
    assert layer.triton_failed and len(calls) == 1
    assert caplog.text.count("Triton convolution failed, running cuDNN's: PassManager::run failed") == 1


def test_a_kernel_that_differs_is_not_used(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The first output of a shape is checked against PyTorch's: a wrong one is replaced
    by the right one, and the layer runs PyTorch's from then on."""
    monkeypatch.setattr(triton_conv, "usable", lambda x, conv, dtype: True)
    monkeypatch.setattr(fold, "_said", set())
    layer, x = _fp16_layer(relu=False)
    with torch.no_grad():
        want = layer.conv._conv_forward(x, *layer.folded())
        monkeypatch.setattr(triton_conv, "conv2d", lambda *a, **k: want + 0.5 * want.abs().max())
        with caplog.at_level(logging.WARNING, logger="lstui.landscape.fold"):
            got = layer(x)
    assert torch.equal(got, want) and layer.triton_failed
    assert "Triton convolution differs from cuDNN's" in caplog.text


def test_a_kernel_within_rounding_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outputs within 16-bit rounding of PyTorch's pass the check; the shape is checked once."""
    monkeypatch.setattr(triton_conv, "usable", lambda x, conv, dtype: True)
    layer, x = _fp16_layer(relu=False)
    calls = []
    with torch.no_grad():
        want = layer.conv._conv_forward(x, *layer.folded())
        near = want + want.abs().max() * 2.0**-9

        def kernel(*a: object, **k: object) -> torch.Tensor:
            calls.append(1)
            return near

        monkeypatch.setattr(triton_conv, "conv2d", kernel)
        first, second = layer(x), layer(x)
    assert first is near and second is near and not layer.triton_failed
    assert layer.triton_use == {((2, 1, 6, 6), torch.float16, False): True} and len(calls) == 2


@pytest.mark.parametrize(("triton_s", "torch_s", "chosen"), [(1e-3, 2e-3, True), (2e-3, 1e-3, False)])
def test_auto_keeps_the_faster_for_each_shape(
    monkeypatch: pytest.MonkeyPatch, triton_s: float, torch_s: float, chosen: bool
) -> None:
    """``auto``: after the check, both are timed (Triton first) and the faster runs that
    shape from then on; a new shape is decided anew."""
    monkeypatch.setattr(triton_conv, "usable", lambda x, conv, dtype: True)
    layer, x = _fp16_layer(relu=False)
    layer.triton = "auto"
    timed: list[float] = []

    def seconds(fn: object, device: torch.device) -> float:
        timed.append(len(timed))
        return triton_s if len(timed) % 2 else torch_s

    monkeypatch.setattr(fold, "_seconds", seconds)
    made: list[torch.Tensor] = []

    def kernel(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, *a: object, **k: object) -> torch.Tensor:
        made.append(layer.conv._conv_forward(x, weight, bias) * (1 + 2.0**-9))
        return made[-1]

    monkeypatch.setattr(triton_conv, "conv2d", kernel)
    with torch.no_grad():
        outs = [layer(x) for _ in range(3)] + [layer(torch.cat([x, x])) for _ in range(2)]
    assert all(any(o is m for m in made) == chosen for o in outs)
    assert len(timed) == 4, "each shape timed once"
    assert layer.triton_use == {((2, 1, 6, 6), torch.float16, False): chosen,
                                ((4, 1, 6, 6), torch.float16, False): chosen}
    assert not layer.triton_failed


def test_the_timer_times_the_work() -> None:
    assert fold._seconds(lambda: time.sleep(0.02), torch.device("cpu")) >= 0.02
    assert fold._seconds(lambda: None, torch.device("cpu")) < 0.02


@needs_triton
def test_rows_of_taps_are_tuned_only_where_they_apply() -> None:
    every = [triton_conv.triton.Config({"BLOCK_M": bm, "ROW_TAPS": row}) for bm, _, _, row in triton_conv.CONFIGS]
    plain = triton_conv._prune(every, {}, ROW_OK=False)
    assert plain and not any(c.kwargs["ROW_TAPS"] for c in plain)
    assert triton_conv._prune(every, {}, ROW_OK=True) == every
    assert triton_conv.constexprs(16, 16, (3, 3), (1, 1), (1, 1), True, True)["ROW_OK"]
    assert triton_conv.constexprs(32, 64, (3, 3), (2, 2), (1, 1), False, True)["K_TILE"] == 128
    assert not triton_conv.constexprs(64, 64, (3, 3), (1, 1), (1, 1), True, True)["ROW_OK"], "192 > 128"
    assert not triton_conv.constexprs(3, 16, (3, 3), (1, 1), (1, 1), False, True)["ROW_OK"], "3 channels"
    assert not triton_conv.constexprs(16, 16, (3, 3), (1, 1), (1, 1), True, True, channels_last=False)["ROW_OK"]


@needs_triton
def test_taps_of_another_weight_are_refused() -> None:
    x = torch.zeros(1, 4, 5, 5).half()
    weight = torch.zeros(8, 4, 3, 3).half()
    bias = torch.zeros(8).half()
    with pytest.raises(ValueError, match="not those of a weight"):
        triton_conv.conv2d(x, weight, bias, (1, 1), (1, 1), w_taps=triton_conv.taps(weight[:, :2]))
    with pytest.raises(ValueError, match="not those of a weight"):
        triton_conv.conv2d(x, weight, bias, (1, 1), (1, 1), w_taps=triton_conv.taps(weight).float())


def test_the_kernel_is_for_16_bit_or_tf32_cuda_inputs_only(monkeypatch: pytest.MonkeyPatch) -> None:
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    x = torch.zeros(1, 3, 4, 4)
    if not triton_conv.interpreting():
        assert not triton_conv.usable(x, conv, torch.float16), "not on the CPU"
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    assert not triton_conv.tf32_allowed()
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", True)
    assert triton_conv.tf32_allowed()
    if torch.cuda.is_available() and triton_conv.available():
        xc = x.cuda()
        assert triton_conv.usable(xc, conv, torch.bfloat16)
        assert triton_conv.usable(xc, conv, torch.float32), "TF32 allowed"
        assert not triton_conv.usable(xc, conv, torch.float64)
        monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
        assert not triton_conv.usable(xc, conv, torch.float32), "strict float32"
        assert not triton_conv.usable(xc, torch.nn.Conv2d(4, 8, 3, groups=2), torch.float16)
        assert not triton_conv.usable(xc, torch.nn.Conv2d(3, 8, 3, dilation=2), torch.float16)
        assert not triton_conv.usable(xc, torch.nn.Conv2d(3, 8, 3, padding="same"), torch.float16)


def test_the_evaluator_passes_triton_to_its_folded_layers() -> None:
    """On the CPU the Evaluator takes the option; no layer runs the kernel there."""
    model = build_model("resnet20", input_shape=(3, 8, 8), num_classes=10).eval()
    g = torch.Generator().manual_seed(0)
    dirs = [create_random_direction(model, g)]
    data = EvalData(torch.randn(12, 3, 8, 8, generator=g), torch.randint(0, 10, (12,), generator=g))
    ev = Evaluator(model, dirs, train=data, batch_size=6, triton_conv="auto", compile="off")
    assert all(m.triton == "auto" for m in ev._forward_model.modules() if isinstance(m, ConvBN))
    ev.evaluate(0.1)
    if not triton_conv.interpreting():
        assert ev.triton_layers == 0
    off = Evaluator(copy.deepcopy(model), dirs, train=data, batch_size=6, fold_bn=False, triton_conv="on")
    assert off.triton_conv == "off", "nothing folded, nothing on the kernel"
    with pytest.raises(BadInput, match="triton_conv 'yes' is not known"):
        Evaluator(copy.deepcopy(model), dirs, train=data, triton_conv="yes")


@pytest.mark.gpu
@cuda
@needs_triton
@pytest.mark.parametrize("precision, graphs", [("bf16", False), ("bf16", True), ("tf32", True), ("fp32", True)])
def test_the_triton_evaluator_agrees_with_cudnn_on_a_card(precision: str, graphs: bool) -> None:
    """ResNet-20 on the kernel against cuDNN's fused calls, at two points, eager and
    replayed from CUDA graphs; every folded convolution on the kernel in bf16 and tf32,
    none in strict fp32."""
    model = build_model("resnet20", input_shape=(3, 32, 32), num_classes=10).eval()
    g = torch.Generator().manual_seed(6)
    dirs = [create_random_direction(model, g) for _ in range(2)]
    raw = torch.randint(0, 256, (300, 3, 32, 32), dtype=torch.uint8, generator=g)
    data = EvalData(raw, torch.randint(0, 10, (300,), generator=g), 1 / 255, (0.5,) * 3, (0.25,) * 3)
    kw = dict(train=data, device="cuda", batch_size=128, precision=precision, cuda_graphs=graphs)
    cudnn = Evaluator(copy.deepcopy(model), dirs, **kw)  # type: ignore[arg-type]
    tri = Evaluator(copy.deepcopy(model), dirs, triton_conv="on", **kw)  # type: ignore[arg-type]
    auto = Evaluator(copy.deepcopy(model), dirs, triton_conv="auto", **kw)  # type: ignore[arg-type]
    for x, y in [(0.0, 0.0), (0.3, -0.2), (0.0, 0.0)]:
        got, want, chosen = tri.evaluate(x, y), cudnn.evaluate(x, y), auto.evaluate(x, y)
        assert got.train_loss == pytest.approx(want.train_loss, rel=TOLERANCE[precision])
        assert chosen.train_loss == pytest.approx(want.train_loss, rel=TOLERANCE[precision])
    assert tri.folded_bn == 21
    assert tri.triton_layers == (0 if precision == "fp32" else 21)
    print("auto: layers on Triton", auto.triton_layers, "of", auto.folded_bn)
    assert tri.cuda_graphs == graphs


@pytest.mark.gpu
@cuda
@needs_triton
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])  # bf16 and tf32's (fp16 through the interpreter)
def test_the_kernel_on_a_card(dtype: torch.dtype) -> None:
    """ResNet-56's layer shapes at a large batch, against cuDNN on float32 copies (both
    with TF32 products, PyTorch's default for cuDNN, as the kernel's float32 ones are)."""
    g = torch.Generator(device="cuda").manual_seed(0)
    for c, k, hw, stride in [(3, 16, 32, 1), (16, 16, 32, 1), (16, 32, 32, 2), (32, 64, 16, 2), (64, 64, 8, 1)]:
        x = torch.randn(512, c, hw, hw, device="cuda", generator=g).to(dtype, memory_format=torch.channels_last)
        weight = (torch.randn(k, c, 3, 3, device="cuda", generator=g) / (9 * c) ** 0.5).to(dtype)
        bias = torch.randn(k, device="cuda", generator=g).to(dtype)
        want = torch.nn.functional.conv2d(x.float(), weight.float(), bias.float(), stride=stride, padding=1)
        z = torch.randn(want.shape, device="cuda", generator=g).to(dtype)
        got = triton_conv.conv2d(x, weight, bias, (stride, stride), (1, 1), z=z, relu=True)
        want = (want + z.float()).relu()
        assert float((got.float() - want).abs().max()) <= 2.0**-6 * float(want.abs().max())
        if c in (16, 32):  # a kernel row's taps as one product, whatever the autotuner chose
            for stages in (3, 1):
                config = {"BLOCK_M": 128, "ROW_TAPS": True, "num_warps": 4, "num_stages": stages}
                got = triton_conv.conv2d(x, weight, bias, (stride, stride), (1, 1), z=z, relu=True, config=config)
                assert float((got.float() - want).abs().max()) <= 2.0**-6 * float(want.abs().max()), (c, k, stages)


@pytest.mark.gpu
@cuda
@needs_triton
@pytest.mark.skipif(not triton_conv.available() or not triton_conv._autotune_options(),
                    reason="this Triton keeps no autotuning results")
def test_a_later_process_reuses_the_tuned_configurations(tmp_path: object) -> None:
    """The first process on a card times the kernel's configurations for a layer shape;
    a second one (a later worker) finds the choice on disk and times none."""
    script = """
        import torch
        from lstui.landscape import triton_conv

        timed = []
        bench = triton_conv._conv_kernel._bench
        triton_conv._conv_kernel._bench = lambda *a, **k: timed.append(1) or bench(*a, **k)
        x = torch.randn(256, 16, 32, 32, device="cuda").to(torch.bfloat16, memory_format=torch.channels_last)
        weight = torch.randn(16, 16, 3, 3, device="cuda").to(torch.bfloat16)
        triton_conv.conv2d(x, weight, torch.zeros(16, device="cuda").to(torch.bfloat16), (1, 1), (1, 1), relu=True)
        torch.cuda.synchronize()
        print("timed", len(timed))
    """
    env = {**os.environ, "TRITON_CACHE_DIR": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=env, capture_output=True,
                           text=True, timeout=240) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr[-3000:]
    tried = str(len(triton_conv.CONFIGS))
    assert runs[0].stdout.split() == ["timed", tried] and runs[1].stdout.split() == ["timed", "0"], [r.stdout for r in runs]
