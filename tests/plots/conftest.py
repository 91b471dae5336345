"""Known surfaces for the plot tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest


@pytest.fixture
def paraboloid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z = x² + y² on [-1, 1]², 101 × 101 points (grid step 0.02)."""
    x = np.linspace(-1.0, 1.0, 101)
    y = np.linspace(-1.0, 1.0, 101)
    X, Y = np.meshgrid(x, y)
    return x, y, X**2 + Y**2


@pytest.fixture
def two_minima() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A non-square grid (nx=41 over [-2, 2], ny=21 over [-1, 1], step 0.1) holding a
    global minimum 0 at (1, 0.5) and a local minimum 0.1 at (-1, -0.5), both on grid
    points: (i, j) = (15, 30) and (5, 10)."""
    x = np.linspace(-2.0, 2.0, 41)
    y = np.linspace(-1.0, 1.0, 21)
    X, Y = np.meshgrid(x, y)
    Z = np.minimum((X - 1) ** 2 + (Y - 0.5) ** 2, (X + 1) ** 2 + (Y + 0.5) ** 2 + 0.1)
    return x, y, Z


@pytest.fixture
def loss_like() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A positive, loss-like surface spanning several decades (minimum 0.01 at the centre)."""
    x = np.linspace(-1.0, 1.0, 31)
    y = np.linspace(-1.0, 1.0, 31)
    X, Y = np.meshgrid(x, y)
    return x, y, 0.01 + 5 * (X**2 + 0.5 * Y**2) + 20 * (X**4 + Y**4)


def _with_bad_points(Z: np.ndarray) -> np.ndarray:
    bad = np.array(Z, dtype=np.float64)
    bad[0, 0] = np.nan
    bad[0, -1] = np.inf
    bad[-1, 0] = -np.inf
    return bad


@pytest.fixture
def with_bad_points() -> Callable[[np.ndarray], np.ndarray]:
    """Return a copy of a surface with one NaN, one +inf and one -inf point (3 bad points,
    in corners away from the minimum)."""
    return _with_bad_points
