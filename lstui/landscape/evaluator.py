"""The Evaluator: loss and accuracy of θ* + x·dx + y·dy on data kept on the device.

One Evaluator per worker and job. It moves the model and the data to the device once;
each point overwrites the model's tensors in place from the saved centre θ* and the
directions (foreach operations), then runs the split(s) through the model in batches.

Speed, and what each feature costs in accuracy:

- **Data on the device.** Each split is kept where it is cheapest to read (``storage``):
  a normalised float32 copy on the device when that is small; the raw inputs (uint8
  pixels, a quarter of the size) on the device, converted and normalised batch by batch,
  when the float copy would be large; or the inputs in pinned host memory, copied batch
  by batch with non-blocking copies on a side stream (the next batch is in flight while
  the current one runs), when not even the raw inputs fit. All three give bit-identical
  inputs: the same elementwise operations run in the same order.
- **Largest batch that fits.** ``batch_size=None`` on CUDA starts at
  ``CUDA_START_BATCH`` samples (or the split size, whichever is smaller). Whenever the
  device runs out of memory, with a given or a chosen batch, the Evaluator halves the
  batch, empties the CUDA cache and evaluates the point again; the size that worked is
  kept (``batch_size``) for the points that follow. On the CPU bigger is not better
  (BatchNorm and ReLU are memory-bound and fall out of cache): the batch is sized to the
  model's largest activation, ``CPU_ACTIVATION_BYTES``.
- **Precision** (errors against strict fp32, measured in ``benchmarks/README.md``):

  ======== ====================================== ==========================================
  mode     what runs                              error of the mean loss against ``fp32``
  ======== ====================================== ==========================================
  ``fp32`` float32; on CUDA TF32 off for matmuls  the reference (equal to a plain forward
           and cuDNN convolutions                 pass within float32 rounding, 1e-6)
  ``tf32`` float32 storage, TF32 tensor cores     CUDA only (on the CPU it is fp32). TF32
           for matmuls and convolutions (CUDA)    keeps 11 significant bits: expected
                                                  around 1e-3, held to ``TOLERANCE["tf32"]``
                                                  (1e-2)
  ``bf16`` ``torch.autocast`` to bfloat16;        8 significant bits: measured up to
           outputs cast to float32, losses        1.1e-2 relative on small trained nets
           computed and summed in float64         (CPU; 7.5e-3 on surfaces, 1.1e-2 on an
                                                  interpolation), held to
                                                  ``TOLERANCE["bf16"]`` (5e-2)
  ======== ====================================== ==========================================

  Accuracy can change by a sample or two where an output's top two logits are closer
  than the rounding error.
- **Compilation** (``compile``): ``torch.compile`` of the model, once per Evaluator, with
  static shapes (``dynamic=False``) and inductor's default mode. A split runs in
  batches of equal size (``ceil(n / batch)`` batches of ``ceil(n / count)`` samples) and
  the last, at most a few rows short, is padded with zeros (samples are independent in
  eval mode; the padded rows' outputs are dropped), so each split compiles one graph
  instead of one per tail size; a batch halved after out-of-memory compiles once more. Weights
  stay graph inputs (inductor's "freezing" is off), so the in-place updates of each
  point reach the compiled model. Inductor's mode is ``compile_mode``: ``default``
  (what ``--compile`` uses), ``max-autotune-no-cudagraphs``, or ``reduce-overhead``
  (CUDA graphs: each batch is a new step, its output reduced before the next replay).
  The last two are for benchmarks until a GPU run shows they pay. ``auto`` compiles
  only on CUDA when the job is long: at least ``COMPILE_MIN_POINTS`` expected points and,
  timed on the first two eager points, at least ``COMPILE_MIN_EAGER_S`` seconds of work,
  so the compile time (tens of seconds to minutes) is a small share of the job; and not
  a model whose convolutions run fused with their ReLUs (below), which is faster eager
  (ResNet-56, 50,000 images, H200, bf16: fused eager 0.149 s a point, compiled 0.199,
  compiled with CUDA graphs 0.197). A
  compile that fails under ``auto`` is logged and the Evaluator goes on without it.
  BatchNorm recomputation (``bn="recompute"``) always runs the eager model.
- **BatchNorm folded** into the convolution before it (``fold_bn``, on by default): one
  pass over each BatchNorm's activations fewer; the folded weights are computed from the
  live tensors once per point, after the point is set (:mod:`lstui.landscape.fold`; the
  compiled model folds them inside its graph at every batch). Outputs agree with the
  unfolded model to float32 rounding (1e-7 on the losses measured); a model whose folded
  trace gives other outputs on a few samples is evaluated as it is. ReLUs whose input
  nothing else reads run in place, and a residual block's sum is written into the fresh
  convolution output when that gives the same tensor. CPU, 2 cores: about a fifth less
  time per point (ResNet-56, the small CNN).
- **Convolution, sum and ReLU fused** (``fuse_relu``; by default for the eager model):
  each folded convolution followed by a ReLU, or by a residual sum and a ReLU, is one
  cuDNN call on CUDA (``torch.cudnn_convolution_relu`` / ``_add_relu``), bias included
  (PyTorch's plain cuDNN convolution adds its bias in a pass of its own). ResNet-56,
  50,000 images, H200: tf32 0.357 → 0.2005 s a point, bf16 0.251 → 0.149. On the CPU,
  in float32, it is one oneDNN convolution with the sum and the ReLU as post-ops: a few
  per cent (ResNet-56, 2 cores: 4 % in the median of ten points, one process timing
  both). The compiled model fuses these itself and is compiled from the unfused fold.
- **CUDA graphs** (``cuda_graphs``; by default on CUDA for the eager model): the forward
  pass of each batch shape is captured once and replayed, so the host launches one graph
  a batch instead of a few kernels a layer. 1 % at the default batch (bf16 0.1523 →
  0.1505 s a point); at batch 512 0.426 → 0.201, where the launches were the limit.
- **lstui's Triton convolution** (``triton_conv``; off until measured on a card): under
  ``bf16`` and ``tf32`` (TF32 products, as cuDNN's; never under strict ``fp32``) each
  folded convolution, with its bias, sum and ReLU, runs a Triton kernel written for
  few-channel layers (:mod:`lstui.landscape.triton_conv`) instead of cuDNN (``on``), or
  whichever of the two was faster for that layer and batch shape, timed at its first
  batch (``auto``). Each layer checks its first output of each shape against cuDNN's and
  keeps cuDNN if the two differ beyond 16-bit rounding or the kernel fails to build.
- **Channels-last** memory layout for convolutional nets (cuDNN's and oneDNN's fast
  layout; 10-15 % less CPU time per point on the CPU benchmark).

Global switches (TF32, cuDNN autotuning) are set for the duration of each
:meth:`Evaluator.evaluate` call and put back afterwards; concurrent Evaluators in one
process should use the same precision.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lstui.errors import BadInput, LstuiError, described
from lstui.landscape.directions import check_direction_fits, model_tensors
from lstui.landscape.fold import (
    ConvBN,
    fold_batchnorm,
    freeze,
    fused_nonfinite,
    is_out_of_memory,
    onednn_available,
    thaw,
)
from lstui.landscape.options import (
    BN_MODES,
    COMPILE_MODES,
    LOSSES,
    PRECISIONS,
    TRITON_MODES,
    check_choice,
)

log = logging.getLogger(__name__)

STORAGES = ("auto", "float", "raw", "stream")
"""Where a split's inputs live: ``auto`` decides by size (see :class:`Evaluator`)."""

