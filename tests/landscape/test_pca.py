"""Trajectory PCA and projection (lstui.landscape.pca)."""

from __future__ import annotations

import math
import multiprocessing
import resource
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from lstui.errors import BadInput
from lstui.landscape.pca import TrajectoryPCA, flatten, project, trajectory_pca, unflatten

# A tiny net's tensors in direction order: weights and biases, 1,007 entries in all.
SHAPES = [(20, 30), (20,), (16, 20), (16,), (3, 16), (3,)]
P = sum(math.prod(s) for s in SHAPES)


def random_walk(count: int, seed: int = 0) -> list[list[torch.Tensor]]:
    """``count`` checkpoints of a random walk with drift, first to last."""
    g = torch.Generator().manual_seed(seed)
    theta = [torch.randn(s, generator=g) for s in SHAPES]
    drift = [torch.randn(s, generator=g) * 0.3 for s in SHAPES]
    out = []
    for _ in range(count):
        theta = [t + d + 0.1 * torch.randn(s, generator=g) for t, d, s in zip(theta, drift, SHAPES)]
        out.append(theta)
    return out


class CountingLoader:
    """``load(i)`` over stored checkpoints that counts how often each one is loaded."""

    def __init__(self, checkpoints: list[list[torch.Tensor]]) -> None:
        self.checkpoints = checkpoints
        self.loads = [0] * len(checkpoints)

    def __call__(self, i: int) -> list[torch.Tensor]:
        self.loads[i] += 1
        return [t.clone() for t in self.checkpoints[i]]


def trajectory_matrix(checkpoints: list[list[torch.Tensor]], ignore_biasbn: bool) -> np.ndarray:
    final = flatten(checkpoints[-1], ignore_biasbn=ignore_biasbn)
    rows = [flatten(c, ignore_biasbn=ignore_biasbn) - final for c in checkpoints]
    return torch.stack(rows).numpy()


def budget(room: int) -> int:
    """A ``max_bytes`` that leaves ``room`` rows of P for the block and stream buffers.

    The rest of the budget holds the centre and the two component accumulators. The
    stream buffer gets ``max(1, room // 4)`` rows, the block the others.
    """
    return (room + 3) * 8 * P


@pytest.mark.parametrize("ignore_biasbn", [True, False])
@pytest.mark.parametrize("room", [None, 4, 2])
def test_trajectory_pca_equals_sklearn_pca_of_the_centred_matrix(
    ignore_biasbn: bool, room: int | None
) -> None:
    checkpoints = random_walk(8)
    max_bytes = 2**31 if room is None else budget(room)
    pca = trajectory_pca(
        CountingLoader(checkpoints), 8, ignore_biasbn=ignore_biasbn, max_bytes=max_bytes
    )
    ref = PCA(n_components=2, svd_solver="full").fit(trajectory_matrix(checkpoints, ignore_biasbn))

    np.testing.assert_allclose(
        pca.explained_variance_ratio, ref.explained_variance_ratio_, rtol=1e-9
    )
    np.testing.assert_allclose(pca.explained_variance, ref.explained_variance_, rtol=1e-9)
    np.testing.assert_allclose(pca.singular_values, ref.singular_values_, rtol=1e-9)
    for direction, component in zip((pca.xdirection, pca.ydirection), ref.components_):
        v = flatten(direction, ignore_biasbn=False).numpy()
        # Same sign too: both make each component's largest entry positive.
        np.testing.assert_allclose(v, component, atol=1e-6)


@pytest.mark.parametrize(("room", "block", "stream"), [(4, 3, 1), (16, 12, 4), (30, 23, 7)])
def test_blocks_and_batches_of_streamed_rows_give_sklearn_pca(
    room: int, block: int, stream: int
) -> None:
    """39 rows in blocks of ``block``; later rows stream ``stream`` at a time."""
    checkpoints = random_walk(40, seed=3)
    loader = CountingLoader(checkpoints)
    pca = trajectory_pca(loader, 40, max_bytes=budget(room))
    ref = PCA(n_components=2, svd_solver="full").fit(trajectory_matrix(checkpoints, True))
    np.testing.assert_allclose(pca.explained_variance, ref.explained_variance_, rtol=1e-9)
    np.testing.assert_allclose(
        pca.explained_variance_ratio, ref.explained_variance_ratio_, rtol=1e-9
    )
    for direction, component in zip((pca.xdirection, pca.ydirection), ref.components_):
        v = flatten(direction, ignore_biasbn=False).numpy()
        np.testing.assert_allclose(v, component, atol=1e-6)
    assert max(loader.loads) == math.ceil(39 / block)


