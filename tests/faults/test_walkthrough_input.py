"""Bad input a tester met walking through the product: each gets one line and an exit
code, never a traceback, and changes nothing.

Real CLI entry point (in process), real store, real checkpoints written by torch.save.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
import torch
from rich.console import Console

from lstui.models import build_model
from lstui.scheduler.follow import report_failures
from lstui.store import Store
from tests.faults.support import cli_in_process, listed_jobs, one_error_line

DIGITS = (1, 8, 8)


def _checkpoint(folder: Path, name: str, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    path = folder / name
    torch.save({"state_dict": build_model("cnn", input_shape=DIGITS).state_dict()}, path)
    return path


def _fails(home: Path, *argv: str, code: int = 2) -> str:
    got, _, err = cli_in_process(list(argv), home)
    line = one_error_line(err)
    assert got == code, err
    return line


def _submit(home: Path, *argv: str) -> int:
    got, out, err = cli_in_process(["submit", "surface", *argv], home)
    assert got == 0, err
    return int(out.split()[-1])


@pytest.mark.parametrize("device", ["tpu", "mps", "cuda:x", "0", "meta"])
def test_a_device_that_is_not_cpu_or_cuda_is_refused_before_the_folder_is_made(
    tmp_path: Path, device: str
) -> None:
    out = tmp_path / "out"
    line = _fails(tmp_path / "home", "run", "surface", "--model", "mlp", "--x", "-1:1:3",
                  "--device", device, "--out", str(out))
    assert "expected auto, cpu, cuda or cuda:N" in line
    assert not out.exists()


@pytest.mark.parametrize("dpi", ["0", "-5", "20000"])
def test_export_refuses_a_dpi_out_of_range(tmp_path: Path, dpi: str) -> None:
    line = _fails(tmp_path / "home", "export", "1", "--dpi", dpi, "--out", str(tmp_path / "o"))
    assert "--dpi" in line and "20<=x<=1200" in line
    assert not (tmp_path / "o").exists()


def test_a_home_that_is_a_file_or_lies_under_one_is_one_line(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("not a folder\n")
    got, _, err = cli_in_process(["ls"], file)  # as $LSTUI_HOME
    assert got == 2 and "$LSTUI_HOME" in one_error_line(err) and "is a file" in err
    line = _fails(file / "sub", "ls", code=1)
    assert "Not a directory" in line and "a part of that path is a file" in line
    assert file.read_text() == "not a folder\n"


def test_lifecycle_verbs_and_rm_take_ranges_of_ids_as_lstui_writes_them(tmp_path: Path) -> None:
    """`lstui cancel 9-24` said "expected a whole number", while lstui writes ids as
    ranges ("the demo's jobs 9–16 stay queued")."""
    home = tmp_path / "home"
    ids = [_submit(home, "--model", "mlp", "--x", "-1:1:3") for _ in range(5)]
    got, out, err = cli_in_process(["cancel", f"{ids[1]}-{ids[3]}"], home)
    assert got == 0, err
    with Store.open_home(home) as store:
        assert [store.get_job(j).state.value for j in ids] == ["queued", "cancelled", "cancelled", "cancelled",
                                                              "queued"]
    got, out, err = cli_in_process(["rm", f"{ids[1]}–{ids[2]}", str(ids[3])], home)  # (lstui's own dash)
    assert got == 0 and out.startswith(f"removed 3 jobs: {ids[1]}–{ids[3]}"), (out, err)
    assert "or a range such as 9-16" in _fails(home, "pause", "x-2")
    assert "from a lower id to a higher one" in _fails(home, "resume", f"{ids[4]}-{ids[0]}")
    assert "job id '1-2'" in _fails(home, "show", "1-2")  # (one job's verbs take one id)


@pytest.mark.parametrize("command", ["show", "logs", "cancel", "retry", "export"])
@pytest.mark.parametrize("job", ["99999999999999999999999", "0"])
def test_job_ids_out_of_sqlites_range_are_one_line(tmp_path: Path, command: str, job: str) -> None:
    line = _fails(tmp_path / "home", command, job)
    assert f"job id '{job}': expected a whole number from 1 to" in line


def test_pause_of_several_jobs_changes_none_when_one_cannot_be_paused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    queued = _submit(home, "--model", "mlp", "--x", "-1:1:3")
    cancelled = _submit(home, "--model", "mlp", "--x", "-1:1:3")
    assert cli_in_process(["cancel", str(cancelled)], home)[0] == 0
    for order in ((queued, cancelled), (cancelled, queued)):
        line = _fails(home, "pause", *map(str, order))
        # the others named too: "job 5 is cancelled; cannot pause it" alone read as if they were paused
        assert (f"none of jobs {', '.join(map(str, order))} was paused: job {cancelled} is cancelled; cannot "
                "pause it") in line, line
        assert {j["id"]: j["state"] for j in listed_jobs(home)} == {
            queued: "queued", cancelled: "cancelled"
        }
    line = _fails(home, "cancel", str(queued), "9999")
    assert f"none of jobs {queued}, 9999 was cancelled: job 9999 does not exist" in line, line
    line = _fails(home, "retry", str(cancelled), "9999")
    assert f"none of jobs {cancelled}, 9999 was retried: job 9999 does not exist" in line, line
    got, out, _ = cli_in_process(["pause", str(queued), str(queued)], home)
    assert got == 0 and out.splitlines() == [f"job {queued}: paused"]


def test_a_model_that_cannot_take_the_data_is_refused_by_submit_and_run(tmp_path: Path) -> None:
    """An ImageNet ResNet on 1-channel 8×8 digits: PyTorch's error was a traceback of
    `run`, and a job `submit` queued failed on its worker."""
    home = tmp_path / "home"
    spec = ("surface", "--model", "torchvision:resnet18", "--x", "-1:1:3")
    line = _fails(home, "submit", *spec)
    assert "model 'torchvision:resnet18' cannot take the data's inputs of shape 1×8×8" in line
    assert "3 channels" in line and listed_jobs(home) == []
    line = _fails(home, "run", *spec, "--device", "cpu", "--out", str(tmp_path / "o"))
    assert "cannot take the data's inputs of shape 1×8×8" in line


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("submit", "interp", "--checkpoint", "A", "--checkpoint-b", "B", "--target", "C"),
         "--target has no effect on interp jobs"),
        (("run", "interp", "--checkpoint", "A", "--checkpoint-b", "B", "--norm", "layer"),
         "--norm has no effect on interp jobs"),
        (("submit", "trajectory", "--checkpoints", "T*.pt", "--checkpoint", "A"),
         "--checkpoint has no effect on trajectory jobs (its centre is the last of --checkpoints)"),
        (("run", "trajectory", "--checkpoints", "T*.pt", "--target", "B"),
         "--target has no effect on trajectory jobs"),
        (("submit", "trajectory", "--checkpoints", "T*.pt", "--norm", "filter"),
         "--norm has no effect on trajectory jobs"),
        (("submit", "interp", "--checkpoint", "A", "--checkpoint-b", "B", "--ynorm", "filter"),
         "--ynorm has no effect on interp jobs"),
    ],
)
def test_flags_a_kind_of_job_does_not_use_are_refused(
    tmp_path: Path, argv: tuple[str, ...], says: str
) -> None:
    files = {"A": _checkpoint(tmp_path, "a.pt", 0), "B": _checkpoint(tmp_path, "b.pt", 1),
             "C": _checkpoint(tmp_path, "c.pt", 2)}
    for n in range(3):
        _checkpoint(tmp_path, f"T{n}.pt", 10 + n)
    args = [str(files[a]) if a in files else a.replace("T*", str(tmp_path / "T*")) for a in argv]
    line = _fails(tmp_path / "home", *args)
    assert says in line and line.endswith("drop it")
    assert listed_jobs(tmp_path / "home") == []


@pytest.mark.parametrize("flag", [("--target", "C"), ("--norm", "layer"), ("--ignore", "none")])
@pytest.mark.parametrize("command", ["submit", "run"])
def test_settings_of_directions_given_with_a_direction_file_are_refused(
    tmp_path: Path, command: str, flag: tuple[str, str]
) -> None:
    """The file's directions were used and the flag silently dropped, while ``lstui show``
    reported it (``norm layer`` of directions made with ``filter``)."""
    dirs = tmp_path / "d"
    code, _, err = cli_in_process(["run", "surface", "--model", "mlp", "--x", "-1:1:3", "--subset", "50",
                                   "--out", str(dirs), "--no-figure"], tmp_path / "home")
    assert code == 0, err
    value = str(_checkpoint(tmp_path, "c.pt", 2)) if flag[1] == "C" else flag[1]
    line = _fails(tmp_path / "home", command, "surface", "--model", "mlp", "--x", "-1:1:3",
                  "--dir-file", str(dirs / "directions.h5"), flag[0], value,
                  *(["--out", str(tmp_path / "o")] if command == "run" else []))
    assert f"{flag[0]} has no effect with --dir-file" in line
    assert listed_jobs(tmp_path / "home") == [] and not (tmp_path / "o").exists()


def test_compare_names_its_own_arguments_and_wants_distinct_labels(tmp_path: Path) -> None:
    home = tmp_path / "home"
    a = _checkpoint(tmp_path, "a.pt")
    line = _fails(home, "compare", str(a), str(tmp_path / "missing.pt"))
    assert f"checkpoint '{tmp_path / 'missing.pt'}': no such file" in line
    assert "--checkpoint-b" not in line
    b = _checkpoint(tmp_path, "b.pt", 1)
    for labels in ("x,x", ",", "x,"):
        line = _fails(home, "compare", str(a), str(b), "--labels", labels)
        assert "a label of its own" in line
    (tmp_path / "link.pt").symlink_to(a)
    for same in (a, tmp_path / "link.pt"):
        line = _fails(home, "compare", str(a), str(same))
        assert "checkpoints 1 and 2 are the same file" in line and "--checkpoint" not in line
    assert listed_jobs(home) == []


def test_a_target_that_is_the_checkpoint_itself_is_refused(tmp_path: Path) -> None:
    a = _checkpoint(tmp_path, "a.pt")
    (tmp_path / "link.pt").symlink_to(a)
    for target in (a, tmp_path / "link.pt"):
        line = _fails(tmp_path / "home", "submit", "surface", "--checkpoint", str(a),
                      "--target", str(target), "--x", "-1:1:3")
        assert "--target is the --checkpoint file itself" in line


def test_a_folder_given_as_a_checkpoint_says_so(tmp_path: Path) -> None:
    line = _fails(tmp_path / "home", "submit", "surface", "--checkpoint", str(tmp_path),
                  "--x", "-1:1:3")
    assert "is a folder; give a file" in line


def test_job_file_errors_name_the_file_and_the_job(tmp_path: Path) -> None:
    home = tmp_path / "home"
    good = _checkpoint(tmp_path, "good.pt")
    torch.save({"state_dict": build_model("mlp", input_shape=DIGITS).state_dict()},
               tmp_path / "mlp.pt")
    cases = {
        'x = "1:-1:5"\n': "grid.toml job 1: ",
        f'[defaults]\nx = "-1:1:3"\n[[job]]\ncheckpoint = "{good}"\n'
        f'[[job]]\ncheckpoint = "{tmp_path / "mlp.pt"}"\n': "fit.toml job 2: ",
        'x = "-1:1:3"\nunit_sise = 4\n': "unitsize.toml job 1: unknown key 'unit_sise'",
    }
    for (text, says), stem in zip(cases.items(), ("grid", "fit", "unitsize")):
        path = tmp_path / f"{stem}.toml"
        path.write_text(text)
        line = _fails(home, "submit", str(path))
        assert says in line, line
        if stem == "unitsize":
            assert "unit_size" in line.split("known keys:")[1]
    assert listed_jobs(home) == []


def test_a_failed_job_is_one_error_line_however_narrow_the_console(tmp_path: Path) -> None:
    with Store.open_home(tmp_path / "home") as store:
        job_id = _submit(tmp_path / "home", "--model", "mlp", "--x", "-1:1:3")
        store.fail_job(job_id, "RuntimeError: " + "a long reason " * 12)
        buffer = io.StringIO()
        assert report_failures([store.get_job(job_id)], Console(file=buffer, width=40)) == 1
    (line,) = buffer.getvalue().splitlines()
    assert line.startswith(f"lstui: error: job {job_id} (") and line.rstrip().endswith("a long reason")


@pytest.mark.parametrize(("kind", "left_out"), [
    ("interp", ("--y", "--norm", "--ignore", "--target", "--target-y", "--dir-file")),
    ("trajectory", ("--checkpoint ", "--norm", "--target", "--target-y")),
])
def test_the_help_of_a_kind_lists_no_flag_that_kind_refuses(tmp_path: Path, kind: str, left_out: tuple[str, ...]) -> None:
    for command in ("submit", "run"):
        code, out, err = cli_in_process([command, kind, "--help"], tmp_path / "home")
        assert code == 0, err
        flags = " ".join(line.split(",")[0].split()[0] for line in out.splitlines() if line.strip().startswith("--"))
        assert not [flag for flag in left_out if flag.strip() in flags.split()], out


def test_a_subset_larger_than_the_data_is_refused_at_submit(tmp_path: Path) -> None:
    """It was queued and failed in the worker ("exceeds the 1437 training samples"),
    and `lstui retry` queued it again to fail again."""
    home = tmp_path / "home"
    line = _fails(home, "submit", "surface", "--model", "mlp", "--x", "-1:1:3", "--subset", "5000")
    assert line.endswith("subset 5000 exceeds the 1437 training samples")
    line = _fails(home, "submit", "surface", "--model", "mlp", "--x", "-1:1:3", "--subset", "1000",
                  "--data-split", "2")
    assert line.endswith("subset 1000 exceeds the 718 training samples")
    line = _fails(home, "submit", "surface", "--model", "mlp", "--x", "-1:1:3", "--subset=-3")
    assert "give a count of 1 or more (e.g. 500) or a fraction in (0, 1]" in line
    assert listed_jobs(home) == []


def test_job_files_suggest_a_misspelt_key_and_refuse_lstui_s_own_records(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cases = {
        'modle = "mlp"\nx = "-1:1:3"\n': "unknown key 'modle' in job spec; did you mean 'model'?",
        'model = "mlp"\nx = "-1:1:3"\ndigests = {a = "b"}\n': "digests is lstui's own record of a queued job",
        'model = "mlp"\nx = "-1:1:3"\nfigure = {a = 1}\n': "figure is lstui's own record of a queued job",
        'kind = "figure"\nmodel = "mlp"\n': "figure jobs are queued by lstui compare, not by job files",
    }
    for n, (text, says) in enumerate(cases.items()):
        path = tmp_path / f"j{n}.toml"
        path.write_text(text)
        line = _fails(home, "submit", str(path))
        assert says in line, line
        assert "digests" not in line.partition("known keys:")[2]
    assert listed_jobs(home) == []
    assert _fails(home, "submit", "surfce").endswith("(did you mean 'lstui submit surface'?)")


def test_a_surface_without_a_checkpoint_says_it_is_around_an_initialisation(tmp_path: Path) -> None:
    code, out, err = cli_in_process(["submit", "surface", "--model", "mlp", "--x", "-1:1:3"], tmp_path / "home")
    assert code == 0 and out.strip().isdigit()
    assert "note: no --checkpoint: the surface is around mlp's initialisation (seed 123)" in err
    ck = _checkpoint(tmp_path, "a.pt")
    code, _, err = cli_in_process(["submit", "surface", "--model", "cnn", "--x", "-1:1:3", "--checkpoint", str(ck)],
                                  tmp_path / "home")
    assert code == 0 and "no --checkpoint" not in err


def test_commands_that_read_jobs_do_not_make_a_home_of_a_mistyped_path(tmp_path: Path) -> None:
    """`LSTUI_HOME=~/.local/share/lsuti lstui ls` made an empty store there and said
    "no jobs", as if the jobs were gone."""
    home = tmp_path / "typo"
    code, out, err = cli_in_process(["ls"], home)
    assert code == 0 and out.startswith("no jobs: no job store at") and "LSTUI_HOME" in out
    code, out, _ = cli_in_process(["ls", "--json"], home)
    assert code == 0 and out.strip() == "[]"
    for argv in (["show", "1"], ["logs", "1"], ["cancel", "1"], ["priority", "1", "3"], ["export", "1"]):
        line = _fails(home, *argv, code=1)
        assert "no job store at" in line, argv
    assert not home.exists()


def test_submit_s_own_options_are_taken_after_the_kind_too(tmp_path: Path) -> None:
    """`lstui submit surface … --unit-size 2` said "No such option" and suggested
    --batch-size; `lstui compare … --wait` takes its flag there."""
    from lstui.store import Store

    home = tmp_path / "home"
    for argv in (["submit", "surface", "--model", "mlp", "--x", "-1:1:5", "--unit-size", "2"],
                 ["submit", "surface", "--model", "mlp", "--unit-size=2", "--x", "-1:1:5"],
                 ["submit", "--unit-size", "2", "surface", "--model", "mlp", "--x", "-1:1:5"]):
        code, out, err = cli_in_process(argv, home)
        assert code == 0, err
        with Store.open_home(home) as store:
            assert [len(u.indices) for u in store.units(int(out.split()[0]))] == [2, 2, 1], argv
    code, out, _ = cli_in_process(["submit", "surface", "--help"], home)
    assert "--wait" in out and "--unit-size N" in out


def test_a_job_named_like_submit_s_own_options_is_named_so(tmp_path: Path) -> None:
    """`--name --wait --priority 0` (as the TUI's form ran it for a trajectory) took the
    name for the flag and left "0" over: "Got unexpected extra argument (0) (quote
    --checkpoints' glob …)"."""
    from lstui.store import Store

    home = tmp_path / "home"
    for name in ("--wait", "--unit-size"):
        code, out, err = cli_in_process(["submit", "surface", "--model", "mlp", "--x", "-1:1:3", "--name", name,
                                         "--priority", "0"], home)
        assert code == 0, err
        with Store.open_home(home) as store:
            assert store.get_job(int(out.split()[0])).name == name


def test_daemon_status_and_stop_make_no_home_of_a_mistyped_path(tmp_path: Path) -> None:
    home = tmp_path / "typo"
    code, out, _ = cli_in_process(["daemon", "status"], home)
    assert code == 3 and out.strip() == "daemon: not running"
    code, out, _ = cli_in_process(["daemon", "stop"], home)
    assert code == 0 and out.strip() == "no daemon was running"
    assert not home.exists()


def test_a_job_file_naming_data_of_the_folder_it_is_queued_from_is_queued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same job as flags was queued; from a job file the check could not import the
    module ("No module named ..."): the file's jobs were checked before the folder was
    looked in."""
    import sys

    project = tmp_path / "project"
    project.mkdir()
    (project / "walk_own_data.py").write_text(
        "import torch\n\ndef make():\n"
        "    g = torch.Generator().manual_seed(0)\n"
        "    x, y = torch.randn(40, 1, 8, 8, generator=g), torch.randint(0, 10, (40,), generator=g)\n"
        "    return list(zip(x, y.tolist())), None\n"
    )
    (project / "one.toml").write_text('model = "mlp"\ndata = "walk_own_data:make"\nx = "-1:1:3"\n')
    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "path", list(sys.path))
    code, out, err = cli_in_process(["submit", "one.toml"], tmp_path / "home")
    assert code == 0, err
    assert [j["name"] for j in listed_jobs(tmp_path / "home")] and out.strip().isdigit()


@pytest.mark.parametrize("command", ["submit", "run"])
def test_an_interpolation_given_its_b_as_target_says_which_flag_takes_it(tmp_path: Path, command: str) -> None:
    """`--target` is a surface's B: click said only "Missing option '--checkpoint-b'", and
    once that was added, that `--target` has no effect."""
    a, b = _checkpoint(tmp_path, "a.pt", 0), _checkpoint(tmp_path, "b.pt", 1)
    line = _fails(tmp_path / "home", command, "interp", "--checkpoint", str(a), "--target", str(b))
    assert line.endswith("takes checkpoint B as --checkpoint-b, not --target (a surface's x direction towards a checkpoint)")
    line = _fails(tmp_path / "home", command, "interp", "--checkpoint", str(a))
    assert line.endswith("needs --checkpoint-b: checkpoint B, at x = 1 (A, --checkpoint, at x = 0)")
    assert listed_jobs(tmp_path / "home") == []


def test_paths_that_cannot_be_used_are_one_line_not_a_traceback(tmp_path: Path) -> None:
    """A name over 255 bytes, a loop of symbolic links, a link that points nowhere, a
    folder under /proc: OSErrors outside the write errors were tracebacks."""
    long_name = tmp_path / ("a" * 300)
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere" / "deeper")
    home = tmp_path / "home"
    line = _fails(home, "--home", str(long_name), "ls")
    assert "File name too long" in line
    line = _fails(home, "--home", str(tmp_path / "loop1"), "ls")
    assert "Too many levels of symbolic links" in line and "point at each other" in line
    line = _fails(home, "--home", str(tmp_path / "dangling"), "submit", "surface", "--x", "-1:1:3")
    assert "a symbolic link in it points nowhere" in line
    line = _fails(home, "export", f"{long_name}.h5")
    assert "File name too long" in line and "255 bytes" in line
    assert not home.exists()


@pytest.mark.parametrize("argv", [("--home", "", "ls"), ("run", "surface", "--x", "-1:1:3", "--out", ""),
                                  ("demo", "--quick", "--out", ""), ("export", "1", "--out", "")])
def test_an_empty_folder_is_refused_not_taken_for_the_current_one(tmp_path: Path, argv: tuple[str, ...],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    line = _fails(tmp_path / "home", *argv)
    assert "is empty; give a folder" in line
    assert list(tmp_path.iterdir()) == []


def test_demo_with_bad_devices_refuses_before_training_or_queueing(tmp_path: Path) -> None:
    line = _fails(tmp_path / "home", "demo", "--quick", "--devices", "bogus", "--out", str(tmp_path / "d"))
    assert line.startswith("lstui: error: --devices 'bogus'")
    assert not (tmp_path / "d").exists() and not (tmp_path / "home").exists()


def test_a_checkpoint_of_another_model_is_refused_at_submit_with_the_persons_own_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The person's data factory is not called at submit, so nothing was checked; their
    own model is built without the data's shapes, so its checkpoints are checked now."""
    (tmp_path / "mylab.py").write_text(
        "import torch\nfrom torch import nn\n\n"
        "def ten():\n    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))\n\n"
        "def five():\n    return nn.Sequential(nn.Flatten(), nn.Linear(64, 5))\n\n"
        "def data():\n    return torch.randn(20, 1, 8, 8), torch.randint(0, 10, (20,))\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    torch.manual_seed(0)
    torch.save(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)).state_dict(), tmp_path / "ten.pt")
    home = tmp_path / "home"
    line = _fails(home, "submit", "surface", "--model", "mylab:five", "--data", "mylab:data",
                  "--checkpoint", str(tmp_path / "ten.pt"), "--x", "-1:1:3")
    assert "does not fit model 'mylab:five'" in line and "checkpoint [10, 64], model [5, 64]" in line
    assert listed_jobs(home) == []
    code, _, err = cli_in_process(["submit", "surface", "--model", "mylab:ten", "--data", "mylab:data",
                                   "--checkpoint", str(tmp_path / "ten.pt"), "--x", "-1:1:3"], home)
    assert code == 0, err


