from __future__ import annotations

import pytest
import torch

from lstui.datasets import load_data


@pytest.fixture(scope="module")
def digits():
    return load_data("digits")


def test_digits_has_a_fixed_1437_360_split_of_8x8_images(digits):
    assert digits.input_shape == (1, 8, 8)
    assert digits.num_classes == 10
    assert digits.train.inputs.shape == (1437, 1, 8, 8)
    assert digits.test is not None and digits.test.inputs.shape == (360, 1, 8, 8)
    assert set(digits.train.targets.tolist()) == set(range(10))
    assert set(digits.test.targets.tolist()) == set(range(10))
    assert int(digits.train.inputs.max()) == 16 and digits.train.scale == 1 / 16


def test_digits_split_is_the_same_on_every_load_and_for_every_seed(digits):
    again = load_data("digits", seed=7)
    assert torch.equal(again.train.inputs, digits.train.inputs)
    assert torch.equal(again.train.targets, digits.train.targets)
    assert again.test is not None and digits.test is not None
    assert torch.equal(again.test.targets, digits.test.targets)


def test_digits_train_split_is_normalised_to_zero_mean_unit_std(digits):
    x = digits.train.normalised()
    assert float(x.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(x.std(correction=0)) == pytest.approx(1.0, abs=1e-5)
    assert digits.test is not None and digits.test.mean == digits.train.mean


def test_digits_raw_is_scaled_to_unit_range():
    raw = load_data("digits", raw=True)
    assert raw.train.mean is None
    x = raw.train.normalised()
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0


def test_the_shipped_digits_are_scikit_learn_s_digits_to_the_pixel(digits):
    from sklearn.datasets import load_digits

    from lstui.datasets._digits import _read_digits, digits_file

    images, labels = load_digits(return_X_y=True)
    shipped_images, shipped_labels = _read_digits(digits_file())
    assert digits_file().parent.name == "data"  # the checkout's top-level data/
    assert (shipped_images.reshape(len(images), -1) == images).all()
    assert (shipped_labels == labels).all()


def test_a_damaged_digits_file_is_one_clear_error(tmp_path):
    import numpy as np

    from lstui.datasets._digits import _read_digits, digits_file
    from lstui.errors import DataError

    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(digits_file().read_bytes()[:1000])
    with pytest.raises(DataError, match="cannot be read.*reinstall lstui"):
        _read_digits(truncated)
    other = tmp_path / "other.npz"
    np.savez(other, images=np.zeros((10, 8, 8), np.uint8), labels=np.zeros(10, np.uint8))
    with pytest.raises(DataError, match="is not the 1,797 8×8 digits"):
        _read_digits(other)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, images=np.array([object()]), labels=np.zeros(1, np.uint8))
    with pytest.raises(DataError, match="cannot be read"):
        _read_digits(pickled)