INDUCTOR_MODES = ("default", "max-autotune-no-cudagraphs", "reduce-overhead")
"""``torch.compile`` modes an Evaluator can compile with (``compile_mode``)."""

CUDA_START_BATCH = 8192
"""First batch tried on CUDA when no batch size is given; halved on out-of-memory."""

CPU_ACTIVATION_BYTES = 8 * 2**20
"""On the CPU, with no batch size given, the batch is the largest power of two (from
``CPU_MIN_BATCH`` to ``CPU_MAX_BATCH``) whose largest activation stays within this, so
the memory-bound passes (BatchNorm, ReLU) run in cache. Measured on a 2-core Xeon, small
CNN, CIFAR-sized images: batches of 64 to 256 (4 to 16 MiB) take 0.08 to 0.10 s a point,
512 (32 MiB) two to three times as long."""

CPU_MIN_BATCH = 16
CPU_MAX_BATCH = 1024

BN_RECOMPUTE_BATCH = 1024
"""Batch of ``bn="recompute"``'s pass over the training split when no batch size is
given: the statistics are averages over batches, so their size must be the job's, not
the device's (a CPU's 719 and a GPU's 1437 moved a digits surface's loss by 9e-4), nor
change when an out-of-memory halves the evaluation batch."""

FLOAT_BUDGET = 0.25
"""Largest share of free device memory a split's normalised float copy may take."""

RAW_BUDGET = 0.5
"""Largest share of free device memory a split's raw inputs may take (else: stream)."""

COMPILE_MIN_POINTS = 200
"""``compile="auto"`` compiles only for jobs of at least this many points ..."""

COMPILE_MIN_EAGER_S = 300.0
"""... whose eager run time, estimated from the first points, is at least this long."""

FOLD_CHECK_SAMPLES = 8
"""Samples on which a model with BatchNorm folded must give the model's own outputs."""

TOLERANCE = {"fp32": 1e-6, "tf32": 1e-2, "bf16": 5e-2}
"""Documented relative error of the mean loss of each precision against strict fp32."""

_TIMED_POINTS = 2

OutOfMemoryError: type[BaseException] = getattr(
    torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError
)


def _moved_once(tensors: list[torch.Tensor]) -> list[int]:
    """The positions of ``tensors`` a point moves: the floating ones, each storage once. A
    weight tied under two names (an embedding and its output layer) is in a state dict
    twice: moved by both entries, a ``states`` interpolation ended at A + 2(B − A), not at
    B. It moves by its first entry's direction, as ``weights`` directions (its parameter
    once) move it."""
    seen: set[tuple[object, ...]] = set()
    moving = []
    for n, t in enumerate(tensors):
        if not t.is_floating_point():
            continue
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.stride())
        if key not in seen:
            seen.add(key)
            moving.append(n)
    return moving


@dataclass(frozen=True)
class PointResult:
    """Loss (mean over samples) and accuracy (percent) at one point; None where not evaluated."""

    train_loss: float | None = None
    train_acc: float | None = None
    test_loss: float | None = None
    test_acc: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return {
            "train_loss": self.train_loss,
            "train_acc": self.train_acc,
            "test_loss": self.test_loss,
            "test_acc": self.test_acc,
        }

    @property
    def finite(self) -> bool:
        return all(v is None or math.isfinite(v) for v in self.as_dict().values())


