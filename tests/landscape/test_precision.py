"""The Evaluator's speed features give the values of the strict fp32 path (within the
stated error): precision modes, compilation, where the data live, out-of-memory backoff."""

import copy

import pytest
import torch
from torch import nn

from lstui.landscape import evaluator as evaluator_module
from lstui.landscape.directions import create_random_direction
from lstui.landscape.evaluator import (
    COMPILE_MIN_EAGER_S,
    COMPILE_MIN_POINTS,
    CUDA_START_BATCH,
    TOLERANCE,
    EvalData,
    Evaluator,
    compile_available,
    compile_pays,
)
from tests.landscape.nets import conv_bn

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
POINTS = [(0.0, 0.0), (0.4, -0.3), (-0.8, 0.6)]


def _trained_conv_bn(seed=0):
    model = conv_bn(seed)
    model.train()
    with torch.no_grad():
        model(torch.randn(64, 1, 8, 8, generator=torch.Generator().manual_seed(seed)))
    return model.eval()


def _pixels(n=37, seed=0):
    g = torch.Generator().manual_seed(seed)
    raw = torch.randint(0, 256, (n, 1, 8, 8), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 3, (n,), generator=g)
    return raw, y


def _setup(seed=0):
    model = _trained_conv_bn(seed)
    g = torch.Generator().manual_seed(seed + 1)
    dirs = [create_random_direction(model, g), create_random_direction(model, g)]
    raw, y = _pixels(seed=seed)
    return model, dirs, EvalData(raw, y, scale=1 / 255, mean=(0.45,), std=(0.27,))


def _values(ev, points=POINTS):
    return [ev.evaluate(a, b) for a, b in points]


def _losses(results):
    return [(r.train_loss, r.test_loss) for r in results]


@pytest.mark.parametrize("precision", ["tf32", "bf16"])
def test_every_precision_agrees_with_strict_fp32_within_its_tolerance(precision):
    model, dirs, data = _setup()
    test = EvalData(data.inputs[:20], data.targets[:20], data.scale, data.mean, data.std)
    strict = Evaluator(copy.deepcopy(model), dirs, train=data, test=test, batch_size=16)
    other = Evaluator(copy.deepcopy(model), dirs, train=data, test=test, batch_size=16, precision=precision)
    for want, got in zip(_values(strict), _values(other)):
        assert got.train_loss == pytest.approx(want.train_loss, rel=TOLERANCE[precision])
        assert got.test_loss == pytest.approx(want.test_loss, rel=TOLERANCE[precision])
        # accuracy moves only where two logits are within the rounding error: a sample or two
        assert abs(got.train_acc - want.train_acc) <= 2 * 100 / 37


def test_bf16_really_runs_in_bfloat16():
    model, dirs, data = _setup()
    strict = Evaluator(copy.deepcopy(model), dirs, train=data, batch_size=16)
    bf16 = Evaluator(copy.deepcopy(model), dirs, train=data, batch_size=16, precision="bf16")
    a, b = strict.evaluate(0.3, 0.2).train_loss, bf16.evaluate(0.3, 0.2).train_loss
    assert a != b  # autocast took effect; the size of the difference is checked above


