"""Trajectory PCA: the x and y directions of an optimisation path (REFERENCE.md,
"Trajectory PCA").

Row ``i`` of the trajectory matrix ``D`` is ``θ_i − θ_n``: checkpoint ``i`` minus the final
model, all tensors flattened and concatenated in direction order, in float64. The final
checkpoint's own row is zero. The directions are the first two principal components of
``D`` with its rows centred, exactly as scikit-learn's ``PCA(n_components=2)`` computes
them, but ``D`` itself (n × P) is never held in memory: the components come from the
n × n Gram matrix ``D Dᵀ``, which is built block by block from checkpoints streamed
through ``load``, and a second streaming pass turns its eigenvectors into directions.

Everything here is pure tensor code: checkpoints come in through a ``load(i)`` callable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lstui.errors import BadInput
from lstui.landscape.options import PROJECTIONS, check_choice

Loader = Callable[[int], Sequence[torch.Tensor]]
"""``load(i)`` returns the tensors of checkpoint ``i`` in direction order."""

DEFAULT_MAX_BYTES = 2 * 1024**3

# Float64 rows that trajectory_pca holds besides its block and stream buffers: the
# centre θ_n and the two component accumulators of the second pass.
_EXTRA_ROWS = 3
# At most this share of the buffered rows streams; the rest is the block.
_STREAM_SHARE = 4
# An eigenvalue below this fraction of the total variance counts as zero.
_RANK_RTOL = 1e-12


@dataclass(frozen=True)
class TrajectoryPCA:
    """The first two principal components of a trajectory and how much they explain.

    Attributes:
        xdirection: component 1, unit norm over all tensors together, reshaped to the
            model's tensors (direction order, float32).
        ydirection: component 2, likewise; orthogonal to ``xdirection``.
        explained_variance_ratio: each component's variance over the total variance of
            the centred rows (scikit-learn's ``explained_variance_ratio_``).
        explained_variance: ``S² / (n − 1)`` (scikit-learn's ``explained_variance_``).
        singular_values: ``S``, the singular values of the centred matrix.
    """

    xdirection: list[torch.Tensor]
    ydirection: list[torch.Tensor]
    explained_variance_ratio: tuple[float, float]
    explained_variance: tuple[float, float]
    singular_values: tuple[float, float]


def flatten(tensors: Sequence[torch.Tensor], *, ignore_biasbn: bool) -> torch.Tensor:
    """Concatenate ``tensors`` into one float64 vector, in order.

    Args:
        tensors: the tensors of a model or a direction, in direction order.
        ignore_biasbn: if true, the parts that come from 0- or 1-dim tensors (biases,
            BatchNorm parameters and buffers) are zero.

    Returns:
        A 1-D float64 tensor on the device of the first tensor.
    """
    device = tensors[0].device if len(tensors) else torch.device("cpu")
    out = torch.empty(sum(t.numel() for t in tensors), dtype=torch.float64, device=device)
    _flatten_into(tensors, out, ignore_biasbn)
    return out


def unflatten(vec: torch.Tensor, like: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Cut a flat vector back into float32 tensors shaped like ``like`` (new storage).

    Raises:
        BadInput: ``vec`` does not have as many entries as ``like`` holds.
    """
    total = sum(t.numel() for t in like)
    if vec.dim() != 1 or vec.numel() != total:
        raise BadInput(
            f"a flat vector of {vec.numel()} entries cannot be cut into tensors of "
            f"{total} entries in all"
        )
    out: list[torch.Tensor] = []
    offset = 0
    for t in like:
        part = vec[offset : offset + t.numel()]
        out.append(part.to(torch.float32, copy=True).reshape(t.shape))
        offset += t.numel()
    return out


def trajectory_pca(
    load: Loader,
    count: int,
    *,
    ignore_biasbn: bool = True,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> TrajectoryPCA:
    """Principal directions of a training trajectory, streaming the checkpoints.

    The result equals scikit-learn's ``PCA(n_components=2).fit(D)`` on the rows
    ``θ_i − θ_n`` (``i = 0 … count−1``): same variances and singular values, same
    components, with scikit-learn's sign convention (each component's entry of
    largest magnitude is positive; see ``svd_flip(..., u_based_decision=False)``).

    Algorithm. Pass 1 builds the Gram matrix ``G = D Dᵀ``: rows are loaded ``k`` at a
    time into a block buffer; each block gives its own ``k × k`` part, then every later
    checkpoint is streamed once against the block, ``s`` rows at a time, so that the
    products are matrix-matrix rather than one pass over the block per row. ``G`` is
    centred (``H G H`` with ``H = I − 11ᵀ/n``) and eigendecomposed in float64; the top
    two eigenpairs ``(λ, u)`` give ``S = √λ`` and the components ``v = Dᵀ(H u) / S``,
    accumulated in pass 2 (the last block is still buffered, so only earlier rows are
    loaded again). The final checkpoint is loaded once; every other checkpoint at most
    ``⌈(count − 1) / k⌉`` times in all (once when ``k ≥ count − 1``).

    Memory: ``k + s + 3`` float64 rows of P entries (the block buffer, the stream
    buffer, the centre, two component accumulators) plus an n × n Gram matrix, where
    ``k + s = max(2, max_bytes // (8 P) − 3)`` and ``s = max(1, (k + s) // 4)``. The
    checkpoints that ``load`` returns come on top.

    Args:
        load: ``load(i)`` returns the tensors of checkpoint ``i`` in direction order;
            checkpoint ``count − 1`` is the final model, the centre.
        count: the number of checkpoints, at least 2.
        ignore_biasbn: zero the parts of 0/1-dim tensors, in the rows and so in the
            directions.
        max_bytes: memory budget for the float64 rows held at once (see above). One
            block row and one stream row are used whatever the budget.

    Raises:
        BadInput: fewer than 2 checkpoints, checkpoints whose tensors do not match the
            final one, non-finite values, all checkpoints identical, or a trajectory
            that spans fewer than two directions.
    """
    _check_count(count)
    final_index = count - 1
    centre_tensors = list(load(final_index))
    shapes = _shapes(centre_tensors)
    centre = flatten(centre_tensors, ignore_biasbn=ignore_biasbn)
    like = [torch.empty(s, device="meta") for s in shapes]  # shapes only, no storage
    del centre_tensors
    p = centre.numel()
    device = centre.device
    rows = final_index  # the final row is zero; it is never loaded again
    k, s = _buffer_rows(max_bytes, p, rows)

    block_buf = torch.empty((k, p), dtype=torch.float64, device=device)
    stream_buf = torch.empty((min(s, rows - k), p), dtype=torch.float64, device=device)
    # rows stream as many at a time as the buffer holds: fewer than s where k < rows < k + s
    step = max(1, stream_buf.shape[0])

    def load_rows(first: int, out: torch.Tensor) -> None:
        """Rows ``first … first + len(out) − 1`` of D into ``out``."""
        for r in range(out.shape[0]):
            tensors = _checked(load(first + r), first + r, shapes)
            _flatten_into(tensors, out[r], ignore_biasbn, minus=centre)

    # Pass 1: the Gram matrix, block by block.
    gram = np.zeros((count, count), dtype=np.float64)
    start, block = 0, 0
    while start < rows:
        block = min(k, rows - start)
        own = block_buf[:block]
        load_rows(start, own)
        end = start + block
        gram[start:end, start:end] = (own @ own.T).cpu().numpy()
        for j in range(end, rows, step):
            batch = stream_buf[: min(step, rows - j)]
            load_rows(j, batch)
            cross = (own @ batch.T).cpu().numpy()
            gram[start:end, j : j + len(batch)] = cross
            gram[j : j + len(batch), start:end] = cross.T
        start = end
    last_start = rows - block

    lam, weights = _top_two(gram)
    singular = np.sqrt(lam)

    # Pass 2: components v = Dᵀ (H u) / S; the last block is still in its buffer.
    w = torch.from_numpy(weights).to(device)
    acc = w[last_start:rows].T @ block_buf[:block]
    for j in range(0, last_start, step):
        batch = stream_buf[: min(step, last_start - j)]
        load_rows(j, batch)
        acc.addmm_(w[j : j + len(batch)].T, batch)
    del block_buf, stream_buf

    components = []
    for c in range(2):
        v = acc[c] / float(singular[c])
        v /= torch.linalg.vector_norm(v)  # unit norm up to rounding already; make it exact
        if v[torch.argmax(v.abs())] < 0:
            v = -v
        components.append(unflatten(v, like))

    total = float(np.trace(_centre_gram(gram)))
    variance = lam / (count - 1)
    return TrajectoryPCA(
        xdirection=components[0],
        ydirection=components[1],
        explained_variance_ratio=(float(lam[0] / total), float(lam[1] / total)),
        explained_variance=(float(variance[0]), float(variance[1])),
        singular_values=(float(singular[0]), float(singular[1])),
    )


def project(
    load: Loader,
    count: int,
    pca_or_dirs: TrajectoryPCA | tuple[Sequence[torch.Tensor], Sequence[torch.Tensor]],
    *,
    method: str = "cos",
    ignore_biasbn: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of every checkpoint in the plane of two directions, streaming.

    With ``d = θ_i − θ_n`` (0/1-dim parts zero when ``ignore_biasbn``), method ``cos``
    gives ``x = d·dx / ‖dx‖``, ``y = d·dy / ‖dy‖``; method ``lstsq`` gives the least
    squares ``(x, y)`` of ``x·dx + y·dy ≈ d`` (from the 2 × 2 normal equations). For
    orthonormal directions, such as PCA components, the two agree. Each checkpoint is
    loaded once; the final one projects to ``(0, 0)``.

    Args:
        load: ``load(i)`` returns the tensors of checkpoint ``i`` in direction order;
            checkpoint ``count − 1`` is the final model.
        count: the number of checkpoints, at least 2.
        pca_or_dirs: a :class:`TrajectoryPCA`, or the pair ``(xdirection, ydirection)``.
        method: ``cos`` or ``lstsq``.
        ignore_biasbn: zero the 0/1-dim parts of ``d`` and of the directions.

    Returns:
        ``(x, y)``, two float64 arrays of ``count`` coordinates, first checkpoint first.

    Raises:
        BadInput: an unknown method, fewer than 2 checkpoints, tensors that do not match
            the final checkpoint, a zero direction, or (``lstsq``) parallel directions.
    """
    check_choice(method, PROJECTIONS, "--projection")
    _check_count(count)
    xdir: Sequence[torch.Tensor]
    ydir: Sequence[torch.Tensor]
    if isinstance(pca_or_dirs, TrajectoryPCA):
        xdir, ydir = pca_or_dirs.xdirection, pca_or_dirs.ydirection
    else:
        xdir, ydir = pca_or_dirs
    final_index = count - 1
    centre_tensors = list(load(final_index))
    shapes = _shapes(centre_tensors)
    centre = flatten(centre_tensors, ignore_biasbn=ignore_biasbn)
    del centre_tensors
    dx, dy = (
        flatten(_checked(tensors, name, shapes), ignore_biasbn=ignore_biasbn).to(centre.device)
        for tensors, name in ((xdir, "xdirection"), (ydir, "ydirection"))
    )

    xx, xy, yy = float(dx @ dx), float(dx @ dy), float(dy @ dy)
    if xx == 0.0 or yy == 0.0:
        raise BadInput("a projection direction is zero (after ignoring biases and BatchNorm)")
    det = xx * yy - xy * xy
    if method == "lstsq" and det <= 1e-12 * xx * yy:
        raise BadInput("the two projection directions are parallel; lstsq needs two")

    xs = np.zeros(count, dtype=np.float64)
    ys = np.zeros(count, dtype=np.float64)
    d = torch.empty_like(centre)
    for i in range(final_index):
        _flatten_into(_checked(load(i), i, shapes), d, ignore_biasbn, minus=centre)
        px, py = float(d @ dx), float(d @ dy)
        if method == "cos":
            xs[i], ys[i] = px / math.sqrt(xx), py / math.sqrt(yy)
        else:
            xs[i], ys[i] = (yy * px - xy * py) / det, (xx * py - xy * px) / det
    return xs, ys


def _flatten_into(
    tensors: Sequence[torch.Tensor],
    out: torch.Tensor,
    ignore_biasbn: bool,
    *,
    minus: torch.Tensor | None = None,
) -> None:
    """Write ``flatten(tensors)``, or ``flatten(tensors) − minus``, into ``out``.

    No full-size temporary is made, and with ``minus`` the subtraction happens in the
    same pass as the conversion to float64. ``minus`` must be a flattened vector made
    with the same ``ignore_biasbn`` (zero on the ignored parts).

    Integer buffers (BatchNorm's ``num_batches_tracked``) are zero: no direction moves
    them, and a batch counter that grows by thousands between checkpoints would
    otherwise be the first principal component of every ``--dir-type states`` path.
    """
    offset = 0
    for t in tensors:
        n = t.numel()
        part = out[offset : offset + n]
        if (ignore_biasbn and t.dim() <= 1) or not t.is_floating_point():
            part.zero_()
        elif minus is None:
            part.copy_(t.detach().reshape(-1))
        else:
            torch.sub(t.detach().reshape(-1).to(out.device), minus[offset : offset + n], out=part)
        offset += n


def _buffer_rows(max_bytes: int, p: int, rows: int) -> tuple[int, int]:
    """Block rows ``k`` and stream rows ``s`` for ``rows`` rows of ``p`` float64 entries.

    ``k`` is at most ``rows``; a stream buffer holds ``min(s, rows − k)`` rows.

    The stream buffer takes about a quarter of the room. Pass 1 reads the whole block
    once per batch of ``s`` streamed rows, so with ``s = 1`` that traffic (``8 k P``
    bytes per row) dwarfs loading the row itself; a larger ``s`` makes the products
    matrix-matrix, while the block, which sets how often a checkpoint is loaded
    (``⌈rows / k⌉``), keeps most of the room.
    """
    room = max(2, max_bytes // (8 * max(p, 1)) - _EXTRA_ROWS)
    s = max(1, room // _STREAM_SHARE)
    k = room - s
    if k >= rows:  # one block holds every row; nothing streams in pass 1 or 2
        return rows, 1
    return k, s


def _check_count(count: int) -> None:
    if count < 2:
        raise BadInput(f"trajectory PCA needs at least 2 checkpoints, got {count}")


def _shapes(tensors: Sequence[torch.Tensor]) -> list[tuple[int, ...]]:
    if not tensors:
        raise BadInput("the final checkpoint holds no tensors")
    return [tuple(t.shape) for t in tensors]


def _checked(
    tensors: Sequence[torch.Tensor], name: int | str, shapes: list[tuple[int, ...]]
) -> Sequence[torch.Tensor]:
    """``tensors`` if they match the final checkpoint's shapes; else a one-line BadInput."""
    what = f"checkpoint {name}" if isinstance(name, int) else name
    if len(tensors) != len(shapes):
        raise BadInput(
            f"{what} has {len(tensors)} tensors but the final checkpoint has {len(shapes)}"
        )
    for j, (t, shape) in enumerate(zip(tensors, shapes, strict=True)):
        if tuple(t.shape) != shape:
            raise BadInput(
                f"{what} does not match the final checkpoint: tensor {j} has shape "
                f"{tuple(t.shape)}, the final one {shape}"
            )
    return tensors


def _centre_gram(gram: np.ndarray) -> np.ndarray:
    """``H G H`` with ``H = I − 11ᵀ/n``: the Gram matrix of the centred rows."""
    row_mean = gram.mean(axis=1, keepdims=True)
    col_mean = gram.mean(axis=0, keepdims=True)
    return gram - row_mean - col_mean + gram.mean()


def _top_two(gram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Top two eigenvalues of the centred Gram matrix and the centred eigenvectors."""
    if not np.all(np.isfinite(gram)):
        raise BadInput("the checkpoints hold values that are not finite (NaN or inf)")
    centred = _centre_gram(gram)
    centred = (centred + centred.T) / 2
    total = float(np.trace(centred))
    if total <= 0.0:
        raise BadInput(
            "all checkpoints are identical (after ignoring biases and BatchNorm); "
            "the trajectory has no variance"
        )
    lam, vec = np.linalg.eigh(centred)
    lam, vec = lam[::-1][:2], vec[:, ::-1][:, :2]
    if lam[1] <= _RANK_RTOL * total:
        raise BadInput(
            "the checkpoints move along a single line; trajectory PCA needs at least "
            "3 checkpoints that span two directions"
        )
    # H u = u in exact arithmetic (Σu = 0 for λ > 0); applying H again removes rounding,
    # so Dᵀ(H u) is the centred matrix's D_cᵀ u without ever forming the column mean.
    vec = vec - vec.mean(axis=0, keepdims=True)
    return lam, np.ascontiguousarray(vec)
