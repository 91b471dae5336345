from __future__ import annotations

import pickle
import struct

import numpy as np
import pytest
import torch

from lstui.datasets import CIFAR_MEAN, CIFAR_STD, load_data, missing_test_hint, probe_data
from lstui.errors import DataError
from tests.datasets.cifar_fixture import (
    CIFAR10_FOLDER,
    CIFAR10_TRAIN_FILES,
    read_batch,
    write_cifar10,
    write_cifar100,
)


def _expected(folder, names, label_key=b"labels"):
    batches = [read_batch(folder / name) for name in names]
    data = np.concatenate([b[b"data"] for b in batches]).reshape(-1, 3, 32, 32)
    labels = np.concatenate([np.asarray(b[label_key]) for b in batches])
    return torch.from_numpy(data), torch.from_numpy(labels).long()


def test_cifar10_reads_the_python2_pickle_layout(tmp_path):
    root = write_cifar10(tmp_path, n_per_batch=20)
    data = load_data(f"cifar10:{root}")

    folder = root / CIFAR10_FOLDER
    train_x, train_y = _expected(folder, CIFAR10_TRAIN_FILES)
    test_x, test_y = _expected(folder, ["test_batch"])
    assert data.train.inputs.dtype == torch.uint8
    assert data.train.inputs.shape == (100, 3, 32, 32)
    assert torch.equal(data.train.inputs, train_x)
    assert torch.equal(data.train.targets, train_y)
    assert data.test is not None
    assert torch.equal(data.test.inputs, test_x)
    assert torch.equal(data.test.targets, test_y)
    assert data.input_shape == (3, 32, 32)
    assert data.num_classes == 10


def test_cifar10_known_pixel_normalises_with_the_reference_statistics(tmp_path):
    root = write_cifar10(tmp_path, n_per_batch=4)
    data = load_data(f"cifar10:{root}")
    batch = read_batch(root / CIFAR10_FOLDER / "data_batch_2")
    # Row 1 of batch 2 is train row 5; flat pixel 1024 + 33 is channel 1, row 1, col 1.
    value = int(batch[b"data"][1, 1024 + 33])
    expected = (value / 255.0 - 123.0 / 255.0) / (62.1 / 255.0)

    x = data.train.normalised()
    assert x.dtype == torch.float32
    assert x[5, 1, 1, 1].item() == pytest.approx(expected, abs=1e-5)
    assert data.train.scale == pytest.approx(1 / 255)
    assert data.train.mean == CIFAR_MEAN
    assert data.train.std == CIFAR_STD
    assert CIFAR_MEAN[0] == pytest.approx(125.3 / 255) and CIFAR_STD[2] == pytest.approx(66.7 / 255)


def test_cifar10_raw_skips_normalisation_but_keeps_the_unit_scale(tmp_path):
    root = write_cifar10(tmp_path, n_per_batch=4)
    data = load_data(f"cifar10:{root}", raw=True)
    assert data.train.mean is None and data.train.std is None
    x = data.train.normalised()
    assert torch.allclose(x, data.train.inputs.float() / 255.0)
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0


def test_cifar10_accepts_the_batch_folder_itself_and_a_home_path(tmp_path, monkeypatch):
    root = write_cifar10(tmp_path / "data", n_per_batch=2)
    inner = load_data(f"cifar10:{root / CIFAR10_FOLDER}")
    assert len(inner.train) == 10
    monkeypatch.setenv("HOME", str(tmp_path))
    home = load_data("cifar10:~/data")
    assert torch.equal(home.train.inputs, inner.train.inputs)


def test_cifar10_accepts_str_keys_as_well_as_bytes_keys(tmp_path):
    root = write_cifar10(tmp_path, n_per_batch=3)
    path = root / CIFAR10_FOLDER / "test_batch"
    entry = read_batch(path)
    with path.open("wb") as handle:
        pickle.dump({k.decode(): v for k, v in entry.items()}, handle, protocol=2)
    data = load_data(f"cifar10:{root}")
    assert data.test is not None
    assert torch.equal(data.test.targets, torch.tensor(entry[b"labels"]))


def test_cifar100_reads_fine_labels_and_has_100_classes(tmp_path):
    root = write_cifar100(tmp_path, n_train=30, n_test=10)
    data = load_data(f"cifar100:{root}")
    folder = root / "cifar-100-python"
    train_x, train_y = _expected(folder, ["train"], b"fine_labels")
    assert torch.equal(data.train.inputs, train_x)
    assert torch.equal(data.train.targets, train_y)
    assert data.test is not None and len(data.test) == 10
    assert data.num_classes == 100
    assert data.train.mean == CIFAR_MEAN


def test_missing_cifar_folder_is_a_data_error_naming_it(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError, match="nowhere.*does not exist.*cifar-10-batches-py"):
        load_data(f"cifar10:{missing}")


def test_empty_cifar_folder_is_a_data_error_saying_what_was_expected(tmp_path):
    with pytest.raises(DataError, match="holds no cifar-100-python"):
        load_data(f"cifar100:{tmp_path}")


def test_missing_batch_file_is_named(tmp_path):
    root = write_cifar10(tmp_path, n_per_batch=2)
    (root / CIFAR10_FOLDER / "data_batch_3").unlink()
    with pytest.raises(DataError, match="lacks data_batch_3"):
        load_data(f"cifar10:{root}")