@pytest.mark.parametrize("count", range(3, 21))
def test_every_count_of_checkpoints_gives_sklearn_pca_with_a_small_budget(count: int) -> None:
    """Room 8 (blocks of 6, 2 streamed) and 16 (12 and 4): a trajectory of a few rows
    more than a block has a stream buffer smaller than ``s``. Pass 2 stepped by ``s``
    through it and left rows out of the components (orthogonal no more), while the
    variances, from pass 1, stayed right."""
    checkpoints = random_walk(count, seed=count)
    ref = PCA(n_components=2, svd_solver="full").fit(trajectory_matrix(checkpoints, True))
    for room in (8, 16):
        pca = trajectory_pca(CountingLoader(checkpoints), count, max_bytes=budget(room))
        np.testing.assert_allclose(pca.explained_variance, ref.explained_variance_, rtol=1e-9)
        x, y = (flatten(d, ignore_biasbn=False).numpy() for d in (pca.xdirection, pca.ydirection))
        assert abs(float(np.dot(x, y))) < 1e-6, (room, np.dot(x, y))  # float32 directions
        for v, component in zip((x, y), ref.components_):
            np.testing.assert_allclose(v, component, atol=1e-6)


def test_components_are_orthonormal_with_the_largest_entry_positive() -> None:
    pca = trajectory_pca(CountingLoader(random_walk(8)), 8)
    assert isinstance(pca, TrajectoryPCA)
    x = flatten(pca.xdirection, ignore_biasbn=False)
    y = flatten(pca.ydirection, ignore_biasbn=False)
    assert float(x @ x) == pytest.approx(1.0, abs=1e-6)
    assert float(y @ y) == pytest.approx(1.0, abs=1e-6)
    assert float(x @ y) == pytest.approx(0.0, abs=1e-6)
    assert x[x.abs().argmax()] > 0 and y[y.abs().argmax()] > 0
    assert [tuple(t.shape) for t in pca.xdirection] == SHAPES
    assert all(t.dtype == torch.float32 for t in pca.xdirection + pca.ydirection)


@pytest.mark.parametrize(("room", "most_loads"), [(None, 1), (9, 1), (8, 2), (4, 3), (2, 7)])
def test_each_checkpoint_is_loaded_at_most_once_per_block(
    room: int | None, most_loads: int
) -> None:
    """Blocks of k = 7 (one block), 6, 3 and 1 rows for the 7 non-final checkpoints."""
    loader = CountingLoader(random_walk(8))
    max_bytes = 2**31 if room is None else budget(room)
    trajectory_pca(loader, 8, max_bytes=max_bytes)
    assert loader.loads[-1] == 1  # the final model, the centre
    assert max(loader.loads[:-1]) == most_loads  # ⌈(n − 1) / k⌉


@pytest.mark.parametrize("method", ["cos", "lstsq"])
def test_final_checkpoint_projects_to_the_origin(method: str) -> None:
    checkpoints = random_walk(8)
    pca = trajectory_pca(CountingLoader(checkpoints), 8)
    x, y = project(CountingLoader(checkpoints), 8, pca, method=method)
    assert x.shape == y.shape == (8,)
    assert (x[-1], y[-1]) == (0.0, 0.0)
    assert np.abs(x[:-1]).max() > 0.1


def test_cos_and_lstsq_agree_for_pca_directions() -> None:
    checkpoints = random_walk(8)
    pca = trajectory_pca(CountingLoader(checkpoints), 8)
    x_cos, y_cos = project(CountingLoader(checkpoints), 8, pca, method="cos")
    x_ls, y_ls = project(CountingLoader(checkpoints), 8, pca, method="lstsq")
    np.testing.assert_allclose(x_cos, x_ls, atol=1e-5)
    np.testing.assert_allclose(y_cos, y_ls, atol=1e-5)


