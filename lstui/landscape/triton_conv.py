"""A direct convolution in Triton: 16-bit activations (or float32 ones with TF32 products),
the folded bias, the residual sum and the ReLU applied before the output's one write.

Why: in ResNet-56 the convolutions have 16, 32 or 64 channels, too few to fill the
tiles of cuDNN's implicit-GEMM kernels (an H200 profile of a bf16 point: 0.132 of its
0.135 s in ``sm80_xmma ... 256x32x32`` kernels, about a tenth of the card's bf16 rate),
and in the speed issue's table ``torch.compile`` with max-autotune, which may pick
inductor's Triton convolutions over cuDNN's, reached 0.11 s a point. This kernel is an
implicit GEMM written for these layers: one program computes a tile of
``BLOCK_M`` output pixels (of the flattened ``N·OH·OW``) by ``BLOCK_N`` output channels
as a sum over the ``KH·KW`` taps and ``BLOCK_C`` input channels at a time, each step one
``tl.dot`` of a ``BLOCK_M × BLOCK_C`` slice of the input (zeros outside the image) by a
``BLOCK_C × BLOCK_N`` slice of the weight, accumulated in float32; then bias, sum and
ReLU, and one store in the activations' dtype. Tile sizes and pipelining are chosen by
Triton's autotuner per layer shape (up to eight configurations, :data:`CONFIGS`: the first batch
of each layer shape pays their compilation and timing; Triton keeps the compiled kernels
and, from Triton 3.2, the timings on disk, so a later process on the same type of card
pays neither).

Channels-last inputs read whole pixels (all their channels) contiguously; any layout is
correct, as every tensor is addressed through its strides.

Only ``float16`` and ``bfloat16`` inputs, or ``float32`` ones while cuDNN may use TF32
(lstui's ``tf32`` mode: the products are TF32, as cuDNN's are; strict ``fp32`` never runs
the kernel), ``groups == 1``, no dilation, zero padding (:func:`usable`); the caller runs
anything else, and any failure, elsewhere. With ``TRITON_INTERPRET=1`` Triton runs the
kernel on the CPU (slowly: for tests; its ``bfloat16`` arithmetic is not right,
``float16`` and ``float32`` are).
"""

from __future__ import annotations

import inspect
import os
from typing import Any

import torch
from torch import nn

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - torch's CUDA builds bring triton
    triton = None

DTYPES = (torch.float16, torch.bfloat16)  # and float32 while cuDNN may use TF32 (tf32_allowed)
MAX_BLOCK_N = 64  # output channels per program (more: several programs per pixel tile)
MAX_BLOCK_C = 64  # input channels per tl.dot


def interpreting() -> bool:
    """Whether Triton runs kernels on the CPU (``TRITON_INTERPRET=1`` when it was imported)."""
    return os.environ.get("TRITON_INTERPRET") == "1"


def available() -> bool:
    return triton is not None


def tf32_allowed() -> bool:
    """Whether cuDNN's convolutions may use TF32 (lstui's ``tf32`` mode, PyTorch's default;
    not ``fp32``): then the kernel may too, for float32 inputs."""
    try:
        return bool(torch.backends.cudnn.allow_tf32)
    except RuntimeError:  # torch ≥ 2.9 with its newer TF32 switches already in use
        conv_precision: Any = getattr(torch.backends.cudnn, "conv", None)
        return getattr(conv_precision, "fp32_precision", "ieee") == "tf32"


def usable(x: torch.Tensor, conv: nn.Conv2d, dtype: torch.dtype) -> bool:
    """Whether :func:`conv2d` can compute ``conv`` on ``x`` in ``dtype``."""
    return (
        triton is not None
        and (x.is_cuda or (interpreting() and x.device.type == "cpu"))
        and (dtype in DTYPES or (dtype == torch.float32 and tf32_allowed()))
        and x.dim() == 4
        and conv.groups == 1
        and tuple(conv.dilation) == (1, 1)
        and conv.padding_mode == "zeros"
        and isinstance(conv.padding, tuple)
    )


