import numpy as np
import pytest

from lstui.errors import GridError
from lstui.landscape.grid import SurfaceGrid, parse_axis, unit_sizes


def test_parse_axis_reads_min_max_num():
    axis = parse_axis("-1:1:51")
    assert (axis.min, axis.max, axis.num) == (-1.0, 1.0, 51)
    np.testing.assert_allclose(axis.coordinates, np.linspace(-1, 1, 51))
    assert str(axis) == "-1:1:51"


@pytest.mark.parametrize("text", ["-1:1:51.0", "-1:1:51.", "-1:1:5.1e1"])
def test_a_whole_count_written_as_a_float_is_taken_as_the_reference_takes_it(text):
    """The reference reads NUM as int(float(NUM)): --x=-1:1:51.0 from its command lines."""
    assert parse_axis(text) == parse_axis("-1:1:51")


@pytest.mark.parametrize("text", ["1:-1:5", "a:b:c", "-1:1:0", "-1:1:1.5", "-1:1:1.0", "-1:1", "", "0:0:5", "-1:1:1", "nan:1:3"])
def test_bad_grid_specs_say_what_is_accepted(text):
    with pytest.raises(GridError, match="MIN:MAX:NUM"):
        parse_axis(text)


def test_flat_index_order_is_row_major_over_y():
    grid = SurfaceGrid(parse_axis("0:4:5"), parse_axis("0:2:3"))
    assert grid.shape == (3, 5)
    # k = i*nx + j: x = xs[k % nx], y = ys[k // nx]
    assert grid.coordinates_of(0) == (0.0, 0.0)
    assert grid.coordinates_of(4) == (4.0, 0.0)
    assert grid.coordinates_of(5) == (0.0, 1.0)
    assert grid.coordinates_of(14) == (4.0, 2.0)


def test_coarse_to_fine_covers_every_point_once_coarse_first():
    grid = SurfaceGrid(parse_axis("-1:1:9"), parse_axis("-1:1:9"))
    order = grid.coarse_to_fine()
    assert sorted(order) == list(range(81))
    first = {divmod(k, 9) for k in order[:9]}
    # the first pass is every 4th point of both axes: the corners, edge midpoints and centre
    assert first == {(i, j) for i in (0, 4, 8) for j in (0, 4, 8)}
    units = grid.work_units(10)
    assert [len(u) for u in units] == [10] * 8 + [1]
    assert sum(units, []) == order
    tapered = grid.work_units(16, taper=4)  # a job's units by default: the last ones smaller
    assert [len(u) for u in tapered] == [16, 5, 8, 8, 8, 8, 4, 4, 4, 4, 2, 2, 2, 2, 1, 1, 1, 1]
    assert sum(tapered, []) == order


@pytest.mark.parametrize("points", [1, 5, 21, 60, 61, 441, 2601])
@pytest.mark.parametrize("chunk", [1, 2, 7, 16])
def test_unit_sizes_cover_the_points_and_end_in_single_points(points: int, chunk: int) -> None:
    sizes = unit_sizes(points, chunk, taper=4)
    assert sum(sizes) == points and max(sizes) <= chunk and min(sizes) >= 1
    assert sizes[-min(4, points):] == [1] * min(4, points)
    halving = sizes[-4 * (chunk - 1).bit_length():] if chunk > 1 and points >= 4 * (chunk - 1) else []
    assert all(a >= b for a, b in zip(halving, halving[1:]))  # the tail never grows
    assert unit_sizes(points, chunk) == [chunk] * (points // chunk) + ([points % chunk] if points % chunk else [])


def test_one_dimensional_grid():
    grid = SurfaceGrid(parse_axis("-0.5:1.5:41"))
    assert grid.shape == (41,) and grid.num_points == 41
    assert grid.coordinates_of(40) == (1.5, 0.0)
    assert sorted(grid.coarse_to_fine()) == list(range(41))


def test_a_grid_of_more_points_than_a_job_takes_is_refused_before_anything_is_made(tmp_path) -> None:
    """Each axis was capped, their product was not: 10001×10001 took 12 GB of memory at
    submit before anyone stopped it."""
    import pytest

    from lstui.errors import GridError
    from lstui.landscape.grid import MAX_POINTS, SurfaceGrid, parse_axis
    from lstui.spec import JobSpec
    from tests.faults.support import cli_in_process

    assert SurfaceGrid(parse_axis("-1:1:1001"), parse_axis("-1:1:1001")).num_points == MAX_POINTS
    with pytest.raises(GridError, match=r"is 1,003,002 points; one job takes at most 1,002,001"):
        JobSpec(model="mlp", x=parse_axis("-1:1:1002"), y=parse_axis("-1:1:1001")).checked_size()
    # a job queued before the cap (an older lstui allowed 10001 a side) is still read back
    stored = JobSpec.from_dict({"model": "mlp", "x": "-1:1:2001", "y": "-1:1:2001"}, check_files=False)
    assert stored.grid.num_points == 2001 * 2001
    code, _, err = cli_in_process(["submit", "surface", "--x", "-1:1:10001", "--y", "-1:1:10001"], tmp_path / "home")
    assert code == 2 and "100,020,001 points" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "home").exists()
    code, _, err = cli_in_process(["submit", "surface", "--x", "-1:1:-3"], tmp_path / "home")
    assert code == 2 and "NUM must be at least 2" in err