def test_cos_projection_of_the_trajectory_equals_sklearn_transform_up_to_the_mean() -> None:
    checkpoints = random_walk(8)
    pca = trajectory_pca(CountingLoader(checkpoints), 8)
    x, y = project(CountingLoader(checkpoints), 8, pca)
    ref = PCA(n_components=2, svd_solver="full").fit(trajectory_matrix(checkpoints, True))
    # project() measures from θ_n; sklearn's transform measures from the mean row.
    coords = trajectory_matrix(checkpoints, True) @ ref.components_.T
    np.testing.assert_allclose(np.stack([x, y], axis=1), coords, atol=1e-4)


@pytest.mark.parametrize("method", ["cos", "lstsq"])
def test_a_point_in_the_plane_projects_to_its_coefficients(method: str) -> None:
    checkpoints = random_walk(8)
    pca = trajectory_pca(CountingLoader(checkpoints), 8)
    final = checkpoints[-1]
    a, b = 0.7, -1.3
    point = [f + a * dx + b * dy for f, dx, dy in zip(final, pca.xdirection, pca.ydirection)]
    x, y = project(CountingLoader([point, final]), 2, pca, method=method)
    assert x[0] == pytest.approx(a, abs=1e-5)
    assert y[0] == pytest.approx(b, abs=1e-5)


def test_lstsq_recovers_coefficients_of_non_orthogonal_directions_where_cos_does_not() -> None:
    g = torch.Generator().manual_seed(1)
    final = [torch.randn(s, generator=g) for s in SHAPES]
    dx = [torch.randn(s, generator=g) * 0.5 for s in SHAPES]
    dy = [u + 0.5 * torch.randn(s, generator=g) for u, s in zip(dx, SHAPES)]  # far from ⊥ dx
    a, b = 2.0, 3.0
    point = [f + a * u + b * v for f, u, v in zip(final, dx, dy)]
    loader = CountingLoader([point, final])
    x, y = project(loader, 2, (dx, dy), method="lstsq", ignore_biasbn=False)
    assert (x[0], y[0]) == (pytest.approx(a, abs=1e-4), pytest.approx(b, abs=1e-4))
    x_cos, y_cos = project(loader, 2, (dx, dy), method="cos", ignore_biasbn=False)
    d = flatten(point, ignore_biasbn=False) - flatten(final, ignore_biasbn=False)
    u, v = flatten(dx, ignore_biasbn=False), flatten(dy, ignore_biasbn=False)
    assert x_cos[0] == pytest.approx(float(d @ u / u.norm()), rel=1e-9)  # d·dx / ‖dx‖
    assert y_cos[0] == pytest.approx(float(d @ v / v.norm()), rel=1e-9)
    assert abs(x_cos[0] - a) > 1


def test_flatten_zeroes_the_0_and_1_dim_parts_when_ignoring_biasbn() -> None:
    tensors = [torch.ones(2, 3), torch.ones(2), torch.tensor(5.0), torch.ones(1, 1, 2, 2)]
    flat = flatten(tensors, ignore_biasbn=True)
    assert flat.dtype == torch.float64
    assert flat.tolist() == [1.0] * 6 + [0.0, 0.0] + [0.0] + [1.0] * 4
    assert flatten(tensors, ignore_biasbn=False).tolist() == [1.0] * 8 + [5.0] + [1.0] * 4


def test_unflatten_inverts_flatten_as_float32() -> None:
    tensors = [torch.randn(s, dtype=torch.float64) for s in SHAPES]
    back = unflatten(flatten(tensors, ignore_biasbn=False), tensors)
    assert [tuple(t.shape) for t in back] == SHAPES
    assert all(t.dtype == torch.float32 for t in back)
    for t, u in zip(tensors, back):
        torch.testing.assert_close(u, t.float())


def test_pca_directions_are_zero_on_biases_when_ignoring_biasbn() -> None:
    checkpoints = random_walk(8)
    pca = trajectory_pca(CountingLoader(checkpoints), 8, ignore_biasbn=True)
    for t in pca.xdirection + pca.ydirection:
        assert (t.abs().max() == 0) == (t.dim() <= 1)
    kept = trajectory_pca(CountingLoader(checkpoints), 8, ignore_biasbn=False)
    assert all(t.abs().max() > 0 for t in kept.xdirection + kept.ydirection)