@pytest.mark.parametrize("storage", ["raw", "stream"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_raw_and_streamed_inputs_give_exactly_the_float_copys_values(storage, channels_last):
    model, dirs, data = _setup()
    float_ev = Evaluator(copy.deepcopy(model), dirs, train=data, batch_size=10, storage="float",
                         channels_last=channels_last)
    other = Evaluator(copy.deepcopy(model), dirs, train=data, batch_size=10, storage=storage,
                      channels_last=channels_last)
    assert float_ev.storage == {"train": "float"}
    assert other.storage == {"train": storage}
    assert _values(other) == _values(float_ev)


def test_raw_storage_keeps_the_bytes_and_never_writes_into_the_callers_tensors():
    model, dirs, data = _setup()
    floats = (data.inputs.float() * data.scale - 0.45) / 0.27
    before_raw, before_float = data.inputs.clone(), floats.clone()
    raw_ev = Evaluator(copy.deepcopy(model), dirs, train=data, storage="raw")
    assert raw_ev._splits["train"].inputs.dtype == torch.uint8
    raw_ev.evaluate(0.1, 0.1)
    scaled = EvalData(floats * 2, data.targets, scale=0.5)
    twice = scaled.inputs.clone()
    for storage in ("float", "raw", "stream"):
        Evaluator(copy.deepcopy(model), dirs, train=scaled, storage=storage).evaluate(0.1, 0.1)
    assert torch.equal(data.inputs, before_raw)
    assert torch.equal(floats, before_float)
    assert torch.equal(scaled.inputs, twice)


def test_auto_storage_is_float_when_small_and_raw_when_host_memory_is_short(monkeypatch):
    model, dirs, data = _setup()
    assert Evaluator(copy.deepcopy(model), dirs, train=data).storage == {"train": "float"}
    monkeypatch.setattr(evaluator_module, "_host_memory_available", lambda: 1000.0)
    ev = Evaluator(copy.deepcopy(model), dirs, train=data)
    assert ev.storage == {"train": "raw"}
    want = Evaluator(copy.deepcopy(model), dirs, train=data, storage="float")
    assert _values(ev) == _values(want)


class _SmallMemory(nn.Module):
    """Raises CUDA's out-of-memory error for batches larger than ``limit``.

    Its Evaluators get ``fold_bn=False``: folding traces the model with ``torch.fx``, which
    would record a proxy here and, where the trace succeeds, inline this Python away.
    """

    def __init__(self, inner: nn.Module, limit: int):
        super().__init__()
        self.inner = inner
        self.limit = limit
        self.sizes: list[int] = []

    def forward(self, x):
        self.sizes.append(x.shape[0])
        if x.shape[0] > self.limit:
            raise torch.OutOfMemoryError(f"batch {x.shape[0]} > {self.limit}")
        return self.inner(x)


@pytest.mark.parametrize("batch_size", [None, 64])
def test_out_of_memory_halves_the_batch_until_it_fits_and_keeps_it(batch_size):
    model, dirs, data = _setup()
    want = _values(Evaluator(copy.deepcopy(model), dirs, train=data, batch_size=7))
    wrapped = _SmallMemory(copy.deepcopy(model), limit=10)
    g = torch.Generator().manual_seed(1)
    wdirs = [create_random_direction(wrapped, g), create_random_direction(wrapped, g)]
    assert all(torch.equal(a, b) for a, b in zip(wdirs[0], dirs[0]))
    ev = Evaluator(wrapped, wdirs, train=data, batch_size=batch_size, fold_bn=False)
    got = _values(ev)
    assert ev.batch_size <= 10
    assert wrapped.sizes[-1] <= 10
    for w, r in zip(want, got):
        assert r.train_loss == pytest.approx(w.train_loss, rel=1e-5)
        assert r.train_acc == w.train_acc
    # the first point searched; later points run at the size that worked, with no failures
    calls_per_point = -(-37 // ev.batch_size)
    assert wrapped.sizes[-2 * calls_per_point :] == wrapped.sizes[-calls_per_point:] * 2


def test_a_split_runs_in_batches_of_nearly_equal_size():
    model, dirs, data = _setup()
    recorder = _SmallMemory(copy.deepcopy(model), limit=10**9)
    g = torch.Generator().manual_seed(1)
    ev = Evaluator(recorder, [create_random_direction(recorder, g)], train=data, batch_size=16, fold_bn=False)
    ev.evaluate(0.1)
    assert recorder.sizes == [13, 13, 11]  # 37 samples at most 16 a batch: not 16, 16, 5


def test_out_of_memory_at_one_sample_is_raised():
    model, dirs, data = _setup()
    wrapped = _SmallMemory(copy.deepcopy(model), limit=0)
    g = torch.Generator().manual_seed(1)
    ev = Evaluator(wrapped, [create_random_direction(wrapped, g)], train=data, batch_size=4, fold_bn=False)
    with pytest.raises(torch.OutOfMemoryError):
        ev.evaluate(0.5)
    assert ev.batch_size == 1


def test_compile_pays_only_for_long_jobs():
    assert not compile_pays(None, 100.0)
    assert not compile_pays(COMPILE_MIN_POINTS - 1, 100.0)
    assert not compile_pays(COMPILE_MIN_POINTS, 0.5 * COMPILE_MIN_EAGER_S / COMPILE_MIN_POINTS)
    assert compile_pays(COMPILE_MIN_POINTS, COMPILE_MIN_EAGER_S / COMPILE_MIN_POINTS)


def test_compile_auto_stays_off_on_the_cpu():
    model, dirs, data = _setup()
    ev = Evaluator(model, dirs, train=data, compile="auto", expected_points=100_000)
    _values(ev)
    assert not ev.compiled


needs_compile = pytest.mark.skipif(not compile_available("cpu"), reason="torch.compile unavailable here")


@needs_compile
def test_padding_the_last_batch_compiles_one_graph_per_split(monkeypatch):
    from torch._dynamo.testing import CompileCounter

    torch._dynamo.reset()
    counter = CompileCounter()
    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda model, **kw: real_compile(model, backend=counter, **kw))
    model, dirs, data = _setup()
    test = EvalData(data.inputs[:13], data.targets[:13], data.scale, data.mean, data.std)
    # balanced batches: train 37 = 5 batches of 8 (the last padded from 5), test 13 = 2 of 7
    ev = Evaluator(copy.deepcopy(model), dirs, train=data, test=test, batch_size=8, compile="on")
    eager = Evaluator(copy.deepcopy(model), dirs, train=data, test=test, batch_size=8, compile="off")
    for want, got in zip(_values(eager), _values(ev)):
        assert got.train_loss == pytest.approx(want.train_loss, rel=1e-6)
        assert got.test_loss == pytest.approx(want.test_loss, rel=1e-6)
        assert (got.train_acc, got.test_acc) == (want.train_acc, want.test_acc)
    assert counter.frame_count == 2  # one graph per split, however many points and tails
    torch._dynamo.reset()


@needs_compile
@pytest.mark.parametrize("mode", ["default", "reduce-overhead"])
def test_the_compiled_model_agrees_with_eager_and_sees_in_place_updates(mode):
    torch._dynamo.reset()
    model, dirs, data = _setup(seed=3)
    model.train()
    with torch.no_grad():
        model(torch.randn(16, 1, 8, 8))
    model.eval()
    states = [create_random_direction(model, torch.Generator().manual_seed(5), dir_type="states", ignore="none")]
    kw = dict(dir_type="states", train=data, batch_size=16)
    eager = Evaluator(copy.deepcopy(model), states, compile="off", **kw)
    compiled = Evaluator(copy.deepcopy(model), states, compile="on", compile_mode=mode, **kw)
    assert compiled.compiled
    assert compiled.folded_bn == 2
    points = [(0.0, 0.0), (0.5, 0.0), (-0.25, 0.0)]
    want, got = _values(eager, points), _values(compiled, points)
    assert len({r.train_loss for r in got}) == 3  # the weights (and BN statistics) moved
    for w, g in zip(want, got):
        assert g.train_loss == pytest.approx(w.train_loss, rel=1e-5)
        assert g.train_acc == w.train_acc
    torch._dynamo.reset()


@pytest.mark.parametrize("tf32", [False, True])
def test_tf32_switches_hold_while_evaluating_and_are_put_back(tf32):
    from lstui.landscape.evaluator import _GlobalFlags

    backends = torch.backends
    before = (backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32, backends.cudnn.benchmark)
    with _GlobalFlags.use(tf32):
        with _GlobalFlags.use(tf32):  # a second Evaluator (thread) on another device
            pass
        assert (backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32) == (tf32, tf32)
        assert backends.cudnn.benchmark
    assert (backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32, backends.cudnn.benchmark) == before


# -- CUDA ----------------------------------------------------------------------------------
@pytest.mark.gpu
@cuda
def test_cuda_fp32_is_strict_and_leaves_the_tf32_switches_as_they_were():
    model, dirs, data = _setup()
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        cpu = _values(Evaluator(copy.deepcopy(model), dirs, train=data, batch_size=16))
        gpu = _values(Evaluator(copy.deepcopy(model), dirs, train=data, batch_size=16, device="cuda"))
        for c, g in zip(cpu, gpu):
            assert g.train_loss == pytest.approx(c.train_loss, rel=1e-5)
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("precision", ["tf32", "bf16"])
def test_cuda_precisions_agree_with_fp32_within_their_tolerance(precision):
    model, dirs, data = _setup()
    strict = _values(Evaluator(copy.deepcopy(model), dirs, train=data, device="cuda"))
    other = _values(Evaluator(copy.deepcopy(model), dirs, train=data, device="cuda", precision=precision))
    for s, o in zip(strict, other):
        assert o.train_loss == pytest.approx(s.train_loss, rel=TOLERANCE[precision])


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("storage", ["raw", "stream"])
def test_cuda_raw_and_streamed_inputs_agree_with_the_float_copy(storage):
    model, dirs, data = _setup()
    want = _values(Evaluator(copy.deepcopy(model), dirs, train=data, batch_size=10, device="cuda", storage="float"))
    ev = Evaluator(copy.deepcopy(model), dirs, train=data, batch_size=10, device="cuda", storage=storage)
    assert ev.storage == {"train": storage}
    if storage == "stream":
        assert ev._splits["train"].inputs.is_pinned()
    for w, g in zip(want, _values(ev)):
        assert g.train_loss == pytest.approx(w.train_loss, rel=1e-6)


@pytest.mark.gpu
@cuda
def test_cuda_auto_storage_follows_free_memory(monkeypatch):
    model, dirs, data = _setup()
    assert Evaluator(copy.deepcopy(model), dirs, train=data, device="cuda").storage == {"train": "float"}
    nbytes = data.inputs.numel()
    # float (4 bytes a pixel) is over 25 %, the bytes are under 50 % of "free" memory
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (3 * nbytes, 10 * nbytes))
    assert Evaluator(copy.deepcopy(model), dirs, train=data, device="cuda").storage == {"train": "raw"}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (nbytes, 10 * nbytes))
    assert Evaluator(copy.deepcopy(model), dirs, train=data, device="cuda").storage == {"train": "stream"}