def test_a_grid_s_centre_is_zero_exactly_not_linspace_s_rounding():
    """-11.1:3.7:5 put its centre at 1.8e-15 (a trajectory's grid): "minimum at (0,
    8.88e-16)" on the figures, and the centre point was not quite the model."""
    from lstui.landscape.grid import Axis

    for axis in (Axis(-11.1, 3.7, 5), Axis(-0.141, 0.047, 5), Axis(-1.0, 1.0, 51)):
        values = axis.coordinates
        assert 0.0 in values.tolist() and np.count_nonzero(values == 0.0) == 1, values
        np.testing.assert_allclose(values, np.linspace(axis.min, axis.max, axis.num), rtol=0, atol=1e-12)
    assert 0.0 not in Axis(-1.0, 1.0, 4).coordinates.tolist()  # a grid with no point at 0 keeps none


def test_a_grid_whose_points_are_one_in_float32_is_refused_and_one_queued_before_still_shows(tmp_path) -> None:
    """±1e-320 was taken: every point the same model (the weights are stepped in float32),
    then `show` ended in plotext's OverflowError and the TUI's preview in one of its own
    (its aspect infinite), the shell seeing exit 0."""
    import pytest

    from lstui.errors import GridError
    from lstui.landscape.grid import parse_axis
    from lstui.spec import JobSpec
    from lstui.store import Store
    from lstui.tui.heatmap import fit
    from lstui.views import terminal_plot
    from tests.faults.support import cli_in_process

    for text, step in (("-1e-320:1e-320:3", "1e-320"), ("1:1.0000001:3", "5e-08"), ("-1e-300:1e-300:5", "5e-301")):
        with pytest.raises(GridError, match=rf"a step of {step} is lost in float32"):
            JobSpec(model="mlp", x=parse_axis("-1:1:3"), y=parse_axis(text)).checked_size()
    JobSpec(model="mlp", x=parse_axis("0:1e-30:3")).checked_size()  # tiny coordinates, distinct in float32
    code, _, err = cli_in_process(["submit", "surface", "--x=-1e-320:1e-320:3"], tmp_path / "home")
    assert code == 2 and "--x -1e-320:1e-320:3: a step of 1e-320 is lost in float32" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "home").exists()
    assert fit(2.0, 1e-320, 40, 10)[0] >= 1 and fit(1e-320, 2.0, 40, 10)[1] >= 1
    # one queued by an older lstui: read back, shown in a line instead of a plot
    home = tmp_path / "old"
    spec = JobSpec.from_dict({"model": "mlp", "x": "-1e-320:1e-320:3", "y": "-1:1:3"}, check_files=False)
    with Store.open_home(home) as store:
        job_id = store.add_job(kind="surface", name="tiny", spec=spec.to_dict(), total_points=9,
                               units=[list(range(9))], results_root=home / "results")
        shown = terminal_plot(store, store.get_job(job_id), color=False)
    assert shown == "(no terminal plot: its grid spans too little to draw: -1e-320 to 1e-320, -1 to 1)"


def test_a_minus_sign_copied_from_a_paper_is_read_as_a_hyphen():
    """"−1:1:5" (U+2212, as the README's prose and PDFs write it) was "not a grid spec"."""
    assert parse_axis("\u22121:1:5") == parse_axis("-1:1:5")
