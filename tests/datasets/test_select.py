from __future__ import annotations

import numpy as np
import pytest
import torch

from lstui.datasets import (
    DATA_KINDS,
    ArraySplit,
    LandscapeData,
    load_data,
    parse_subset,
    reference_split_indices,
)
from lstui.datasets._select import select
from lstui.errors import BadInput, DataError
from tests.datasets.cifar_fixture import write_cifar10


def _data(n_train=50, n_test=30):
    def split(n, start):
        inputs = torch.arange(start, start + n, dtype=torch.float32).reshape(n, 1)
        return ArraySplit(inputs, torch.arange(n) % 3)

    return LandscapeData("toy", split(n_train, 0), split(n_test, 1000), (1,), 3)


@pytest.mark.parametrize(("text", "value"), [("500", 500), ("1", 1), ("0.1", 0.1), ("1.0", 1.0)])
def test_parse_subset_accepts_counts_and_fractions(text, value):
    parsed = parse_subset(text)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize("text", ["0", "0.0", "1.5", "-3", "abc", "", "nan", "inf"])
def test_parse_subset_rejects_everything_else(text):
    with pytest.raises(DataError):
        parse_subset(text)
    assert issubclass(DataError, BadInput)


def test_subset_count_is_a_sorted_seeded_draw_without_replacement():
    data = _data()
    picked = select(data, subset="10", seed=3)
    rows = picked.train.inputs[:, 0].long()
    expected = torch.randperm(50, generator=torch.Generator().manual_seed(3))[:10].sort().values
    assert torch.equal(rows, expected)
    assert torch.equal(picked.train.targets, expected % 3)
    again = select(data, subset="10", seed=3)
    assert torch.equal(again.train.inputs, picked.train.inputs)
    other = select(data, subset="10", seed=4)
    assert not torch.equal(other.train.inputs, picked.train.inputs)


def test_subset_fraction_rounds_and_cuts_a_larger_test_split_to_the_same_count():
    picked = select(_data(n_train=50, n_test=30), subset="0.5", seed=0)
    assert len(picked.train) == 25
    assert picked.test is not None and len(picked.test) == 25
    rows = picked.test.inputs[:, 0].long() - 1000
    assert torch.equal(rows, rows.sort().values) and len(set(rows.tolist())) == 25


def test_subset_keeps_a_smaller_test_split_whole():
    data = _data(n_train=50, n_test=5)
    picked = select(data, subset="10")
    assert picked.test is data.test


@pytest.mark.parametrize("subset", ["0", "51", "0.001", "abc"])
def test_subset_out_of_bounds_is_a_data_error(subset):
    with pytest.raises(DataError):
        select(_data(), subset=subset)


def test_no_subset_and_no_split_returns_the_data_unchanged():
    data = _data()
    assert select(data) is data


@pytest.mark.parametrize(("total", "n"), [(50, 3), (100, 2), (7, 7)])
def test_data_split_matches_the_reference_numpy_seed_0_draw(total, n):
    state = np.random.get_state()
    np.random.seed(0)
    expected = np.random.choice(np.arange(total), total // n, replace=False)
    np.random.set_state(state)

    data = _data(n_train=total)
    before = np.random.get_state()[1].copy()
    picked = select(data, data_split=n)
    assert np.array_equal(np.random.get_state()[1], before)  # global state untouched
    assert picked.train.inputs[:, 0].long().tolist() == expected.tolist()
    assert np.array_equal(reference_split_indices(total, n), expected)
    assert picked.test is data.test


def test_data_split_then_subset():
    picked = select(_data(n_train=50), data_split=2, subset="5", seed=1)
    split_rows = reference_split_indices(50, 2)
    chosen = torch.randperm(25, generator=torch.Generator().manual_seed(1))[:5].sort().values
    assert picked.train.inputs[:, 0].long().tolist() == split_rows[chosen.numpy()].tolist()


@pytest.mark.parametrize("n", [0, -1, 51])
def test_bad_data_split_is_a_data_error(n):
    with pytest.raises(DataError, match="data split"):
        select(_data(), data_split=n)


def test_load_data_applies_subset_and_split_to_real_loaders(tmp_path):
    root = write_cifar10(tmp_path, n_per_batch=20)
    full = load_data(f"cifar10:{root}")
    picked = load_data(f"cifar10:{root}", subset="0.1", seed=2, data_split=4)
    rows = torch.from_numpy(reference_split_indices(100, 4))
    rows = rows[torch.randperm(25, generator=torch.Generator().manual_seed(2))[:2].sort().values]
    assert torch.equal(picked.train.inputs, full.train.inputs[rows])
    assert picked.test is not None and len(picked.test) == 2


def test_bad_options_are_rejected_before_any_data_is_read(tmp_path):
    with pytest.raises(DataError, match="subset"):
        load_data(f"cifar10:{tmp_path / 'missing'}", subset="abc")
    with pytest.raises(DataError, match="data split"):
        load_data(f"cifar10:{tmp_path / 'missing'}", data_split=0)


@pytest.mark.parametrize("spec", ["mnist", "cifar10", "imagefolder:", "./path/to:thing", ""])
def test_unknown_or_incomplete_specs_list_the_accepted_forms(spec):
    with pytest.raises(DataError) as info:
        load_data(spec)
    message = str(info.value)
    assert ":PATH" in message
    if spec in ("mnist", "./path/to:thing", ""):
        assert all(kind in message for kind in DATA_KINDS)
