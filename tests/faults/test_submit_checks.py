"""Bad input a worker would refuse is refused at submit: one line, exit 2, nothing queued.

Real files throughout: checkpoints ``torch.save`` wrote, CIFAR batch folders, PNG image
folders, direction files, the real CLI entry point and a real store.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lstui.datasets import DataProbe, probe_data
from lstui.errors import BadInput, DataError
from lstui.models import build_model
from lstui.results import write_directions
from lstui.scheduler.preflight import _shape_model, check_inputs
from lstui.spec import JobSpec
from lstui.store import Store
from tests.datasets.cifar_fixture import write_cifar10
from tests.faults.support import cli_in_process, listed_jobs, one_error_line

DIGITS = (1, 8, 8)


def _checkpoint(tmp_path: Path, model: str, name: str, shape: tuple[int, ...] = DIGITS) -> Path:
    path = tmp_path / name
    torch.save({"state_dict": build_model(model, input_shape=shape).state_dict()}, path)
    return path


def _refused(home: Path, *argv: str) -> str:
    """Run ``lstui ARGV``; assert it exits 2 with one error line and queues nothing."""
    code, _, err = cli_in_process(list(argv), home)
    line = one_error_line(err)
    assert code == 2, err
    assert listed_jobs(home) == []
    return line


def test_a_checkpoint_of_another_model_is_refused_at_submit(tmp_path: Path) -> None:
    cnn = _checkpoint(tmp_path, "cnn", "cnn.pt")
    line = _refused(
        tmp_path / "home", "submit", "surface", "--model", "mlp", "--checkpoint", str(cnn),
        "--data", "digits", "--x", "-1:1:5",
    )
    assert "does not fit model 'mlp'" in line and "cnn.pt" in line


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"", "is empty"), (b"epoch 300, acc 93.1\n", "neither a zip archive nor a pickle")],
)
def test_a_file_that_is_no_checkpoint_is_refused_at_submit(
    tmp_path: Path, content: bytes, says: str
) -> None:
    cnn = _checkpoint(tmp_path, "cnn", "cnn.pt")
    notes = tmp_path / "notes.pt"
    notes.write_bytes(content)
    line = _refused(
        tmp_path / "home", "submit", "surface", "--model", "cnn", "--checkpoint", str(cnn),
        "--target", str(notes), "--data", "digits", "--x", "-1:1:5",
    )
    assert "notes.pt' is not a torch checkpoint" in line and says in line


def test_a_cifar_folder_lacking_a_batch_is_refused_at_submit(tmp_path: Path) -> None:
    root = write_cifar10(tmp_path / "cifar", n_per_batch=4)
    (root / "cifar-10-batches-py" / "data_batch_5").unlink()
    line = _refused(
        tmp_path / "home", "submit", "surface", "--model", "resnet20", "--data",
        f"cifar10:{root}", "--x", "-1:1:5",
    )
    assert "lacks data_batch_5" in line


def test_a_built_in_data_set_is_named_in_any_case_as_a_built_in_model(tmp_path: Path) -> None:
    """`--model CNN` was taken and `--data Digits` refused as "not a data set"; both are
    taken now, the data set stored by its name (its folder as typed)."""
    root = write_cifar10(tmp_path / "cifar", n_per_batch=4)
    assert JobSpec(kind="surface", model="CNN", data=" Digits", x="-1:1:3").validated().data == "digits"
    spec = JobSpec(kind="surface", model="resnet20", data=f"CIFAR10:{root}", x="-1:1:3").validated()
    assert spec.data == f"cifar10:{root}"
    assert probe_data(spec.data) is not None
    line = _refused(tmp_path / "home", "submit", "surface", "--model", "cnn", "--data", "Cifar100:nowhere",
                    "--x", "-1:1:3")
    assert line == "lstui: error: --data 'cifar100:nowhere': no such folder", line


def _image_folder(root: Path, size: tuple[int, int] = (6, 5), test: bool = False) -> Path:
    for split in ("train", "test") if test else ("train",):
        for label in ("cat", "dog"):
            folder = root / split / label
            folder.mkdir(parents=True)
            pixels = np.full((size[1], size[0], 3), 40 if label == "cat" else 200, np.uint8)
            Image.fromarray(pixels).save(folder / "0.png")
    return root


def test_the_test_split_of_an_image_folder_without_one_is_refused(tmp_path: Path) -> None:
    folder = _image_folder(tmp_path / "images")
    line = _refused(
        tmp_path / "home", "submit", "surface", "--model", "mlp", "--data", f"imagefolder:{folder}",
        "--split", "both", "--x", "-1:1:5",
    )
    assert "has no test split" in line


def test_cifar_without_its_test_batch_serves_the_train_split_only(tmp_path: Path) -> None:
    root = write_cifar10(tmp_path / "data", n_per_batch=2)
    (root / "cifar-10-batches-py" / "test_batch").unlink()
    line = _refused(
        tmp_path / "home", "submit", "surface", "--model", "resnet20", "--data", f"cifar10:{root}",
        "--split", "test", "--x", "-1:1:3",
    )
    assert "has no test split" in line and "lacks test_batch" in line
    code, out, err = cli_in_process(
        ["submit", "surface", "--model", "resnet20", "--data", f"cifar10:{root}", "--x", "-1:1:3"],
        tmp_path / "home",
    )
    assert code == 0, err
    assert [job["state"] for job in listed_jobs(tmp_path / "home")] == ["queued"]


def test_a_direction_file_for_another_model_is_refused_at_submit(tmp_path: Path) -> None:
    mlp = build_model("mlp", input_shape=DIGITS)
    dirs = [torch.zeros_like(p) for p in mlp.parameters()]
    write_directions(tmp_path / "mlp_dirs.h5", dirs, dirs)
    line = _refused(
        tmp_path / "home", "submit", "surface", "--model", "cnn", "--data", "digits",
        "--dir-file", str(tmp_path / "mlp_dirs.h5"), "--x", "-1:1:5", "--y", "-1:1:5",
    )
    assert line.startswith("lstui: error: --dir-file: direction file")


def test_compare_with_one_bad_checkpoint_queues_none_of_its_jobs(tmp_path: Path) -> None:
    good = _checkpoint(tmp_path, "cnn", "small.pt")
    other = _checkpoint(tmp_path, "mlp", "large.pt")
    line = _refused(tmp_path / "home", "compare", str(good), str(other), "--model", "cnn")
    assert "large.pt' does not fit model 'cnn'" in line


def test_a_job_file_with_one_bad_job_queues_none(tmp_path: Path) -> None:
    good = _checkpoint(tmp_path, "cnn", "good.pt")
    bad = _checkpoint(tmp_path, "mlp", "bad.pt")
    file = tmp_path / "jobs.toml"
    file.write_text(
        '[defaults]\nmodel = "cnn"\ndata = "digits"\nx = "-1:1:5"\n'
        f'[[job]]\ncheckpoint = "{good}"\n[[job]]\ncheckpoint = "{bad}"\n'
    )
    line = _refused(tmp_path / "home", "submit", str(file))
    assert "bad.pt' does not fit model 'cnn'" in line


def test_fitting_inputs_arelisted_jobs(tmp_path: Path) -> None:
    cnn = _checkpoint(tmp_path, "cnn", "cnn.pt")
    target = _checkpoint(tmp_path, "cnn", "target.pt")
    home = tmp_path / "home"
    code, out, err = cli_in_process(
        ["submit", "surface", "--model", "cnn", "--checkpoint", str(cnn), "--target", str(target),
         "--data", "digits", "--split", "both", "--x", "-1:1:5"],
        home,
    )
    assert code == 0, err
    assert [job["id"] for job in listed_jobs(home)] == [int(out)]


def test_a_zoo_model_is_checked_on_the_meta_device_without_its_memory(tmp_path: Path) -> None:
    """A resnet56 checkpoint is checked against a model whose tensors take no memory."""
    root = write_cifar10(tmp_path / "cifar", n_per_batch=4)
    ckpt = _checkpoint(tmp_path, "resnet56", "model_300.t7", shape=(3, 32, 32))
    spec = JobSpec(model="resnet56", checkpoint=str(ckpt), data=f"cifar10:{root}", x="-1:1:3")
    check_inputs([spec.validated()])
    model = _shape_model(spec, DataProbe((3, 32, 32), 10, True))
    assert all(t.is_meta for t in model.state_dict().values())
    wrong = JobSpec(model="resnet20", checkpoint=str(ckpt), data=f"cifar10:{root}", x="-1:1:3")
    with pytest.raises(BadInput, match=r"does not fit model 'resnet20' \(built for the data's 3×32×32 samples and 10 classes\): 216 unexpected"):
        check_inputs([wrong.validated()])


def test_probe_data_reads_shapes_without_reading_the_data(tmp_path: Path) -> None:
    assert probe_data("digits") == DataProbe(DIGITS, 10, True, 1437)
    assert probe_data(f"cifar10:{write_cifar10(tmp_path / 'c', n_per_batch=2)}") == DataProbe(
        (3, 32, 32), 10, True
    )
    images = _image_folder(tmp_path / "images", size=(7, 5), test=True)
    assert probe_data(f"imagefolder:{images}") == DataProbe((3, 5, 7), 2, True)
    # a damaged second image is the job's to find: the probe opens the first only
    (images / "train" / "dog" / "0.png").write_bytes(b"not a png")
    assert probe_data(f"imagefolder:{images}") == DataProbe((3, 5, 7), 2, True)
    # a factory is imported, not called
    assert probe_data("json:loads") is None
    with pytest.raises(DataError, match="cannot import"):
        probe_data("no_such_module_here:data")
    shutil.rmtree(images / "train" / "cat")
    (images / "train" / "cat").mkdir()
    with pytest.raises(DataError, match="holds no images"):
        probe_data(f"imagefolder:{images}")


def _states(home: Path) -> dict[int, str]:
    return {int(job["id"]): str(job["state"]) for job in listed_jobs(home)}


def test_retry_reads_the_files_again_and_retries_all_or_none(tmp_path: Path) -> None:
    """A job that failed on its checkpoint is not queued again by ``lstui retry`` while
    the file is still bad: one line, exit 2, and no job of the command retried. Mended,
    the same command queues them."""
    home = tmp_path / "home"
    good = _checkpoint(tmp_path, "cnn", "good.pt")
    mended = _checkpoint(tmp_path, "cnn", "mended.pt")
    ids = []
    for ckpt in (good, mended):
        code, out, err = cli_in_process(
            ["submit", "surface", "--model", "cnn", "--checkpoint", str(ckpt), "--x", "-1:1:3"],
            home,
        )
        assert code == 0, err
        ids.append(int(out))
    content = mended.read_bytes()
    mended.write_bytes(content[: len(content) // 2])
    with Store.open_home(home) as store:  # what a worker records when the file is bad
        for job_id in ids:
            store.fail_job(job_id, "could not read its checkpoint")

    code, _, err = cli_in_process(["retry", *map(str, ids)], home)
    line = one_error_line(err)
    # it said "job B was not retried", as if A were: neither was
    assert code == 2 and f"none of jobs {ids[0]}, {ids[1]} was retried; job {ids[1]}: " in line, line
    assert "mended.pt" in line
    assert _states(home) == {ids[0]: "failed", ids[1]: "failed"}

    # refused for its state (done), not its file: the same words
    code, out, err = cli_in_process(["submit", "surface", "--model", "cnn", "--checkpoint", str(good),
                                     "--x", "-1:1:3", "--seed", "5"], home)
    code, _, err = cli_in_process(["retry", str(ids[0]), out.strip()], home)
    assert code == 2 and one_error_line(err) == (f"lstui: error: none of jobs {ids[0]}, {out.strip()} was retried: "
                                                 f"job {out.strip()} is queued; cannot retry it"), err
    cli_in_process(["cancel", out.strip()], home)
    cli_in_process(["rm", out.strip()], home)
    mended.write_bytes(content)
    code, out, err = cli_in_process(["retry", *map(str, ids)], home)
    assert code == 0, err
    assert out.split("\n")[:2] == [f"job {ids[0]}: queued", f"job {ids[1]}: queued"]
    assert _states(home) == {ids[0]: "queued", ids[1]: "queued"}