@pytest.mark.gpu
@cuda
def test_cuda_default_batch_starts_large_and_backs_off():
    model, dirs, data = _setup()
    big = EvalData(data.inputs.repeat(300, 1, 1, 1), data.targets.repeat(300), data.scale, data.mean, data.std)
    wrapped = _SmallMemory(copy.deepcopy(model), limit=1000)
    g = torch.Generator().manual_seed(1)
    ev = Evaluator(wrapped, [create_random_direction(wrapped, g)], train=big, device="cuda", fold_bn=False)
    assert ev.batch_size == CUDA_START_BATCH
    assert ev.channels_last
    ev.evaluate(0.2)
    assert ev.batch_size <= 1000


@pytest.mark.gpu
@cuda
@pytest.mark.skipif(not compile_available("cuda"), reason="torch.compile unavailable for CUDA here")
@pytest.mark.parametrize("mode", ["default", "reduce-overhead"])
def test_cuda_compiled_model_agrees_with_eager(mode):
    """Also with CUDA graphs: the weights written in place between replays are read."""
    torch._dynamo.reset()
    model, dirs, data = _setup()
    want = _values(Evaluator(copy.deepcopy(model), dirs, train=data, device="cuda", batch_size=16))
    ev = Evaluator(copy.deepcopy(model), dirs, train=data, device="cuda", batch_size=16, compile="on",
                   compile_mode=mode)
    got = _values(ev)
    assert len({r.train_loss for r in got}) == 3
    for w, g in zip(want, got):
        assert g.train_loss == pytest.approx(w.train_loss, rel=1e-5)
    torch._dynamo.reset()