@dataclass(frozen=True)
class EvalData:
    """Inputs and integer targets of one split, plus how to normalise the inputs.

    ``inputs`` may be uint8 (pixel bytes) or float; on the device they become
    ``(inputs * scale - mean) / std`` per channel.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    scale: float = 1.0
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None


@dataclass
class _Split:
    """One split as the Evaluator holds it."""

    inputs: torch.Tensor  # normalised float32 (float), raw on the device (raw), host (stream)
    targets: torch.Tensor  # int64, always on the device
    storage: str
    scale: float
    mean: torch.Tensor | None  # (1, C, 1, …) on the device
    std: torch.Tensor | None

    @property
    def size(self) -> int:
        return int(self.targets.shape[0])


def compile_available(device: torch.device | str = "cpu") -> bool:
    """Whether ``torch.compile`` can compile for ``device`` in this process.

    It needs a Python version that TorchDynamo supports and, on CUDA, Triton.
    """
    if not hasattr(torch, "compile"):
        return False
    try:
        from torch._dynamo import is_dynamo_supported

        if not is_dynamo_supported():
            return False
        if torch.device(device).type == "cuda":
            from torch.utils._triton import has_triton

            return bool(has_triton())
    except Exception:  # a torch without these helpers: let compilation try
        return True
    return True


def compile_pays(expected_points: int | None, seconds_per_point: float) -> bool:
    """Whether a job of ``expected_points`` eager points of ``seconds_per_point`` each is
    long enough for ``compile="auto"`` to compile (see ``COMPILE_MIN_*``)."""
    if expected_points is None or expected_points < COMPILE_MIN_POINTS:
        return False
    return expected_points * seconds_per_point >= COMPILE_MIN_EAGER_S


def _host_memory_available() -> float:
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return math.inf


def _cudnn() -> Any:
    """``torch.backends.cudnn`` (typed loosely: its newer attributes are not in the stubs)."""
    return torch.backends.cudnn


class _GlobalFlags:
    """TF32 and cuDNN-autotune switches, set while any Evaluator evaluates on CUDA.

    The flags are process-wide: the first Evaluator to enter saves them, the last to
    leave puts them back. Evaluators in several threads (one per device) share them:
    one that asks for the setting in force goes on at once, one that asks for the other
    waits until no other thread evaluates (a strict ``fp32`` evaluation never runs with
    TF32 on because a ``tf32`` one started beside it, nor the other way round). The two
    settings take turns: while a thread waits for the other one, new uses of the one in
    force wait too, so threads evaluating point after point cannot keep it out. A
    thread may nest the setting it holds, not the other one (that would flip it under
    the other threads inside). Torch 2.9 added a second API for TF32
    (``fp32_precision``) and raises if the legacy one is read after the new one was
    written; this speaks the legacy API (which torch's inductor reads too) unless the
    new one is already in use.
    """

    _cond = threading.Condition()
    _depth = 0
    _holders: dict[int, int] = {}  # thread id -> how many uses it is inside
    _wanting = {False: 0, True: 0}  # threads waiting, by the setting they ask for
    _tf32: bool | None = None  # the setting in force while _depth > 0
    _last: bool | None = None  # the setting of the last turn, for turns when both wait
    _saved: Callable[[], None] | None = None

    @classmethod
    def _may_enter(cls, me: int, tf32: bool) -> bool:
        other_waits = cls._wanting[not tf32] > 0
        if me in cls._holders:
            return True
        if cls._depth == 0:
            return not other_waits or cls._last != tf32
        return cls._tf32 == tf32 and not other_waits

    @classmethod
    @contextlib.contextmanager
    def use(cls, tf32: bool) -> Iterator[None]:
        me = threading.get_ident()
        with cls._cond:
            if me in cls._holders and cls._tf32 != tf32:
                raise RuntimeError("an Evaluator nested the other TF32 setting in its own evaluation")
            cls._wanting[tf32] += 1
            try:
                while not cls._may_enter(me, tf32):
                    cls._cond.wait()
            finally:
                cls._wanting[tf32] -= 1
                cls._cond.notify_all()  # (a thread its wait kept out may go now)
            if cls._depth == 0:
                saved = cls._save()
                cls._set(tf32)  # (raising here leaves the count as it was)
                cls._saved, cls._tf32, cls._last = saved, tf32, tf32
            cls._depth += 1
            cls._holders[me] = cls._holders.get(me, 0) + 1
        try:
            yield
        finally:
            with cls._cond:
                cls._depth -= 1
                cls._holders[me] -= 1
                if not cls._holders[me]:
                    del cls._holders[me]
                if cls._depth == 0:
                    try:
                        if cls._saved is not None:
                            cls._saved()
                    finally:
                        cls._saved, cls._tf32 = None, None
                cls._cond.notify_all()

    @staticmethod
    def _legacy() -> bool:
        try:
            torch.backends.cuda.matmul.allow_tf32  # noqa: B018 - raises if APIs were mixed
            torch.backends.cudnn.allow_tf32  # noqa: B018
            return True
        except RuntimeError:
            return False

    @classmethod
    def _save(cls) -> Callable[[], None]:
        benchmark = torch.backends.cudnn.benchmark
        if cls._legacy():
            matmul = torch.backends.cuda.matmul.allow_tf32
            cudnn = torch.backends.cudnn.allow_tf32

            def restore() -> None:
                torch.backends.cuda.matmul.allow_tf32 = matmul
                torch.backends.cudnn.allow_tf32 = cudnn
                torch.backends.cudnn.benchmark = benchmark

            return restore
        matmul_p = torch.backends.cuda.matmul.fp32_precision
        conv_p = _cudnn().conv.fp32_precision

        def restore_new() -> None:
            torch.backends.cuda.matmul.fp32_precision = matmul_p
            _cudnn().conv.fp32_precision = conv_p
            torch.backends.cudnn.benchmark = benchmark

        return restore_new

    @classmethod
    def _set(cls, tf32: bool) -> None:
        if cls._legacy():
            torch.backends.cuda.matmul.allow_tf32 = tf32
            torch.backends.cudnn.allow_tf32 = tf32
        else:
            precision = "tf32" if tf32 else "ieee"
            torch.backends.cuda.matmul.fp32_precision = precision
            _cudnn().conv.fp32_precision = precision
        # one input shape per split: let cuDNN time its algorithms once and keep the best
        torch.backends.cudnn.benchmark = True



def replay_matches(eager: torch.Tensor, replayed: torch.Tensor) -> bool | None:
    """Whether a CUDA graph's outputs are the eager model's: NaN and infinite at the same
    places, the rest close (to 1e-3 of the largest finite output); None when no output is
    finite (a diverged point checks nothing). ``allclose`` over all of them was False for
    any NaN, and a graph captured at a grid's diverged corner was turned off for the job."""
    want, got = eager.float(), replayed.float()
    if want.shape != got.shape:
        return False
    finite = torch.isfinite(want)
    if not bool(finite.any()):
        return None
    infinite = torch.isinf(want)
    if (not torch.equal(finite, torch.isfinite(got)) or not torch.equal(infinite, torch.isinf(got))
            or not torch.equal(want[infinite], got[infinite])):  # NaN where NaN, ±inf where ±inf
        return False
    scale = max(1.0, float(want[finite].abs().max()))
    return bool(torch.allclose(got[finite], want[finite], rtol=1e-3, atol=1e-3 * scale))


class Evaluator:
    """Evaluate a model at points of the plane spanned by one or two directions.

    Args:
        model: the model at the centre θ* (its tensors are overwritten in place;
            call :meth:`restore` to put θ* back).
        directions: one direction (1D) or two (2D), each a list of tensors matching
            ``model_tensors(model, dir_type)``.
        train, test: the data of each split (``None`` if the split is not evaluated).
        device: where to evaluate.
        loss: ``ce`` (cross-entropy) or ``mse`` (softmax outputs against one-hot targets).
        batch_size: samples per forward pass; ``None`` picks one for the device
            (``CUDA_START_BATCH`` on CUDA, backing off on out-of-memory; on the CPU
            sized to the model's activations, see ``CPU_ACTIVATION_BYTES``).
        precision: ``fp32`` (strict, TF32 off), ``tf32`` (TF32 matmuls and convolutions
            on CUDA) or ``bf16`` autocast; see the module docstring for their errors.
        bn: ``eval`` uses the running statistics; ``recompute`` re-estimates BatchNorm
            statistics on the training data at every point, over batches of
            ``batch_size`` (``BN_RECOMPUTE_BATCH`` when None) on every device.
        channels_last: channels-last layout for model and inputs; ``None``: for models
            with 2D convolutions (faster with cuDNN and with oneDNN on the CPU).
        compile: ``on`` compiles the model with ``torch.compile`` (on any device),
            ``off`` never, ``auto`` on CUDA for long jobs (see the module docstring).
        expected_points: how many points this Evaluator will evaluate (for ``auto``).
        compile_mode: inductor's mode for compiled models: ``default``,
            ``max-autotune-no-cudagraphs`` (searches kernel configurations: longer
            compiles) or ``reduce-overhead`` (CUDA graphs; the weights keep their
            addresses, as ``set_point`` writes them in place).
        fold_bn: evaluate each ``Conv2d → BatchNorm2d`` pair as one convolution whose
            weights are folded from the live tensors at every point (see
            :mod:`lstui.landscape.fold`; ``folded_bn`` says how many pairs were folded).
        fuse_relu: with ``fold_bn``, each folded convolution and the residual sum and
            ReLU after it as one call (cuDNN's fused kernel on CUDA, oneDNN's convolution
            with post-ops for float32 on the CPU); ``None``: on CUDA, and on the CPU
            where this torch has oneDNN's (``fused_relu`` says whether it is in use: a
            model with no convolution followed by a ReLU has nothing to fuse).
        cuda_graphs: on CUDA, capture the eager model's forward pass for each batch shape
            in a CUDA graph at the first point and replay it at every batch after (the
            weights are written in place, so the graph reads each point's); ``None``: on
            CUDA. A model that cannot be captured is evaluated eagerly, with a warning.
        triton_conv: with ``fold_bn``, ``on`` runs the folded convolutions under ``bf16``
            and ``tf32`` on lstui's Triton kernel on CUDA, not cuDNN; ``auto`` runs
            each on whichever was faster at its first batch of each shape; ``off`` never
            (``triton_layers`` counts the layers running it); the compiled model does not
            use it.
        storage: where each split's inputs live: ``float`` (normalised float32 copy on
            the device), ``raw`` (the inputs as given on the device, normalised per
            batch), ``stream`` (host memory, pinned on CUDA, copied per batch) or
            ``auto``: ``float`` when that takes at most ``FLOAT_BUDGET`` of the free
            device memory (of the available host memory on the CPU), else ``raw`` when
            that takes at most ``RAW_BUDGET`` (always on the CPU), else ``stream``.
    """

    def __init__(
        self,
        model: nn.Module,
        directions: Sequence[Sequence[torch.Tensor]],
        *,
        dir_type: str = "weights",
        train: EvalData | None = None,
        test: EvalData | None = None,
        device: torch.device | str = "cpu",
        loss: str = "ce",
        batch_size: int | None = None,
        precision: str = "fp32",
        bn: str = "eval",
        channels_last: bool | None = None,
        compile: str = "auto",
        expected_points: int | None = None,
        storage: str = "auto",
        fold_bn: bool = True,
        compile_mode: str = "default",
        fuse_relu: bool | None = None,
        cuda_graphs: bool | None = None,
        triton_conv: str = "off",
    ) -> None:
        check_choice(loss, LOSSES, "--loss")
        check_choice(precision, PRECISIONS, "--precision")
        check_choice(bn, BN_MODES, "--bn")
        check_choice(compile, COMPILE_MODES, "--compile")
        check_choice(storage, STORAGES, "storage")
        check_choice(compile_mode, INDUCTOR_MODES, "compile mode")
        check_choice(triton_conv, TRITON_MODES, "triton_conv")
        if not 1 <= len(directions) <= 2:
            raise ValueError("an Evaluator takes one or two directions")
        if train is None and test is None:
            raise BadInput("nothing to evaluate: no train and no test split")
        if bn == "recompute" and train is None:
            raise BadInput("--bn recompute needs the training split")
        if batch_size is not None and batch_size < 1:
            raise BadInput(f"--batch-size must be at least 1, got {batch_size}")
        self.device = torch.device(device)
        self._cuda = self.device.type == "cuda"
        self.loss = loss
        self.precision = precision
        self.bn = bn
        with self._on_device():  # Triton, graphs and streams use the current GPU
            self.model = model.to(self.device).eval()
            if channels_last is None:
                channels_last = any(isinstance(m, nn.Conv2d) for m in model.modules())
            self.channels_last = channels_last
            if channels_last:
                self.model = self.model.to(memory_format=torch.channels_last)
            self._fuse_asked = fuse_relu
            default_fuse = self._cuda or (self.device.type == "cpu" and onednn_available())
            self.fused_relu = bool(fold_bn and (default_fuse if fuse_relu is None else fuse_relu))
            self.triton_conv = triton_conv if fold_bn else "off"
            self._forward_model, self.folded_bn = (
                fold_batchnorm(self.model, fuse_relu=self.fused_relu, triton=self.triton_conv)
                if fold_bn
                else (self.model, 0)
            )
            self.batch_size = batch_size or (CUDA_START_BATCH if self._cuda else CPU_MAX_BATCH)
            self.bn_batch = batch_size or BN_RECOMPUTE_BATCH
            """The batch of the BatchNorm statistics' pass: the same on every device."""

            tensors = model_tensors(self.model, dir_type)
            for n, d in enumerate(directions):
                check_direction_fits(d, tensors, f"the {'xy'[n]} direction")
            # Only floating tensors move; integer ones (num_batches_tracked) stay as they are.
            moving = _moved_once(tensors)
            self._targets = [tensors[n] for n in moving]
            self._origin = [t.detach().clone() for t in self._targets]
                # laid out as the tensors they move (channels-last weights too): CUDA's
            # multi-tensor kernels of set_point need equal strides, else one kernel a tensor
            self._dirs = [
                [torch.empty_like(tensors[n]).copy_(d[n]) for n in moving] for d in directions
            ]
            self._bn_buffers = self._bn_state() if bn == "recompute" else []
            self._splits: dict[str, _Split] = {}
            self._copy_stream: torch.cuda.Stream | None = None
            if train is not None:
                self._splits["train"] = self._place(train, storage)
            if test is not None:
                self._splits["test"] = self._place(test, storage)
            if batch_size is None and not self._cuda:
                self.batch_size = self._cpu_batch()
            self._batch_in_use = self.batch_size
            if self.folded_bn:
                self._check_fold()
            self.fused_relu = self.fused_relu and any(
                isinstance(m, ConvBN) and m.relu for m in self._forward_model.modules()
            )
            self.cuda_graphs = self._cuda and cuda_graphs is not False
            self._graphs: dict[tuple[object, ...], tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = {}
            # a shape whose capture had no finite output to check: eager calls to go before the
            # next try, and how many the last wait was (doubling: a worker in a diverged
            # corner paid a capture, 4 forward passes, at every batch)
            self._capture_wait: dict[tuple[object, ...], tuple[int, int]] = {}

            self.compile_mode = compile
            self.inductor_mode = compile_mode
            self.expected_points = expected_points
            self._compiled: Callable[[torch.Tensor], torch.Tensor] | None = None
            self._eager_times: list[float] = []
            self._compile_undecided = False
            if compile == "on":
                self._compiled = self._compile()
            elif compile == "auto":
                # a model whose convolutions run fused with their ReLUs is faster eager than
                # compiled (ResNet-56 on an H200: 0.149 against 0.199 s a point in bf16)
                self._compile_undecided = (
                    self._cuda
                    and not self.fused_relu
                    and expected_points is not None
                    and expected_points >= COMPILE_MIN_POINTS
                    and compile_available(self.device)
                )

    def _on_device(self) -> contextlib.AbstractContextManager[object]:
        """This Evaluator's GPU as the current one: Triton launches its kernels, CUDA
        graphs capture and events time on the current device, not on their tensors'
        (``lstui run --device cuda:1``, the benchmark's threads of other devices)."""
        return torch.cuda.device(self.device) if self._cuda else contextlib.nullcontext()

    # -- facts ----------------------------------------------------------------------
    @property
    def storage(self) -> dict[str, str]:
        """Where each split's inputs live (``float``, ``raw`` or ``stream``)."""
        return {name: s.storage for name, s in self._splits.items()}

    @property
    def compiled(self) -> bool:
        """Whether points are evaluated by the compiled model."""
        return self._compiled is not None

    @property
    def triton_layers(self) -> int:
        """How many folded convolutions run lstui's Triton kernel (for some batch shape)."""
        if self.compiled:
            return 0
        return sum(
            1 for m in self._forward_model.modules()
            if isinstance(m, ConvBN) and not m.triton_failed and any(m.triton_use.values())
        )

    # -- data -----------------------------------------------------------------------
    def _place(self, data: EvalData, storage: str) -> _Split:
        inputs = data.inputs
        shape = (1, -1) + (1,) * (inputs.dim() - 2)
        mean = std = None
        if data.mean is not None and data.std is not None:
            mean = torch.tensor(data.mean, dtype=torch.float32, device=self.device).view(shape)
            std = torch.tensor(data.std, dtype=torch.float32, device=self.device).view(shape)
        targets = data.targets.to(self.device, dtype=torch.long)
        if storage == "auto":
            storage = self._choose_storage(inputs)
        split = _Split(inputs, targets, storage, data.scale, mean, std)
        cl = self.channels_last and inputs.dim() == 4
        if storage == "float":
            fmt = torch.channels_last if cl else torch.contiguous_format
            if inputs.device == self.device and inputs.dtype == torch.float32 and mean is None and data.scale == 1.0:
                split.inputs = inputs.contiguous(memory_format=fmt)  # nothing to do: no copy
                return split
            out = torch.empty(inputs.shape, dtype=torch.float32, device=self.device, memory_format=fmt)
            step = 8192  # a chunk at a time: no second full-size copy, on host or device
            for s in range(0, inputs.shape[0], step):
                out[s : s + step] = self._normalise(inputs[s : s + step].to(self.device), split)
            split.inputs = out
        elif storage == "raw":
            fmt = torch.channels_last if cl else torch.contiguous_format
            split.inputs = inputs.contiguous(memory_format=fmt).to(self.device)
        else:  # stream
            split.inputs = _pinned(inputs.contiguous()) if self._cuda else inputs.contiguous()
        return split

    def _choose_storage(self, inputs: torch.Tensor) -> str:
        n = inputs.numel()
        float_bytes = 4 * n
        raw_bytes = inputs.element_size() * n
        # on a GPU, what this process's allocator holds cached counts as free: it is this
        # process's to use (a job's data kept cached after the last job read as used)
        free = (
            float(torch.cuda.mem_get_info(self.device)[0] + torch.cuda.memory_reserved(self.device)
                  - torch.cuda.memory_allocated(self.device))
            if self._cuda else _host_memory_available()
        )
        if float_bytes <= FLOAT_BUDGET * free:
            return "float"
        if not self._cuda or (raw_bytes < float_bytes and raw_bytes <= RAW_BUDGET * free):
            return "raw"
        return "stream"

    @torch.no_grad()
    def _cpu_batch(self) -> int:
        """The CPU batch: the largest activation of one sample, measured, into the budget."""
        largest = 1

        def hook(_module: nn.Module, _inputs: object, out: object) -> None:
            nonlocal largest
            if isinstance(out, torch.Tensor) and out.dim() > 0 and out.shape[0] > 0:
                largest = max(largest, out[0].numel() * out.element_size())

        xb, _ = next(self._batches(next(iter(self._splits))))
        handles = [m.register_forward_hook(hook) for m in self.model.modules()]
        try:
            with self._autocast():
                self.model(xb[:1])
        finally:
            for h in handles:
                h.remove()
        fits = max(1, CPU_ACTIVATION_BYTES // largest)
        return max(CPU_MIN_BATCH, min(CPU_MAX_BATCH, 1 << (fits.bit_length() - 1)))

    @staticmethod
    def _normalise(x: torch.Tensor, split: _Split) -> torch.Tensor:
        """``(x * scale - mean) / std`` in float32, never writing into ``x``.

        Every storage mode runs exactly these operations, so their inputs agree bit for bit.
        """
        out = x.to(torch.float32)
        owned = out is not x
        if split.scale != 1.0:
            out = out.mul_(split.scale) if owned else out * split.scale
            owned = True
        if split.mean is not None and split.std is not None:
            out = out.sub_(split.mean) if owned else out - split.mean
            out.div_(split.std)
        return out

    def _batches(
        self, name: str, pad: bool = False, size: int | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Normalised float inputs and targets of ``name``, batch by batch.

        With ``pad``, a short last batch is padded with zero rows to the common batch size
        (the caller drops their outputs); the targets are never padded. ``size``: the
        batch, instead of the evaluation's :attr:`batch_size` (which then stays the one
        an out-of-memory halves).
        """
        split = self._splits[name]
        # balanced batches: 10,000 samples at batch 8192 run as 2 × 5000, not 8192 + 1808,
        # so a padded last batch costs the compiled model a few rows, not most of a batch
        count = -(-split.size // min(size or self.batch_size, split.size))
        bs = -(-split.size // count)
        if size is None:
            self._batch_in_use = bs
        if split.storage == "stream" and self._cuda:
            batches = self._streamed(split, bs)
        else:
            batches = self._resident(split, bs)
        for xb, yb in batches:
            if pad and xb.shape[0] < bs:
                xb = _pad_rows(xb, bs)
            if self.channels_last and xb.dim() == 4:
                xb = xb.contiguous(memory_format=torch.channels_last)
            yield xb, yb

    def _resident(self, split: _Split, bs: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for s in range(0, split.size, bs):
            xb = split.inputs[s : s + bs]
            if split.storage != "float":
                xb = self._normalise(xb.to(self.device), split)
            yield xb, split.targets[s : s + bs]

    def _streamed(self, split: _Split, bs: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Host → device copies on a side stream, one batch ahead of the computation."""
        if self._copy_stream is None:
            self._copy_stream = torch.cuda.Stream(self.device)
        copier = self._copy_stream
        compute = torch.cuda.current_stream(self.device)

        def fetch(s: int) -> torch.Tensor:
            with torch.cuda.stream(copier):
                return split.inputs[s : s + bs].to(self.device, non_blocking=True)

        ahead = fetch(0)
        for s in range(0, split.size, bs):
            compute.wait_stream(copier)
            current = ahead
            # allocated on the copy stream, used on the compute stream: keep it alive there
            current.record_stream(compute)
            if s + bs < split.size:
                ahead = fetch(s + bs)
            yield self._normalise(current, split), split.targets[s : s + bs]

    # -- weights --------------------------------------------------------------------
    @torch.no_grad()
    def set_point(self, x: float, y: float = 0.0) -> None:
        """Overwrite the model's tensors with θ* + x·dx + y·dy, in place."""
        torch._foreach_copy_(self._targets, self._origin)
        if x != 0.0:
            torch._foreach_add_(self._targets, self._dirs[0], alpha=x)
        if len(self._dirs) == 2 and y != 0.0:
            torch._foreach_add_(self._targets, self._dirs[1], alpha=y)

    @torch.no_grad()
    def restore(self) -> None:
        """Put θ* back into the model."""
        torch._foreach_copy_(self._targets, self._origin)

    @torch.no_grad()
    def _check_fold(self) -> None:
        """Keep the folded model only if it gives the model's outputs on a few samples
        (strict fp32). Tracing runs a model's Python once with placeholders: a model
        whose outputs depend on more than its tensor operations is evaluated as it is.
        A fused model that fails (a cuDNN without the fused kernels) is folded unfused."""
        name = next(iter(self._splits))
        xb = next(self._batches(name))[0][:FOLD_CHECK_SAMPLES]
        with self._strict():
            want = self.model(xb).float()
        why = self._fold_differs(xb, want)
        if why and self.fused_relu:
            log.warning("convolutions and ReLUs not fused: %s", why)
            self.fused_relu = False
            self._forward_model = fold_batchnorm(self.model, triton=self.triton_conv)[0]
            why = self._fold_differs(xb, want)
        if why:
            log.warning("BatchNorm not folded: the folded model's outputs differ from the model's (%s)", why)
            self._forward_model, self.folded_bn = self.model, 0

    def _strict(self) -> contextlib.AbstractContextManager[None]:
        return _GlobalFlags.use(tf32=False) if self._cuda else contextlib.nullcontext()

    def _fold_differs(self, xb: torch.Tensor, want: torch.Tensor) -> str:
        """Why the folded model's outputs on ``xb`` are not ``want`` ("" when they are)."""
        try:
            with self._strict():
                got = self._forward_model(xb).float()
        except Exception as exc:  # the traced model cannot run what the model can
            return described(exc)
        if want.shape != got.shape:
            return "shapes differ"
        # a diverged model's own outputs hold inf/NaN, and the folded model's overflow
        # elsewhere (inf − inf in one order of sums, not in the other): compared where
        # both are finite (the check said "largest difference nan", blaming the folding)
        finite = torch.isfinite(want) & torch.isfinite(got)
        if bool(torch.isfinite(want).all()) and not bool(finite.all()):
            return "they are not finite where the model's are"
        want, got = want[finite], got[finite]
        if not want.numel():
            return ""
        scale = max(1.0, float(want.abs().max()))
        if bool(torch.allclose(got, want, rtol=1e-3, atol=1e-3 * scale)):
            return ""
        return f"largest difference {float((got - want).abs().max()):.3g}"

    # -- compilation ----------------------------------------------------------------
    def _compile(self) -> Callable[[torch.Tensor], torch.Tensor]:
        # Weights are read from the module's tensors at every call (they are graph
        # inputs; inductor's "freezing", which would bake them in, stays off), so the
        # in-place updates of set_point reach the compiled model.
        target = self._forward_model
        if (self.fused_relu and self._fuse_asked is None) or self.triton_conv != "off":
            # inductor fuses the bias, sum and ReLU into its own kernels after each
            # convolution, and makes its own Triton kernels
            fuse = self.fused_relu and self._fuse_asked is not None
            target = fold_batchnorm(self.model, fuse_relu=fuse)[0]
        compiled: Callable[[torch.Tensor], torch.Tensor] = torch.compile(
            target, dynamic=False, mode=self.inductor_mode
        )
        if self.inductor_mode != "reduce-overhead":
            return compiled

        def replay(xb: torch.Tensor) -> torch.Tensor:
            # CUDA graphs: each call is a new step, so the graph's output buffer may be
            # reused; the caller reduces the output before the next call (stream order)
            torch.compiler.cudagraph_mark_step_begin()
            return compiled(xb)

        return replay

    def _decide_compile(self, seconds: float) -> None:
        """``auto``: compile once the first eager points show the job is long enough."""
        self._eager_times.append(seconds)
        if len(self._eager_times) < _TIMED_POINTS:
            return
        self._compile_undecided = False
        if compile_pays(self.expected_points, min(self._eager_times)):
            log.info("compiling the model for %s points", self.expected_points)
            self._compiled = self._compile()
            self._graphs.clear()  # the eager model's graphs (and their memory) are not replayed again

    # -- evaluation -----------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager[object]:
        if self.precision == "bf16":
            # no cache of cast weights: a captured CUDA graph must cast them itself
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, cache_enabled=False)
        return contextlib.nullcontext()

    def _global_flags(self) -> contextlib.AbstractContextManager[None]:
        if not self._cuda:
            return contextlib.nullcontext()
        return _GlobalFlags.use(tf32=self.precision != "fp32")

    def _bn_state(self) -> list[nn.modules.batchnorm._BatchNorm]:
        return [m for m in self.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]

    @torch.no_grad()
    def _recompute_bn(self) -> None:
        """Re-estimate BatchNorm running statistics on the training split: the mean of
        each batch's statistics over batches of :attr:`bn_batch` (balanced, as every
        split's batches are), whatever the device.

        Raises:
            BadInput: out of memory at that batch (halving it would change the numbers).
        """
        saved = [(m.momentum, m.training) for m in self._bn_buffers]
        for m in self._bn_buffers:
            m.reset_running_stats()
            m.momentum = None
            m.train()
        try:
            with self._autocast():
                held: torch.Tensor | None = None  # one batch behind: a last batch of one sample joins it
                for xb, _ in self._batches("train", size=self.bn_batch):
                    if held is not None and xb.shape[0] == 1 < held.shape[0]:  # BatchNorm1d cannot train on one sample
                        xb = torch.cat([held, xb])
                    elif held is not None:
                        self.model(held)
                    held = xb
                if held is not None:
                    self.model(held)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            raise BadInput(
                f"out of memory re-estimating BatchNorm statistics in batches of {self.bn_batch}; "
                "give a smaller --batch-size (it sets that batch too), or --bn eval"
            ) from None
        finally:
            for m, (momentum, training) in zip(self._bn_buffers, saved, strict=True):
                m.momentum = momentum
                m.train(training)

    @torch.no_grad()
    def evaluate_split(self, split: str, nonfinite: torch.Tensor | None = None) -> tuple[float, float]:
        """Mean loss and accuracy (percent) of the model as it stands on ``split``.

        ``nonfinite``: a 0-dim bool tensor, true when the model's outputs are not numbers
        though a fused ReLU hid it (:func:`~lstui.landscape.fold.fused_nonfinite`). A
        NaN loss comes with a NaN accuracy: the argmax of outputs that are not numbers
        is no prediction (an infinite loss, from a logit of −inf, keeps its accuracy).
        """
        forward = self._forward_model if self._compiled is None else self._compiled
        if self._compiled is None and self.cuda_graphs:
            forward = self._replay
        total_loss = torch.zeros((), dtype=torch.float64, device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        n = 0
        for xb, yb in self._batches(split, pad=forward is not self._forward_model):
            with self._autocast():
                out = forward(xb)
            out = out[: yb.shape[0]].float()
            # in float64 from the logits on: a batch's float32 sum of finite losses of
            # 1e37 overflowed to inf, and the point was counted as diverged
            wide = out.double()
            if self.loss == "ce":
                batch_loss = F.cross_entropy(wide, yb, reduction="sum")
            else:
                probs = F.softmax(wide, dim=1)
                onehot = F.one_hot(yb, num_classes=out.shape[1]).to(probs.dtype)
                batch_loss = ((probs - onehot) ** 2).mean(dim=1).sum()
            total_loss += batch_loss
            correct += (out.argmax(dim=1) == yb).sum()
            n += yb.shape[0]
        if nonfinite is not None:
            total_loss = torch.where(nonfinite, torch.nan, total_loss)
        loss = float(total_loss.item() / n)
        return loss, float(100.0 * correct.item() / n) if not math.isnan(loss) else math.nan

    def _replay(self, xb: torch.Tensor) -> torch.Tensor:
        """The eager model's output for ``xb`` from a CUDA graph, captured for the batch's
        shape at its first use. The output is the graph's own buffer: reduce it before the
        next replay (stream order does, on one stream)."""
        if not self.cuda_graphs:  # a capture failed earlier in this split
            return self._forward_model(xb)
        key = (tuple(xb.shape), xb.stride(), xb.dtype)
        entry = self._graphs.get(key)
        if entry is None:
            left, last = self._capture_wait.get(key, (0, 0))
            if left > 0:
                self._capture_wait[key] = (left - 1, last)
                return self._forward_model(xb)
            try:
                captured = self._capture(xb)
            except Exception as exc:  # a forward pass that syncs with the host, or reads it
                if is_out_of_memory(exc):
                    raise
                log.warning("CUDA graphs off, evaluating eagerly: the model could not be captured (%s)",
                            described(exc))
                self.cuda_graphs = False
                self._graphs.clear()
                return self._forward_model(xb)
            if isinstance(captured, torch.Tensor):  # every output diverged: captured at a later call
                wait = min(64, 2 * last or 1)
                self._capture_wait[key] = (wait, wait)
                return captured  # the eager outputs the capture's warm-up computed
            self._capture_wait.pop(key, None)
            self._graphs[key] = entry = captured
        graph, static_in, static_out = entry
        static_in.copy_(xb)
        graph.replay()
        return static_out

    def _capture(self, xb: torch.Tensor) -> tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor] | torch.Tensor:
        """A graph of the eager model for ``xb``'s shape, checked once against the eager
        outputs: a graph holds a forward pass's Python as it ran at capture, so a model
        whose outputs depend on more than its tensors is not replayed.

        Outputs NaN or infinite (a diverged point: a grid's corner, an interpolation
        past B) are checked for being so at the same places, the rest for being close;
        when none is finite (nothing to check), the eager outputs, a later call capturing
        again. A NaN failed the check, and turned graphs off for the rest of the job."""
        static_in = xb.clone()
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):  # warm-up off the capture: cuDNN picks its algorithms
            for _ in range(2):
                eager = self._forward_model(static_in)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        # thread_local: Evaluators of other devices in other threads go on while this captures
        with torch.cuda.graph(graph, stream=torch.cuda.Stream(self.device), capture_error_mode="thread_local"):
            static_out = self._forward_model(static_in)
        graph.replay()
        same = replay_matches(eager, static_out)
        if same is None:
            return eager
        if not same:
            raise RuntimeError("the replayed graph's outputs differ from the eager model's")
        return graph, static_in, static_out

    def _evaluate_once(self, x: float, y: float) -> PointResult:
        with self._global_flags():
            self.set_point(x, y)
            if self.bn == "recompute":
                self._recompute_bn()
            frozen = self.folded_bn > 0 and self._compiled is None
            if frozen:  # the weights stay as they are for this point: fold them once
                freeze(self._forward_model, torch.bfloat16 if self.precision == "bf16" else None)
            values: dict[str, float] = {}
            try:
                with torch.no_grad():
                    nonfinite = fused_nonfinite(self._forward_model) if self.folded_bn else None
                for split in self._splits:
                    loss, acc = self.evaluate_split(split, nonfinite)
                    values[f"{split}_loss"] = loss
                    values[f"{split}_acc"] = acc
            finally:
                if frozen:
                    thaw(self._forward_model)
        return PointResult(**values)

    def evaluate(self, x: float, y: float = 0.0) -> PointResult:
        """Set the point (x, y) and evaluate every split this Evaluator holds.

        On out-of-memory the batch is halved and the point evaluated again, down to one
        sample per batch; the batch that worked is kept for later points.
        """
        with self._on_device():
            while True:
                failed = 0
                started = time.perf_counter()
                try:
                    result = self._evaluate_once(x, y)
                except Exception as exc:
                    if is_out_of_memory(exc):
                        failed = self._batch_in_use
                        if failed <= 1:
                            raise
                    elif self._compiled is None or self.compile_mode != "auto" or isinstance(exc, LstuiError):
                        raise
                    else:
                        # the compiler failed (no C compiler, no Triton, an unsupported op): go on eagerly
                        log.warning("torch.compile failed, evaluating eagerly: %s", exc)
                        self._compiled = None
                        continue
                if not failed:
                    if self._compile_undecided:
                        self._decide_compile(time.perf_counter() - started)
                    return result
                # outside the except block: the traceback (and the tensors it holds) is gone
                self.shrink_batch(failed)

    def shrink_batch(self, failed: int | None = None) -> None:
        """After an out-of-memory at batch ``failed`` (the batch in use): halve it, and let
        go of what was sized for it (the CUDA graphs captured for its shapes)."""
        failed = failed or self._batch_in_use
        self.batch_size = max(1, failed // 2)
        self._graphs.clear()
        if self._cuda:
            gc.collect()  # a traceback's frames in a cycle may still hold the batch's tensors
            torch.cuda.empty_cache()
        log.warning("out of memory at batch %d; batch size now %d", failed, self.batch_size)


def _pad_rows(xb: torch.Tensor, rows: int) -> torch.Tensor:
    """``xb`` with zero rows appended up to ``rows``, laid out with ``xb``'s strides.

    Equal strides matter: the compiled model guards on them, and with one channel a
    channels-last and a contiguous tensor have the same shape but different strides.
    """
    if xb.dim() == 0 or xb.stride(0) != math.prod(xb.shape[1:]):
        return torch.cat([xb, xb.new_zeros((rows - xb.shape[0], *xb.shape[1:]))])
    out = torch.empty_strided((rows, *xb.shape[1:]), xb.stride(), dtype=xb.dtype, device=xb.device)
    out[: xb.shape[0]].copy_(xb)
    out[xb.shape[0] :].zero_()
    return out


def _pinned(inputs: torch.Tensor) -> torch.Tensor:
    """``inputs`` in page-locked host memory, for asynchronous copies (as is if pinning fails)."""
    inputs = inputs.cpu()
    if inputs.is_pinned():
        return inputs
    try:
        return inputs.pin_memory()
    except RuntimeError:
        log.warning("could not pin %.1f GB of host memory; copies will be synchronous", inputs.nbytes / 1e9)
        return inputs