# (BLOCK_M, warps, stages, ROW_TAPS). With 2 or more stages the next steps' tiles are
# copied to shared memory behind the current product (cp.async), but those copies skip
# the L1 cache: each of the 9 taps of a 3×3 layer reads its input pixels from L2 again,
# 9 × 16 channels × 2 bytes = 288 bytes per output pixel of a 16-channel bf16 layer, three
# times what the layer reads and writes in memory, which may bound ResNet-56's first
# stage. Two ways round it, for the autotuner to time against the plain kernel: one
# stage (plain loads through L1, where the taps' overlapping pixels can hit, but nothing
# loaded ahead of the product), and ROW_TAPS (one load and one product per kernel row:
# see the kernel), for channels-last layers of up to 32 channels (ROW_OK).
CONFIGS = (
    (128, 4, 3, False), (128, 8, 3, False), (256, 8, 3, False), (128, 4, 1, False), (256, 8, 1, False),
    (128, 4, 3, True), (256, 8, 3, True), (128, 4, 1, True),
)
MAX_ROW_TILE = 128  # ROW_TAPS: at most this many (tap, channel) pairs a product


def _configs() -> list[Any]:
    if interpreting():
        return [triton.Config({"BLOCK_M": 32, "ROW_TAPS": False}, num_warps=4)]
    return [
        triton.Config({"BLOCK_M": bm, "ROW_TAPS": row_taps}, num_warps=warps, num_stages=stages)
        for bm, warps, stages, row_taps in CONFIGS
    ]


def _prune(configs: list[Any], named_args: dict[str, Any], **kwargs: Any) -> list[Any]:
    """The configurations that apply to a launch: no ROW_TAPS ones unless ROW_OK."""
    return [c for c in configs if kwargs.get("ROW_OK") or not c.kwargs.get("ROW_TAPS")]


def _autotune_options() -> dict[str, Any]:
    """``cache_results`` where this Triton has it (its autotuner's timings kept on disk)."""
    return {"cache_results": True} if "cache_results" in inspect.signature(triton.autotune).parameters else {}


