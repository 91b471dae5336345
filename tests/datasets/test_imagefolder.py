from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from lstui.datasets import load_data
from lstui.errors import DataError


def _write(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def _folder(root, classes=("cat", "ant"), per_class=3, height=4, width=5, seed=0):
    rng = np.random.RandomState(seed)
    written = {}
    for name in classes:
        for i in range(per_class):
            pixels = rng.randint(0, 256, size=(height, width, 3)).astype(np.uint8)
            path = root / name / f"img{i}.png"
            _write(path, pixels)
            written[path] = pixels
    return written


def test_flat_folder_is_a_train_split_with_sorted_class_indices(tmp_path):
    written = _folder(tmp_path)
    data = load_data(f"imagefolder:{tmp_path}", raw=True)

    assert data.test is None
    assert data.num_classes == 2
    assert data.input_shape == (3, 4, 5)
    assert data.train.inputs.dtype == torch.uint8
    # "ant" sorts first, so it is class 0 and its images come first.
    assert data.train.targets.tolist() == [0, 0, 0, 1, 1, 1]
    first = written[tmp_path / "ant" / "img0.png"]
    assert torch.equal(data.train.inputs[0], torch.from_numpy(first).permute(2, 0, 1))
    x = data.train.normalised()
    assert x[0, 2, 3, 4].item() == pytest.approx(first[3, 4, 2] / 255.0)


def test_train_split_statistics_normalise_the_inputs(tmp_path):
    _folder(tmp_path, per_class=4)
    data = load_data(f"imagefolder:{tmp_path}")
    assert data.train.mean is not None and len(data.train.mean) == 3
    x = data.train.normalised()
    per_channel = x.transpose(0, 1).reshape(3, -1)
    assert torch.allclose(per_channel.mean(dim=1), torch.zeros(3), atol=1e-5)
    assert torch.allclose(per_channel.std(dim=1, correction=0), torch.ones(3), atol=1e-5)


def test_train_and_test_subfolders_are_splits_sharing_class_indices(tmp_path):
    _folder(tmp_path / "train", classes=("a", "b", "c"))
    _folder(tmp_path / "test", classes=("c",), per_class=2, seed=1)
    data = load_data(f"imagefolder:{tmp_path}")
    assert len(data.train) == 9
    assert data.test is not None
    assert data.test.targets.tolist() == [2, 2]
    assert data.test.mean == data.train.mean


def test_val_is_used_when_there_is_no_test(tmp_path):
    _folder(tmp_path / "train")
    _folder(tmp_path / "val", per_class=1)
    data = load_data(f"imagefolder:{tmp_path}")
    assert data.test is not None and len(data.test) == 2


def test_grayscale_images_become_rgb(tmp_path):
    _write(tmp_path / "a" / "g.png", np.full((4, 5), 77, dtype=np.uint8))
    _write(tmp_path / "b" / "g.png", np.full((4, 5), 77, dtype=np.uint8))
    data = load_data(f"imagefolder:{tmp_path}", raw=True)
    assert data.train.inputs.shape == (2, 3, 4, 5)
    assert int(data.train.inputs.min()) == int(data.train.inputs.max()) == 77


def test_mixed_sizes_are_a_data_error_saying_to_resize(tmp_path):
    _folder(tmp_path)
    _write(tmp_path / "cat" / "big.png", np.zeros((8, 8, 3), dtype=np.uint8))
    with pytest.raises(DataError, match="resize"):
        load_data(f"imagefolder:{tmp_path}")


def test_test_class_missing_from_train_is_a_data_error(tmp_path):
    _folder(tmp_path / "train", classes=("a", "b"))
    _folder(tmp_path / "test", classes=("z",))
    with pytest.raises(DataError, match="train split lacks"):
        load_data(f"imagefolder:{tmp_path}")


@pytest.mark.parametrize("make", ["missing", "empty", "empty_class"])
def test_missing_or_empty_image_folders_are_data_errors(tmp_path, make):
    path = tmp_path / "images"
    if make != "missing":
        path.mkdir()
    if make == "empty_class":
        (path / "a").mkdir()
    with pytest.raises(DataError, match="images"):
        load_data(f"imagefolder:{path}")


def test_unreadable_image_is_a_data_error_naming_it(tmp_path):
    _folder(tmp_path)
    (tmp_path / "cat" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png"):
        load_data(f"imagefolder:{tmp_path}")


def test_one_class_folder_is_refused_naming_the_folder_it_meant(tmp_path):
    """imagefolder:PATH one level off (PATH/val/CLASS/…) was one class: the loss over one
    class is 0 at every point, a flat landscape, with no word."""
    from lstui.datasets import probe_data

    _folder(tmp_path / "valonly" / "val")
    for load in (load_data, probe_data):
        with pytest.raises(DataError, match=r"holds one class folder \(val\); a landscape needs two classes "
                                            r"or more, each a folder of images; did you mean imagefolder:.*valonly/val\?"):
            load(f"imagefolder:{tmp_path / 'valonly'}")


def test_hidden_and_system_entries_are_not_classes_or_images(tmp_path):
    """Jupyter's .ipynb_checkpoints was a class (refused: no images), macOS's ._x.png an
    image (refused: cannot identify it), a checkpoint copy inside a class a sample."""
    _folder(tmp_path)
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / "__MACOSX").mkdir()
    (tmp_path / "cat" / "._img0.png").write_bytes(b"AppleDouble")
    _write(tmp_path / "cat" / ".ipynb_checkpoints" / "img0-checkpoint.png", np.zeros((4, 5, 3), dtype=np.uint8))
    data = load_data(f"imagefolder:{tmp_path}", raw=True)
    assert data.num_classes == 2 and len(data.train) == 6


@pytest.mark.parametrize("fault", ["empty_class", "extra_test_class", "empty_test"])
def test_the_probe_at_submit_finds_what_file_names_tell(tmp_path, fault):
    """Each was queued, and failed on its worker's first point."""
    from lstui.datasets import probe_data

    _folder(tmp_path / "train", classes=("a", "b", "c"))
    (tmp_path / "test").mkdir()
    if fault == "empty_class":
        for f in (tmp_path / "train" / "b").iterdir():
            f.unlink()
        _folder(tmp_path / "test", classes=("a",))
        says = "class folder .*train/b holds no images"
    elif fault == "extra_test_class":
        _folder(tmp_path / "test", classes=("a", "zz"))
        says = "test/zz is a class the train split lacks"
    else:
        says = "test holds no class folders"
    with pytest.raises(DataError, match=says):
        probe_data(f"imagefolder:{tmp_path}")