def test_moves_of_biases_alone_project_to_the_origin_when_ignoring_biasbn() -> None:
    checkpoints = random_walk(8)
    pca = trajectory_pca(CountingLoader(checkpoints), 8)
    final = checkpoints[-1]
    bias_moved = [t + 1.0 if t.dim() <= 1 else t.clone() for t in final]
    x, y = project(CountingLoader([bias_moved, final]), 2, pca)
    assert (x[0], y[0]) == (0.0, 0.0)


def test_a_batch_counter_does_not_make_the_plane_of_a_states_trajectory() -> None:
    """With ``--dir-type states --ignore none`` BatchNorm's ``num_batches_tracked`` (an
    integer growing by hundreds an epoch) was the first PC: 99.98 % "explained"."""
    walk = random_walk(8)
    with_counter = [[*c, torch.tensor(300 * i, dtype=torch.long)] for i, c in enumerate(walk)]
    pca = trajectory_pca(CountingLoader(with_counter), 8, ignore_biasbn=False)
    plain = trajectory_pca(CountingLoader(walk), 8, ignore_biasbn=False)
    np.testing.assert_allclose(pca.explained_variance_ratio, plain.explained_variance_ratio, rtol=1e-9)
    assert float(pca.xdirection[-1]) == 0.0 and float(pca.ydirection[-1]) == 0.0
    x, y = project(CountingLoader(with_counter), 8, pca)
    x0, y0 = project(CountingLoader(walk), 8, plain)
    np.testing.assert_allclose(np.abs(x), np.abs(x0), rtol=1e-9)
    np.testing.assert_allclose(np.abs(y), np.abs(y0), rtol=1e-9)


def _bad(load: Callable[[int], Sequence[torch.Tensor]], count: int, match: str) -> None:
    with pytest.raises(BadInput, match=match) as info:
        trajectory_pca(load, count)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("count", [0, 1])
def test_fewer_than_two_checkpoints_is_bad_input(count: int) -> None:
    _bad(CountingLoader(random_walk(2)), count, "at least 2 checkpoints")
    with pytest.raises(BadInput, match="at least 2 checkpoints"):
        project(CountingLoader(random_walk(2)), count, (random_walk(1)[0], random_walk(1)[0]))


def test_checkpoints_of_another_shape_are_bad_input() -> None:
    checkpoints = random_walk(5)
    checkpoints[2] = [torch.zeros(20, 31) if i == 0 else t for i, t in enumerate(checkpoints[2])]
    _bad(CountingLoader(checkpoints), 5, r"checkpoint 2 .*shape \(20, 31\)")
    checkpoints[2] = checkpoints[1][:-1]
    _bad(
        CountingLoader(checkpoints), 5, "checkpoint 2 has 5 tensors but the final checkpoint has 6"
    )


def test_identical_checkpoints_are_bad_input() -> None:
    same = random_walk(1)[0]
    _bad(CountingLoader([same] * 4), 4, "identical")
    # Checkpoints that differ only in biases are identical once biases are ignored.
    moved = [[t + k if t.dim() <= 1 else t for t in same] for k in range(4)]
    _bad(CountingLoader(moved), 4, "identical")


def test_a_trajectory_along_one_line_is_bad_input() -> None:
    _bad(CountingLoader(random_walk(2)), 2, "single line")
    base, step = random_walk(2)
    line = [[b + k * s for b, s in zip(base, step)] for k in range(5)]
    _bad(CountingLoader(line), 5, "single line")


def test_non_finite_checkpoints_are_bad_input() -> None:
    checkpoints = random_walk(4)
    checkpoints[1][0][0, 0] = float("nan")
    _bad(CountingLoader(checkpoints), 4, "not finite")


def test_projection_bad_input() -> None:
    checkpoints = random_walk(4)
    pca = trajectory_pca(CountingLoader(checkpoints), 4)
    with pytest.raises(BadInput, match="--projection 'svd'"):
        project(CountingLoader(checkpoints), 4, pca, method="svd")
    with pytest.raises(BadInput, match="parallel"):
        project(CountingLoader(checkpoints), 4, (pca.xdirection, pca.xdirection), method="lstsq")
    zero = [torch.zeros(s) for s in SHAPES]
    with pytest.raises(BadInput, match="zero"):
        project(CountingLoader(checkpoints), 4, (zero, pca.ydirection))
    with pytest.raises(BadInput, match="xdirection does not match"):
        project(CountingLoader(checkpoints), 4, (pca.xdirection[::-1], pca.ydirection))
    with pytest.raises(BadInput, match="cannot be cut"):
        unflatten(torch.zeros(P + 1), pca.xdirection)