if triton is not None:

    # tuned once per layer shape and power of two of the output pixels (M_LOG2, which the
    # kernel does not read: a test's batch of 128 does not choose for a job's 8,192); the
    # choices are kept on disk with the compiled kernels (Triton ≥ 3.2), per card type, so
    # a later worker process neither compiles nor times them again
    @triton.autotune(configs=_configs(), key=["C", "H", "W", "K", "OH", "OW", "M_LOG2", "HAS_Z", "RELU", "ROW_OK"],
                     prune_configs_by={"early_config_prune": _prune}, **_autotune_options())
    @triton.jit
    def _conv_kernel(
        x_ptr, w_ptr, b_ptr, z_ptr, y_ptr,
        M, C, H, W, K, OH, OW, M_LOG2,
        sxn, sxc, sxh, sxw,
        syn, syc, syh, syw,
        szn, szc, szh, szw,
        STRIDE_H: tl.constexpr, STRIDE_W: tl.constexpr, PAD_H: tl.constexpr, PAD_W: tl.constexpr,
        KH: tl.constexpr, KW: tl.constexpr, HAS_Z: tl.constexpr, RELU: tl.constexpr,
        BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_C: tl.constexpr,
        EVEN_C: tl.constexpr, EVEN_K: tl.constexpr, C_BLOCKS: tl.constexpr,
        ROW_OK: tl.constexpr, K_TILE: tl.constexpr, ROW_TAPS: tl.constexpr,
    ):
        # EVEN_C, EVEN_K: the channels fill whole blocks, so no mask varies along a pixel's
        # channels and its loads and stores are vector ones (a mask per channel would make
        # them one element at a time)
        rm = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
        rn = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
        rc = tl.arange(0, BLOCK_C)
        m_ok = rm < M
        n_ok = rn < K
        img = rm // (OH * OW)
        oh = (rm % (OH * OW)) // OW
        ow = rm % OW
        x_img = x_ptr + img.to(tl.int64) * sxn
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        if ROW_TAPS:
            # ROW_OK: channels-last, C = BLOCK_C, so a pixel's channels are contiguous and so
            # are the KW pixels one kernel row reads: the (kw, c) pairs of a row are one
            # K_TILE-wide slice of memory (its tail beyond KW·C masked), one load and one
            # product per kernel row (KH steps, not KH·KW), and the pixels that neighbouring
            # outputs share fall in the same load instructions. The weight's [KH, KW, C, K]
            # layout makes a kernel row's (kw, c) × K slice contiguous too.
            tl.static_assert(ROW_OK, "ROW_TAPS: channels-last input with C = BLOCK_C only")
            k = tl.arange(0, K_TILE)
            k_ok = k < KW * BLOCK_C
            iw0 = ow * STRIDE_W - PAD_W
            iw = iw0[:, None] + (k // BLOCK_C)[None, :]
            col_ok = k_ok[None, :] & (iw >= 0) & (iw < W)
            for kh in range(KH):
                ih = oh * STRIDE_H - PAD_H + kh
                row_ok = m_ok & (ih >= 0) & (ih < H)
                x_tile = (x_img + ih * sxh + iw0 * BLOCK_C)[:, None] + k[None, :]
                a = tl.load(x_tile, mask=row_ok[:, None] & col_ok, other=0.0)
                w_row = w_ptr + (kh * KW * BLOCK_C + k)[:, None] * K + rn[None, :]
                if EVEN_K:
                    b = tl.load(w_row, mask=k_ok[:, None], other=0.0)
                else:
                    b = tl.load(w_row, mask=k_ok[:, None] & n_ok[None, :], other=0.0)
                acc = tl.dot(a, b, acc, input_precision="tf32")
        else:
            # one loop over (tap, channel block), not nested ones: Triton pipelines the loads
            # of the next steps behind the current tl.dot only within one loop, and a layer of
            # 16 to 64 channels has one channel block per tap. C_BLOCKS (= cdiv(C, BLOCK_C))
            # is a compile-time constant: the trip count is static (and Triton 3.6's
            # interpreter cannot loop over a count computed from a runtime argument)
            for step in range(KH * KW * C_BLOCKS):
                tap = step // C_BLOCKS
                kh = tap // KW
                kw = tap % KW
                c = (step % C_BLOCKS) * BLOCK_C + rc
                c_ok = c < C
                ih = oh * STRIDE_H - PAD_H + kh
                iw = ow * STRIDE_W - PAD_W + kw
                row_ok = m_ok & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
                x_row = x_img + ih * sxh + iw * sxw
                x_tile = x_row[:, None] + c[None, :] * sxc
                # the weight is laid out [KH, KW, C, K]: a tap's slice is C × K, K contiguous
                w_tap = w_ptr + (tap * C + c)[:, None] * K + rn[None, :]
                if EVEN_C:
                    a = tl.load(x_tile, mask=row_ok[:, None], other=0.0)
                    if EVEN_K:
                        b = tl.load(w_tap)
                    else:
                        b = tl.load(w_tap, mask=n_ok[None, :], other=0.0)
                else:
                    a = tl.load(x_tile, mask=row_ok[:, None] & c_ok[None, :], other=0.0)
                    b = tl.load(w_tap, mask=c_ok[:, None] & n_ok[None, :], other=0.0)
                acc = tl.dot(a, b, acc, input_precision="tf32")  # float32 tiles: TF32 (16-bit: as they are)
        if EVEN_K:
            acc += tl.load(b_ptr + rn).to(tl.float32)[None, :]
            mask = m_ok[:, None]
        else:
            acc += tl.load(b_ptr + rn, mask=n_ok, other=0.0).to(tl.float32)[None, :]
            mask = m_ok[:, None] & n_ok[None, :]
        if HAS_Z:
            z_row = img.to(tl.int64) * szn + oh * szh + ow * szw
            acc += tl.load(z_ptr + z_row[:, None] + rn[None, :] * szc, mask=mask, other=0.0).to(tl.float32)
        if RELU:
            acc = tl.maximum(acc, 0.0)
        y_row = img.to(tl.int64) * syn + oh * syh + ow * syw
        tl.store(y_ptr + y_row[:, None] + rn[None, :] * syc, acc.to(y_ptr.dtype.element_ty), mask=mask)


def _block(n: int, most: int) -> int:
    """The tile side for ``n`` channels: a power of two, at least 16 (``tl.dot``'s least)."""
    return max(16, min(most, triton.next_power_of_2(n)))


def constexprs(
    c: int, k: int, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
    has_z: bool, relu: bool, channels_last: bool = True,
) -> dict[str, int | bool]:
    """The kernel's compile-time arguments for a layer (all but the tuned ``BLOCK_M`` and
    ``ROW_TAPS``); ``channels_last``: each input pixel's channels contiguous, and the
    pixels of a row one after the other."""
    block_n, block_c = _block(k, MAX_BLOCK_N), _block(c, MAX_BLOCK_C)
    row_ok = channels_last and c == block_c and kernel[1] * c <= MAX_ROW_TILE
    return dict(
        STRIDE_H=stride[0], STRIDE_W=stride[1], PAD_H=padding[0], PAD_W=padding[1],
        KH=kernel[0], KW=kernel[1], HAS_Z=has_z, RELU=relu,
        BLOCK_N=block_n, BLOCK_C=block_c, EVEN_C=c % block_c == 0, EVEN_K=k % block_n == 0,
        C_BLOCKS=triton.cdiv(c, block_c),
        ROW_OK=row_ok, K_TILE=triton.next_power_of_2(kernel[1] * c) if row_ok else 16,
    )


def taps(weight: torch.Tensor) -> torch.Tensor:
    """``weight`` ([K, C, KH, KW]) laid out as the kernel reads it: [KH, KW, C, K], contiguous."""
    return weight.permute(2, 3, 1, 0).contiguous()


def conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    stride: tuple[int, int],
    padding: tuple[int, int],
    z: torch.Tensor | None = None,
    relu: bool = False,
    w_taps: torch.Tensor | None = None,
    config: dict[str, Any] | None = None,
) -> torch.Tensor:
    """``conv2d(x, weight, bias) (+ z)``, then ``relu`` if asked, in ``x``'s dtype (which
    ``weight``, ``bias`` and ``z`` must share); the output is channels-last. ``w_taps``:
    :func:`taps` of ``weight`` made once beforehand (else here, at every call).
    ``config``: run this configuration (``BLOCK_M``, ``ROW_TAPS``, ``num_warps``,
    ``num_stages``) rather than the autotuner's choice."""
    n, c, h, w = x.shape
    k, c_w, kh, kw = weight.shape
    if c_w != c:
        raise ValueError(f"the weight takes {c_w} channels, the input has {c}")
    oh = (h + 2 * padding[0] - kh) // stride[0] + 1
    ow = (w + 2 * padding[1] - kw) // stride[1] + 1
    y = torch.empty((n, k, oh, ow), device=x.device, dtype=x.dtype, memory_format=torch.channels_last)
    if y.numel() == 0:
        return y
    if w_taps is None:
        w_taps = taps(weight)
    elif w_taps.shape != (kh, kw, c, k) or w_taps.dtype != weight.dtype:
        raise ValueError(f"taps of shape {tuple(w_taps.shape)} are not those of a weight {tuple(weight.shape)}")
    zz = y if z is None else z  # not read without HAS_Z
    if zz.shape != y.shape:
        raise ValueError(f"the summand's shape {tuple(zz.shape)} is not the output's {tuple(y.shape)}")
    m = n * oh * ow
    channels_last = x.stride(1) == 1 and x.stride(3) == c
    fixed = constexprs(c, k, (kh, kw), stride, padding, z is not None, relu, channels_last)

    def grid(meta: dict[str, int]) -> tuple[int, int]:
        return triton.cdiv(m, meta["BLOCK_M"]), triton.cdiv(k, meta["BLOCK_N"])

    args = (x, w_taps, bias.contiguous(), zz, y, m, c, h, w, k, oh, ow, (m - 1).bit_length(),
            *x.stride(), *y.stride(), *zz.stride())
    if config is None:
        _conv_kernel[grid](*args, **fixed)
    else:
        _conv_kernel.fn[grid](*args, **fixed, **config)
    return y