@pytest.mark.parametrize("damage", ["cut", "junk", "empty"])
def test_a_batch_cut_short_or_not_a_pickle_is_refused_by_the_probe_a_submit_makes(tmp_path, damage):
    """A download cut short passed the names' check at submit and failed its job later
    (and again at each retry)."""
    root = write_cifar10(tmp_path, n_per_batch=20)
    batch = root / CIFAR10_FOLDER / ("test_batch" if damage == "empty" else "data_batch_5")
    whole = batch.read_bytes()
    batch.write_bytes({"cut": whole[: len(whole) // 2], "junk": b"junk" + whole[4:], "empty": b""}[damage])
    with pytest.raises(DataError, match=f"{batch} is not a readable CIFAR batch: it looks cut short or damaged"):
        probe_data(f"cifar10:{root}")


def test_a_folder_without_the_test_batch_has_a_train_split_only(tmp_path):
    root = write_cifar10(tmp_path, n_per_batch=2)
    (root / CIFAR10_FOLDER / "test_batch").unlink()
    data = load_data(f"cifar10:{root}")
    assert data.test is None and len(data.train) == 10
    assert probe_data(f"cifar10:{root}").has_test is False
    assert probe_data(f"cifar10:{write_cifar10(tmp_path / 'whole', n_per_batch=2)}").has_test
    assert missing_test_hint(f"cifar10:{root}") == f" ({root / CIFAR10_FOLDER} lacks test_batch)"
    assert missing_test_hint("digits") == ""


def test_unextracted_archive_is_pointed_out(tmp_path):
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"")
    with pytest.raises(DataError, match="extract"):
        load_data(f"cifar10:{tmp_path}")


def test_wrong_shape_is_a_data_error(tmp_path):
    root = write_cifar10(tmp_path, n_per_batch=2)
    path = root / CIFAR10_FOLDER / "data_batch_1"
    entry = read_batch(path)
    entry[b"data"] = np.zeros((2, 100), dtype=np.uint8)
    with path.open("wb") as handle:
        pickle.dump(entry, handle, protocol=2)
    with pytest.raises(DataError, match=r"data_batch_1.*shape \(2, 100\).*3072"):
        load_data(f"cifar10:{root}")


def test_label_count_mismatch_is_a_data_error(tmp_path):
    root = write_cifar10(tmp_path, n_per_batch=2)
    path = root / CIFAR10_FOLDER / "test_batch"
    entry = read_batch(path)
    entry[b"labels"] = [0]
    with path.open("wb") as handle:
        pickle.dump(entry, handle, protocol=2)
    with pytest.raises(DataError, match="test_batch"):
        load_data(f"cifar10:{root}")


class _Python2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 ``str`` opcodes (BINSTRING), as the real batches hold them."""

    def save_python2_str(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[bytes] = save_python2_str


def test_cifar10_reads_batches_with_python2_str_opcodes(tmp_path):
    root = write_cifar10(tmp_path, n_per_batch=3)
    folder = root / CIFAR10_FOLDER
    expected = _expected(folder, CIFAR10_TRAIN_FILES)
    for name in CIFAR10_TRAIN_FILES:
        entry = read_batch(folder / name)
        with (folder / name).open("wb") as handle:
            _Python2Pickler(handle, protocol=2).dump(entry)
    assert b"_codecs" not in (folder / "data_batch_1").read_bytes()
    data = load_data(f"cifar10:{root}")
    assert torch.equal(data.train.inputs, expected[0])
    assert torch.equal(data.train.targets, expected[1])


class _Payload:
    def __reduce__(self):
        import os

        return (os.getcwd, ())


def test_a_batch_that_would_run_code_is_refused(tmp_path):
    root = write_cifar10(tmp_path, n_per_batch=2)
    path = root / CIFAR10_FOLDER / "test_batch"
    entry = read_batch(path)
    entry[b"labels"] = _Payload()
    with path.open("wb") as handle:
        pickle.dump(entry, handle, protocol=2)
    with pytest.raises(DataError, match="refusing to load"):
        load_data(f"cifar10:{root}")


def test_garbage_file_is_a_data_error(tmp_path):
    root = write_cifar10(tmp_path, n_per_batch=2)
    (root / CIFAR10_FOLDER / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="not a readable CIFAR batch"):
        load_data(f"cifar10:{root}")


def test_cifar10_batches_repickled_with_protocol_5_read_the_same(tmp_path):
    """NumPy pickles arrays by their bytes at protocol 5 (``_frombuffer``), which the
    batch unpickler refused."""
    root = write_cifar10(tmp_path / "orig", n_per_batch=8)
    want = load_data(f"cifar10:{root}")
    folder = root / CIFAR10_FOLDER
    for name in [*CIFAR10_TRAIN_FILES, "test_batch"]:
        entry = read_batch(folder / name)
        entry[b"data"] = np.ascontiguousarray(entry[b"data"])
        (folder / name).write_bytes(pickle.dumps(entry, protocol=5))
    assert b"_frombuffer" in (folder / "test_batch").read_bytes()
    got = load_data(f"cifar10:{root}")
    assert torch.equal(got.train.inputs, want.train.inputs) and torch.equal(got.test.inputs, want.test.inputs)