# --- Streaming memory -------------------------------------------------------------------
# 80 checkpoints of 1,000,000 float32 parameters, made on the fly by a seeded load(i):
# the full 80 × P float64 matrix would take 640 MB, the budget is 100 MB.

BIG_COUNT = 80
BIG_SHAPES = [(1000, 999), (1000,)]
BIG_P = sum(math.prod(s) for s in BIG_SHAPES)
BIG_BUDGET = 100_000_000
FULL_MATRIX_BYTES = BIG_COUNT * BIG_P * 8


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _streaming_child() -> tuple[int, int, tuple[float, float]]:
    """Run in a fresh process: (peak RSS before, peak RSS after, variance ratios)."""
    torch.set_num_threads(1)  # spinning thread pools crawl on a busy 2-core machine
    torch.ones(4, 4, dtype=torch.float64) @ torch.ones(4, dtype=torch.float64)
    baseline = _peak_rss_bytes()  # the interpreter, torch and this module, warmed up

    # Four seeded vectors (16 MB) make every checkpoint; no checkpoint is ever kept.
    g = torch.Generator().manual_seed(0)
    base, bend, slope, wiggle = (torch.randn(BIG_P, generator=g) for _ in range(4))
    sizes = [math.prod(s) for s in BIG_SHAPES]

    def load(i: int) -> list[torch.Tensor]:
        flat = base + math.cos(i / 10) * bend
        flat.add_(slope, alpha=i / BIG_COUNT).add_(wiggle, alpha=0.1 * math.sin(i))
        return [part.reshape(s) for part, s in zip(flat.split(sizes), BIG_SHAPES)]

    pca = trajectory_pca(load, BIG_COUNT, max_bytes=BIG_BUDGET)
    return baseline, _peak_rss_bytes(), pca.explained_variance_ratio


def test_streaming_pca_memory_stays_within_budget_not_the_full_matrix() -> None:
    # A fresh process, so that its peak RSS is this computation's alone.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        baseline, peak, ratio = pool.submit(_streaming_child).result(timeout=120)
    extra = peak - baseline
    # The budget's 12 rows (96 MB), the loader's 4 vectors (16 MB), one checkpoint and
    # allocator slack: 145-160 MB measured, under a quarter of the full matrix.
    assert extra < 0.4 * FULL_MATRIX_BYTES, (extra, baseline, peak)
    assert ratio[0] > 0.5 and 0.0 < ratio[1] and sum(ratio) <= 1.0


def test_a_pca_plane_made_with_directions_not_orthogonal_is_warned_of_when_drawn(tmp_path) -> None:
    """Planes made before the streaming fix have directions that are not orthogonal
    (x·y = −0.10 for 301 checkpoints): drawing one says to queue the trajectory again."""
    import re

    from lstui.results import direction_cosine, write_directions
    from lstui.scheduler.trajectory import EVERY_CHECKPOINT_ATTR, skewed_plane

    gen = torch.Generator().manual_seed(0)
    x = [torch.randn(4, 3, generator=gen), torch.randn(5, generator=gen)]
    y = [t + 0.3 * torch.randn(t.shape, generator=gen) for t in x]
    ratios = {"explained_variance_ratio_": np.array([0.6, 0.3])}
    skewed, fine = tmp_path / "skewed.h5", tmp_path / "fine.h5"
    write_directions(skewed, x, y, extra=ratios)
    orthogonal = [t - float(torch.cat([a.ravel() for a in y]) @ torch.cat([b.ravel() for b in x]))
                  / float(torch.cat([b.ravel() for b in x]).norm() ** 2) * u for t, u in zip(y, x, strict=True)]
    write_directions(fine, x, orthogonal, extra=ratios)
    assert abs(direction_cosine(fine)) < 1e-6 < abs(direction_cosine(skewed))
    said = skewed_plane(skewed)
    assert said is not None and re.search("not orthogonal .*queue the trajectory again", said), said
    assert skewed_plane(fine) is None
    # a plane made since the fix says so: its directions (gigabytes for a wide net) are not read
    marked = tmp_path / "marked.h5"
    write_directions(marked, x, y, extra=ratios, attrs={EVERY_CHECKPOINT_ATTR: "every checkpoint"})
    assert skewed_plane(marked) is None