def test_a_data_split_that_leaves_no_sample_is_refused_at_submit(tmp_path: Path) -> None:
    """`run` refused it; `submit` queued it, a worker failed it, and `retry` queued it again."""
    home = tmp_path / "home"
    line = _fails(home, "submit", "surface", "--x", "-1:1:3", "--data-split", "100000")
    assert line.endswith("--data-split 100000 leaves none of the 1437 training samples")
    assert listed_jobs(home) == []


def test_the_tui_without_a_terminal_is_one_line_not_a_screen_drawn_into_a_pipe(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "lstui.cli"], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60, env={"LSTUI_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("lstui: error: the TUI needs a terminal")


@pytest.mark.parametrize(("flag", "says"), [(("--export", "bogus"), "--export bogus: choose from png, pdf"),
                                            (("--max-gpu-share", "nan"), "--max-gpu-share must be a number")])
def test_daemon_start_refuses_a_bad_flag_itself_before_it_starts_a_daemon(
    tmp_path: Path, flag: tuple[str, str], says: str
) -> None:
    """`--export bogus` was checked by the daemon it started (exit 1, "the daemon exited at
    start"); `--max-gpu-share nan` passed click's range and started one."""
    line = _fails(tmp_path / "home", "daemon", "start", "--devices", "cpu:1", *flag)
    assert says in line and not (tmp_path / "home").exists()


def test_a_group_without_its_command_prints_its_help_not_an_error(tmp_path: Path) -> None:
    """Its help, not an error line; on stderr with exit 2, for a script's
    `id=$(lstui submit $(ls jobs/*.toml))` of no file took the help as its id, exit 0."""
    code, out, err = cli_in_process(["submit"], tmp_path / "home")
    assert code == 2 and out == "" and err.startswith("Usage: lstui submit"), (code, out, err)


def test_a_folder_given_as_surface_file_is_called_a_folder(tmp_path: Path) -> None:
    assert _fails(tmp_path / "home", "export", str(tmp_path)).endswith(f"surface file '{tmp_path}' is a folder")


def test_logs_follow_says_when_no_daemon_computes_the_job(tmp_path: Path) -> None:
    """It printed the log and waited for ever, without a word."""
    import subprocess
    import sys

    home = tmp_path / "home"
    job = _submit(home, "--model", "mlp", "--x", "-1:1:3")
    proc = subprocess.Popen([sys.executable, "-m", "lstui.cli", "logs", str(job), "-f"], stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True, env={"LSTUI_HOME": str(home), "PATH": "/usr/bin:/bin"})
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
    finally:
        proc.kill()
        proc.wait()
    assert line.startswith(f"note: no daemon is running on this home: job {job} makes no progress")


def test_a_job_id_in_other_digits_and_an_empty_y_are_refused(tmp_path: Path) -> None:
    """`show １` (a full-width 1) showed job 1; `--y ""` queued a 1D job."""
    home = tmp_path / "home"
    _submit(home, "--model", "mlp", "--x", "-1:1:3")
    assert "job id '１'" in _fails(home, "show", "１")
    assert "--y '' is not a grid spec" in _fails(home, "submit", "surface", "--x", "-1:1:3", "--y", "")
    assert len(listed_jobs(home)) == 1


def test_a_target_with_weights_directions_of_a_batchnorm_net_says_x_1_is_not_b(tmp_path: Path) -> None:
    """``--target B`` with the default ``weights`` directions: at x = 1 the loss was 2.68
    where B's own is 1.03 (B's weights, A's BatchNorm statistics), and nothing said so."""
    for name, model, seed in (("a.pt", "cnn", 0), ("b.pt", "cnn", 1), ("ma.pt", "mlp", 0), ("mb.pt", "mlp", 1)):
        torch.manual_seed(seed)
        torch.save(build_model(model, input_shape=DIGITS).state_dict(), tmp_path / name)
    home = tmp_path / "home"
    grid = ("--x", "-0.5:1.5:5")
    code, _, err = cli_in_process(["submit", "surface", "--checkpoint", str(tmp_path / "a.pt"),
                                   "--target", str(tmp_path / "b.pt"), *grid], home)
    assert code == 0 and ("note: --target with --dir-type weights moves the weights only: at 1 the model has "
                          "b.pt's weights with the centre's BatchNorm statistics, not b.pt itself") in err, err
    for argv in (["--checkpoint", str(tmp_path / "a.pt"), "--target", str(tmp_path / "b.pt"), "--dir-type", "states"],
                 ["--checkpoint", str(tmp_path / "a.pt"), "--target", str(tmp_path / "b.pt"), "--bn", "recompute"],
                 ["--model", "mlp", "--checkpoint", str(tmp_path / "ma.pt"), "--target", str(tmp_path / "mb.pt")]):
        code, _, err = cli_in_process(["submit", "surface", *argv, *grid], home)
        assert code == 0 and "BatchNorm" not in err, (argv, err)  # B itself at 1: nothing to say
    # an interpolation asked for weights (its default is states) likewise
    ends = ("--checkpoint", str(tmp_path / "a.pt"), "--checkpoint-b", str(tmp_path / "b.pt"))
    code, _, err = cli_in_process(["submit", "interp", *ends, "--dir-type", "weights"], home)
    assert code == 0 and ("note: --checkpoint-b with --dir-type weights moves the weights only: at 1 the model "
                          "has b.pt's weights with A's BatchNorm statistics, not b.pt itself") in err, err
    code, _, err = cli_in_process(["submit", "interp", *ends], home)
    assert code == 0 and "BatchNorm" not in err, err
    # and the figure, which is what is kept, names what is at 1 (it named b)
    from lstui.scheduler.exporting import _endpoint_names

    saved = {"checkpoint": str(tmp_path / "a.pt"), "checkpoint_b": str(tmp_path / "b.pt"), "bn": "eval"}
    assert _endpoint_names({**saved, "dir_type": "weights"}) == ("a", "b's\nweights")
    assert _endpoint_names({**saved, "dir_type": "states"}) == ("a", "b")
    assert _endpoint_names({**saved, "dir_type": "weights", "bn": "recompute"}) == ("a", "b")
    mlp = {"checkpoint": str(tmp_path / "ma.pt"), "checkpoint_b": str(tmp_path / "mb.pt"), "dir_type": "weights"}
    assert _endpoint_names(mlp) == ("ma", "mb")


def test_an_unquoted_checkpoints_glob_is_said_to_need_quotes(tmp_path: Path) -> None:
    """The shell expanded `--checkpoints run/model_*.pt`: click's "Got unexpected extra
    arguments (…)" said nothing of why."""
    files = [tmp_path / f"model_{n}.pt" for n in (1, 2, 3)]
    line = _fails(tmp_path / "home", "submit", "trajectory", "--checkpoints", *map(str, files))
    assert line.startswith("lstui: error: Got unexpected extra arguments")
    assert line.endswith("(quote --checkpoints' glob, as in --checkpoints 'run/model_*.t7': the shell expanded it)")


def test_a_fifo_or_dev_null_as_checkpoint_is_not_called_missing(tmp_path: Path) -> None:
    """`--checkpoint /dev/null` (or a FIFO) said "no such file": it is there."""
    import os

    fifo = tmp_path / "fifo.pt"
    os.mkfifo(fifo)
    for path in (str(fifo), "/dev/null"):
        line = _fails(tmp_path / "home", "submit", "surface", "--model", "mlp", "--checkpoint", path, "--x", "-1:1:3")
        assert line == f"lstui: error: --checkpoint {path!r}: not a regular file"


def test_a_y_target_without_an_x_target_gives_a_random_x_as_the_reference_does(tmp_path: Path) -> None:
    """plot_surface.py --model_file3 without --model_file2: x random, y towards the third
    model. lstui refused it ("--target-y needs --target")."""
    from lstui.results import read_directions, read_surface

    a, b = _checkpoint(tmp_path, "a.pt", 0), _checkpoint(tmp_path, "b.pt", 1)
    out = tmp_path / "out"
    got, _, err = cli_in_process(["run", "surface", "--model", "cnn", "--data", "digits", "--subset", "64",
                                  "--checkpoint", str(a), "--model_file3", str(b),
                                  "--x", "-1:1:3", "--y", "0:1:2", "--out", str(out)], tmp_path / "home")
    assert got == 0, err
    x, y, _ = read_directions(out / "directions.h5")
    assert y is not None
    sa = torch.load(a)["state_dict"]
    sb = torch.load(b)["state_dict"]
    weights = [k for k, v in sa.items() if v.dtype.is_floating_point and "running" not in k]
    towards_b = [sb[k] - sa[k] for k in weights]
    assert len(y) == len(towards_b)
    for d, want in zip(y, towards_b):
        torch.testing.assert_close(torch.as_tensor(d).reshape(want.shape), want)
    assert any(float(torch.as_tensor(d).abs().sum()) > 0 for d in x)
    assert not all(torch.allclose(torch.as_tensor(dx).reshape(w.shape), w) for dx, w in zip(x, towards_b))
    # the point (0, 1) is model b itself: its loss is b's, as at b's own centre
    surface = read_surface(out / "surface.h5")
    b_out = tmp_path / "b_out"
    got, _, err = cli_in_process(["run", "surface", "--model", "cnn", "--data", "digits", "--subset", "64",
                                  "--checkpoint", str(b), "--x", "-1:1:3", "--out", str(b_out)], tmp_path / "home")
    assert got == 0, err
    at_b = read_surface(b_out / "surface.h5")
    assert abs(float(surface.arrays["train_loss"][1, 1]) - float(at_b.arrays["train_loss"][1])) < 1e-4


def test_a_grid_that_steps_over_the_centre_says_so(tmp_path: Path) -> None:
    """-1:1:2 (or :50) has no point at 0: the model itself is not on the grid, and a
    contour figure's "centre (0, 0)" cross sat on an interpolated plateau."""
    home = tmp_path / "home"
    code, _, err = cli_in_process(["submit", "surface", "--model", "mlp", "--x", "-1:1:2", "--y", "-1:1:3"], home)
    assert code == 0
    assert "note: --x -1:1:2 has no point at 0: the centre (the model itself) is not on the grid" in err
    for grid in (["--x", "-1:1:3"], ["--x", "0:1:2"], ["--x", "0.5:1:4"]):  # on the grid, or not in its range
        code, _, err = cli_in_process(["submit", "surface", "--model", "mlp", *grid], home)
        assert code == 0 and "no point at 0" not in err, grid


def test_a_grid_finer_than_float32_steps_the_weights_says_so(tmp_path: Path) -> None:
    """0:1e-12:5 passed every grid check and drew the weights' float32 rounding as a
    flat surface, with no word why."""
    home = tmp_path / "home"
    code, _, err = cli_in_process(["submit", "surface", "--model", "mlp", "--x", "0:1e-12:5",
                                   "--y", "-1:1:3"], home)
    assert code == 0
    assert ("note: --x 0:1e-12:5 steps by 2.5e-13 of the direction (scaled to the weights, or B − A): the "
            "weights, stepped in float32 (about 7 digits), change by a few of its roundings at most") in err
    assert "--y" not in err.split("float32")[0]
    for grid in (["--x", "0:1e-4:5"], ["--x", "0:1e-12:5", "--norm", "none"]):  # fine enough; unit directions
        code, _, err = cli_in_process(["submit", "surface", "--model", "mlp", *grid], home)
        assert code == 0 and "float32" not in err, grid


def test_a_trajectory_not_queued_leaves_no_plane_behind(tmp_path: Path) -> None:
    """A job file whose second trajectory was refused, and a submit that met a locked
    database, left the PCA plane they had made under ``trajectories/``, owned by no job
    (``rm`` never takes it), with a note naming it as a plane to use."""
    import sqlite3

    run = [_checkpoint(tmp_path, f"model_{n}.pt", seed=n) for n in range(3)]
    (tmp_path / "copies").mkdir()
    same = ",".join(str(shutil.copy(run[0], tmp_path / "copies" / f"copy_{n}.pt")) for n in range(3))
    home = tmp_path / "home"
    spec = tmp_path / "t.toml"
    spec.write_text(f'[defaults]\nkind = "trajectory"\nmodel = "cnn"\nsubset = "64"\nnum = 3\n\n'
                    f'[[job]]\nname = "good"\ncheckpoints = "{tmp_path}/model_*.pt"\n\n'
                    f'[[job]]\nname = "bad"\ncheckpoints = "{same}"\n')
    got, _, err = cli_in_process(["submit", str(spec)], home)
    assert got == 2 and "copy_0.pt and " in err and "hold the same model" in err, err  # found in its PCA
    assert "its PCA plane" not in err, err  # no note of a plane thrown away
    planes = home / "trajectories"
    assert not planes.exists() or not list(planes.iterdir()), list(planes.iterdir())
    assert not listed_jobs(home)

    holder = sqlite3.connect(home / "lstui.db", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        got, _, err = cli_in_process(["submit", "trajectory", "--model", "cnn", "--subset", "64", "--num", "3",
                                      "--checkpoints", f"{tmp_path}/model_*.pt"], home)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert got == 1 and "locked" in err and "its PCA plane" not in err, err
    assert not list(planes.iterdir()), list(planes.iterdir())
    # queued: the plane stays, named after the id
    got, out, err = cli_in_process(["submit", "trajectory", "--model", "cnn", "--subset", "64", "--num", "3",
                                    "--checkpoints", f"{tmp_path}/model_*.pt"], home)
    assert got == 0 and "its PCA plane" in err and len(list(planes.iterdir())) == 1, err


def test_a_copy_of_the_centre_given_as_the_other_end_is_refused_by_submit_run_and_compare(tmp_path: Path) -> None:
    """Only the same path was refused: a byte-identical copy of A as B (or as a target)
    drew a flat curve, and ``--target X --target-y X`` a plane that is a line."""
    import shutil

    a, b = _checkpoint(tmp_path, "a.pt", seed=0), _checkpoint(tmp_path, "b.pt", seed=1)
    copy = tmp_path / "copy_of_a.pt"
    shutil.copy(a, copy)
    home = tmp_path / "home"
    line = _fails(home, "submit", "interp", "--model", "cnn", "--checkpoint", str(a), "--checkpoint-b", str(copy))
    assert line == (f"lstui: error: --checkpoint-b {copy} holds the same model as --checkpoint {a} (every tensor "
                    "equal): the direction towards it would be zero; give another checkpoint")
    line = _fails(home, "submit", "surface", "--model", "cnn", "--checkpoint", str(a), "--target", str(b),
                  "--target-y", str(b), "--x", "-1:1:3", "--y", "-1:1:3")
    assert line.endswith("--target-y is the --target file itself: the two directions would be one; "
                         "give another checkpoint"), line
    line = _fails(home, "compare", "--model", "cnn", str(a), str(copy))  # no --checkpoint-b flag to name
    assert line == ("lstui: error: checkpoint 1 (a.pt) and checkpoint 2 (copy_of_a.pt) hold the same model: "
                    "there is nothing between them to interpolate; compare two minimizers"), line
    out = tmp_path / "out"
    line = _fails(home, "run", "surface", "--model", "cnn", "--subset", "64", "--checkpoint", str(a),
                  "--target", str(copy), "--x", "-1:1:3", "--out", str(out))
    assert line.endswith(f"--target {copy}: the direction towards it is zero (its weights are --checkpoint's; "
                         "--dir-type states moves BatchNorm's statistics too); give another checkpoint"), line
    assert not out.exists()
    assert not listed_jobs(home)
    _submit(home, "--model", "cnn", "--checkpoint", str(a), "--target", str(b), "--x", "-1:1:3")  # another model
    # A with other BatchNorm statistics: weights directions do not move them, states ones do
    state = torch.load(a)["state_dict"]
    recomputed = tmp_path / "a_recomputed.pt"
    torch.save({k: (v + 1 if k.endswith("running_mean") else v) for k, v in state.items()}, recomputed)
    ends = ("--model", "cnn", "--checkpoint", str(a), "--checkpoint-b", str(recomputed))
    line = _fails(home, "submit", "interp", *ends, "--dir-type", "weights")
    assert line == (f"lstui: error: --checkpoint-b {recomputed} holds the weights of --checkpoint {a}, with other "
                    "BatchNorm statistics (--dir-type states moves those too): the direction towards it would be "
                    "zero; give another checkpoint")
    code, _, err = cli_in_process(["submit", "interp", *ends], home)
    assert code == 0, err


def test_show_names_an_interpolations_b_and_a_surfaces_targets(tmp_path: Path) -> None:
    """`show` named A only: B was in `--json` alone (the TUI's job screen names it)."""
    a, b, c = (_checkpoint(tmp_path, f"{n}.pt", seed=k) for k, n in enumerate("abc"))
    home = tmp_path / "home"
    got, out, err = cli_in_process(["submit", "interp", "--model", "cnn", "--checkpoint", str(a),
                                    "--checkpoint-b", str(b)], home)
    assert got == 0, err
    shown = cli_in_process(["show", out.split()[-1], "--no-plot"], home)[1].splitlines()
    assert f"  ckpt B    {b}" in shown and shown.index(f"  ckpt B    {b}") == 1 + next(
        n for n, line in enumerate(shown) if line.startswith("  model "))
    job = _submit(home, "--model", "cnn", "--checkpoint", str(a), "--target", str(b), "--target-y", str(c),
                  "--x", "-1:1:3", "--y", "-1:1:3")
    shown = cli_in_process(["show", str(job), "--no-plot"], home)[1].splitlines()
    assert f"  target    {b}" in shown and f"  target y  {c}" in shown


def test_an_empty_lstui_home_a_folder_of_checkpoints_and_a_plain_pickle_are_one_clear_line(tmp_path: Path) -> None:
    """``LSTUI_HOME=$MISTYPED`` queued into ~/.local/share/lstui without a word (``--home
    ''`` was refused); ``--checkpoints run/`` said "needs at least 3 checkpoints, got 1";
    a ``pickle.dump`` of a state dict asked for ``--trust-checkpoint``, which then said
    "Invalid magic number"."""
    import pickle
    import subprocess

    from tests.cli.conftest import LSTUI

    empty = subprocess.run([*LSTUI, "ls"], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "LSTUI_HOME": "", "HOME": str(tmp_path)})
    assert empty.returncode == 2 and one_error_line(empty.stderr).startswith(
        "lstui: error: $LSTUI_HOME is set but empty; give a folder, or unset it"), empty.stderr
    assert not (tmp_path / ".local").exists()

    home = tmp_path / "home"
    run = tmp_path / "run"
    run.mkdir()
    assert _fails(home, "submit", "trajectory", "--checkpoints", f"{run}/") == (
        f"lstui: error: --checkpoints '{run}/' is a folder; give its checkpoints, as in "
        f"--checkpoints '{run}/model_*.t7' (quoted)")

    plain = tmp_path / "plain.pkl"
    with plain.open("wb") as f:
        pickle.dump(torch.load(_checkpoint(tmp_path, "a.pt"))["state_dict"], f)
    argv = ("run", "surface", "--model", "cnn", "--subset", "64", "--checkpoint", str(plain), "--x", "-1:1:3",
            "--no-figure", "--out", str(tmp_path / "out"))
    assert _fails(home, *argv) == (f"lstui: error: checkpoint '{plain}' is a plain pickle (pickle.dump), not a "
                                   "torch.save file; --trust-checkpoint loads it with pickle if you trust the file")
    got, _, err = cli_in_process([*argv, "--trust-checkpoint"], home)
    assert got == 0 and "warning" not in err, err
    # torch.save's own legacy format, pickled with protocol 4: not taken for a plain pickle
    import argparse

    legacy = tmp_path / "legacy.pt"
    torch.save({"state_dict": torch.load(plain.with_name("a.pt"))["state_dict"], "args": argparse.Namespace(lr=0.1)},
               legacy, _use_new_zipfile_serialization=False, pickle_protocol=4)
    line = _fails(home, *[str(legacy) if a == str(plain) else a for a in argv[:-1]], str(tmp_path / "out2"))
    assert "plain pickle" not in line and "--trust-checkpoint loads it" in line, line


def test_bn_recompute_of_a_model_without_batchnorm_says_it_does_nothing(tmp_path: Path) -> None:
    torch.manual_seed(0)
    plain = tmp_path / "mlp.pt"
    torch.save(build_model("mlp", input_shape=DIGITS).state_dict(), plain)
    home = tmp_path / "home"
    code, _, err = cli_in_process(["submit", "surface", "--model", "mlp", "--checkpoint", str(plain),
                                   "--x", "-1:1:3", "--bn", "recompute"], home)
    assert code == 0 and ("note: --bn recompute does nothing here: mlp.pt holds no BatchNorm statistics to "
                          "re-estimate") in err, err
    code, _, err = cli_in_process(["submit", "surface", "--checkpoint", str(_checkpoint(tmp_path, "cnn.pt")),
                                   "--x", "-1:1:3", "--bn", "recompute"], home)
    assert code == 0 and "does nothing" not in err, err


def test_a_y_given_without_x_names_xs_default(tmp_path: Path) -> None:
    """`--y -1:1:5` alone queued 51×5 points, x's default taken in silence."""
    home = tmp_path / "home"
    code, _, err = cli_in_process(["submit", "surface", "--model", "mlp", "--y", "-1:1:5"], home)
    assert code == 0 and "note: no --x given: x takes its default, -1:1:51" in err, err
    code, _, err = cli_in_process(["submit", "surface", "--model", "mlp", "--x", "-1:1:51", "--y", "-1:1:5"], home)
    assert code == 0 and "no --x given" not in err, err


def test_a_job_queued_again_with_the_same_numbers_to_compute_is_said(tmp_path: Path) -> None:
    """A sweep script run again after a crash queued each of its jobs twice, without a
    word; the name alone does not make a job another."""
    home = tmp_path / "home"
    a = _checkpoint(tmp_path, "a.pt")
    grid = ("--model", "cnn", "--checkpoint", str(a), "--x", "-1:1:3", "--subset", "64")
    first = _submit(home, *grid, "--name", "one")
    code, out, err = cli_in_process(["submit", "surface", *grid, "--name", "another name"], home)
    second = int(out)
    assert code == 0 and (f"note: job {first} (queued) computes the same numbers as job {second}: it computes "
                          f"them again (lstui cancel {second} takes it back)") in err.splitlines(), err
    for other in (("--seed", "7"), ("--x", "-1:1:5"), ("--split", "test")):  # other numbers: nothing said
        code, _, err = cli_in_process(["submit", "surface", *grid, *other], home)
        assert code == 0 and "computes the same numbers" not in err, (other, err)
    cli_in_process(["cancel", str(first)], home)
    spec = tmp_path / "sweep.toml"
    spec.write_text(f'[[job]]\nkind = "surface"\nmodel = "cnn"\ncheckpoint = "{a}"\nx = "-1:1:3"\nsubset = "64"\n')
    code, out, err = cli_in_process(["submit", str(spec)], home)
    assert code == 0 and f"note: job {second} (queued) computes the same numbers as job {int(out)}" in err, err


def test_a_comparison_queued_again_is_said_to_compute_the_same_numbers(tmp_path: Path) -> None:
    a, b = _checkpoint(tmp_path, "a.pt", seed=0), _checkpoint(tmp_path, "b.pt", seed=1)
    home = tmp_path / "home"
    argv = ["compare", str(a), str(b), "--model", "cnn", "--x", "-1:1:3", "--surface", "-1:1:3",
            "--interp-x", "0:1:3", "--subset", "64"]
    code, first, err = cli_in_process(argv, home)
    assert code == 0 and "compute the same numbers" not in err, err
    code, again, err = cli_in_process(argv, home)
    old, new = ([int(n) for n in out.split()] for out in (first, again))
    pairs = ", ".join(f"{n} as {o}" for n, o in zip(new[:-1], old[:-1], strict=True))  # not the figure job
    assert code == 0 and (f"note: earlier jobs compute the same numbers as 5 of this comparison's jobs ({pairs}): "
                          f"they are computed again (lstui cancel {' '.join(map(str, new))} takes the comparison "
                          "back)") in err.splitlines(), err
    code, third, err = cli_in_process(argv, home)  # named beside the newest run's, not the first's
    latest = [int(n) for n in third.split()]
    pairs = ", ".join(f"{n} as {o}" for n, o in zip(latest[:-1], new[:-1], strict=True))
    assert code == 0 and f"this comparison's jobs ({pairs})" in err, err


def test_the_same_numbers_check_reads_the_store_once_for_a_job_file_s_many_jobs(tmp_path: Path,
                                                                                 monkeypatch) -> None:
    """Each new job read every job of its kind: a 40-job file took 38-56 s on a store of
    15,000 surfaces (0.8 s on a small one)."""
    from lstui.landscape.grid import parse_axis
    from lstui.scheduler.submit import same_settings, submit_spec
    from lstui.spec import JobSpec

    with Store.open_home(tmp_path / "home") as store:
        def queue(seed: int) -> int:
            spec = JobSpec(kind="surface", model="mlp", x=parse_axis("-1:1:3"), seed=seed)
            return submit_spec(store, spec, check=False)

        old = [queue(seed) for seed in range(4)]
        new = [queue(seed) for seed in (2, 3, 9)]  # a sweep file run again, one job new
        reads: list[object] = []
        list_jobs = store.list_jobs
        monkeypatch.setattr(store, "list_jobs", lambda **kw: reads.append(kw) or list_jobs(**kw))
        found = same_settings(store, new)
    assert {k: [t.id for t in v] for k, v in found.items()} == {new[0]: [old[2]], new[1]: [old[3]], new[2]: []}
    assert reads == [{"kind": "surface"}]


def test_the_same_numbers_note_names_the_newest_earlier_jobs(tmp_path: Path) -> None:
    """It named the three oldest and hid the rest: a file queued again named its first runs,
    not the last one."""
    from lstui.landscape.grid import parse_axis
    from lstui.scheduler.submit import same_settings_notes, submit_spec
    from lstui.spec import JobSpec

    with Store.open_home(tmp_path / "home") as store:
        ids = [submit_spec(store, JobSpec(kind="surface", model="mlp", x=parse_axis("-1:1:3")), check=False)
               for _ in range(5)]
        notes = same_settings_notes(store, [ids[-1]], "lstui cancel {id}")
    assert notes == {ids[-1]: f"jobs … {ids[1]} (queued), {ids[2]} (queued), {ids[3]} (queued) compute the same "
                              f"numbers as job {ids[-1]}: it computes them again (lstui cancel {ids[-1]})"}


def test_a_job_file_s_jobs_get_the_notes_their_flags_get_once_each(tmp_path: Path) -> None:
    """A job from a file is the job the same flags give, but the flags' notes (a surface
    around its initialisation, a grid without 0) were not said for it."""
    home = tmp_path / "home"
    spec = tmp_path / "sweep.toml"
    spec.write_text("# a sweep\n[defaults]\nmodel = \"mlp\"\nsubset = \"50\"\n"
                    + "".join(f'[[job]]\nx = "-1:1:{n}"\n' for n in (3, 4, 5)))
    code, out, err = cli_in_process(["submit", str(spec)], home)
    assert code == 0 and len(out.split()) == 3, err
    first, second, third = map(int, out.split())
    lines = [line for line in err.splitlines() if line.startswith("note: job")]
    # by the jobs' ids: "sweep.toml job 1" read as job 1 of the store, another job
    assert lines[0].startswith(f"note: jobs {first}–{third}: no --checkpoint: the surface is "
                               "around mlp's initialisation (seed 123)"), err
    assert any(line.startswith(f"note: job {second}: --x -1:1:4 has no point at 0") for line in lines), err
    # a seed sweep: one note with its seeds, not one a job (100 lines for 100 seeds)
    seeds = tmp_path / "seeds.toml"
    seeds.write_text("[defaults]\nmodel = \"mlp\"\nsubset = \"50\"\nx = \"-1:1:3\"\n"
                     + "".join(f"[[job]]\nseed = {n}\n" for n in (1000, 1001, 1002, 1005)))
    code, out, err = cli_in_process(["submit", str(seeds)], home)
    ids = list(map(int, out.split()))
    notes = [line for line in err.splitlines() if "initialisation" in line]
    assert code == 0 and notes == [f"note: jobs {ids[0]}–{ids[-1]}: no --checkpoint: the surface is around mlp's "
                                   "initialisation (seeds 1000–1002, 1005), not a trained minimizer"], err
