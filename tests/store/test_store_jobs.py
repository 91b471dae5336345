"""Jobs, units, points and leases in one process, on real SQLite files."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lstui.errors import InvalidTransition, JobNotFound
from lstui.store import ACTIONS, JobState, PointRow, Store, check_action
from tests.store.support import FakeClock, add_job, finish_job


def test_job_runs_from_queued_to_done(store: Store, tmp_path: Path, clock: FakeClock) -> None:
    job = add_job(store, tmp_path, points=4, unit_size=2, name="resnet56 small batch")
    row = store.get_job(job)
    assert (row.state, row.code, row.total_points, row.done_points) == (
        JobState.QUEUED,
        "PD",
        4,
        0,
    )
    assert row.results_dir == (tmp_path / "results" / "00001-resnet56-small-batch").absolute()
    worker = store.register_worker("cuda:0", 123, "gpu1")

    clock.advance(1)
    first = store.claim_unit(worker, lease_s=30)
    assert first is not None
    assert (first.job_id, first.seq, first.indices, first.todo, first.attempts) == (
        job,
        0,
        (0, 1),
        (0, 1),
        1,
    )
    assert first.kind == "surface" and first.spec["model"] == "resnet56"
    assert first.results_dir == row.results_dir
    assert first.lease_expires == clock.now + 30
    running = store.get_job(job)
    assert (running.state, running.started, running.attempts, running.device) == (
        JobState.RUNNING,
        clock.now,
        1,
        "cuda:0",
    )

    assert store.write_points(first.unit_id, worker, [PointRow(0, 2.5, 0.1, 2.6, 0.09)]) == 1
    assert store.write_points(first.unit_id, worker, [PointRow(1, 2.0, 0.2, 2.1, 0.19)]) == 1
    assert store.complete_unit(first.unit_id, worker)
    assert store.get_job(job).state is JobState.RUNNING

    second = store.claim_unit(worker, lease_s=30)
    assert second is not None and second.indices == (2, 3)
    store.write_points(second.unit_id, worker, [PointRow(2, 1.0), PointRow(3, 1.5, None, 1.6)])
    clock.advance(5)
    assert store.complete_unit(second.unit_id, worker)

    done = store.get_job(job)
    assert (done.state, done.finished, done.done_points, done.progress) == (
        JobState.DONE,
        clock.now,
        4,
        1.0,
    )
    assert store.points(job) == [
        PointRow(0, 2.5, 0.1, 2.6, 0.09),
        PointRow(1, 2.0, 0.2, 2.1, 0.19),
        PointRow(2, 1.0, None, None, None),
        PointRow(3, 1.5, None, 1.6, None),
    ]
    assert store.point_count(job) == 4
    assert store.claim_unit(worker, lease_s=30) is None
    assert [e.message for e in store.events(job)] == [
        "queued: 4 points in 2 units",
        "started by worker 1",
        "done",
    ]


def test_units_are_claimed_in_the_callers_order(store: Store, tmp_path: Path) -> None:
    coarse_to_fine = [[0, 8], [4], [2, 6], [1, 3, 5, 7]]
    job = store.add_job(
        kind="interp",
        name="coarse",
        spec={},
        total_points=9,
        units=coarse_to_fine,
        results_root=tmp_path,
    )
    worker = store.register_worker("cpu", 1, "h")
    order = []
    while (claim := store.claim_unit(worker, lease_s=10)) is not None:
        order.append(list(claim.indices))
        store.write_points(claim.unit_id, worker, [PointRow(i) for i in claim.indices])
        store.complete_unit(claim.unit_id, worker)
    assert order == coarse_to_fine
    assert [u.seq for u in store.units(job)] == [0, 1, 2, 3]
    assert store.job_state(job) is JobState.DONE


def test_higher_priority_runs_first_then_the_older_job(
    store: Store, tmp_path: Path, clock: FakeClock
) -> None:
    old_low = add_job(store, tmp_path, points=1)
    clock.advance(1)
    new_high = add_job(store, tmp_path, points=1, priority=5)
    clock.advance(1)
    newer_high = add_job(store, tmp_path, points=1, priority=5)
    clock.advance(1)
    newest_low = add_job(store, tmp_path, points=1)
    worker = store.register_worker("cpu", 1, "h")
    claims = [store.claim_unit(worker, lease_s=10) for _ in range(4)]
    assert [c.job_id for c in claims if c] == [new_high, newer_high, old_low, newest_low]


def test_an_older_job_resumed_does_not_take_the_workers_of_a_running_one_of_its_priority(
    store: Store, tmp_path: Path, clock: FakeClock
) -> None:
    """A retried or resumed older job took the workers of the newer one running ("queued
    again: its workers went to job 14"), though the two had the same priority: what has
    started finishes first; a higher priority still goes before it."""
    older = add_job(store, tmp_path, points=2)
    clock.advance(1)
    newer = add_job(store, tmp_path, points=2)
    store.pause(older)
    worker = store.register_worker("cpu", 1, "h")
    first = store.claim_unit(worker, lease_s=10)
    assert first is not None and first.job_id == newer
    store.resume(older)
    assert store.job_state(older) is JobState.QUEUED
    store.write_points(first.unit_id, worker, [PointRow(i, 1.0) for i in first.todo])
    assert store.complete_unit(first.unit_id, worker)
    then = store.claim_unit(worker, lease_s=10)
    assert then is not None and then.job_id == newer, "the running job's next unit"
    assert store.job_state(newer) is JobState.RUNNING and store.job_state(older) is JobState.QUEUED
    store.write_points(then.unit_id, worker, [PointRow(i, 1.0) for i in then.todo])
    assert store.complete_unit(then.unit_id, worker)
    last = store.claim_unit(worker, lease_s=10)
    assert last is not None and last.job_id == older


def test_set_priority_reorders_the_queue(store: Store, tmp_path: Path, clock: FakeClock) -> None:
    first = add_job(store, tmp_path, points=1)
    clock.advance(1)
    second = add_job(store, tmp_path, points=1)
    store.set_priority(second, 10)
    assert store.get_job(second).priority == 10
    claim = store.claim_unit(store.register_worker("cpu", 1, "h"), lease_s=10)
    assert claim is not None and claim.job_id == second
    assert store.job_state(first) is JobState.QUEUED


def test_claim_can_be_limited_to_some_jobs(store: Store, tmp_path: Path) -> None:
    add_job(store, tmp_path, points=1, priority=9)
    wanted = add_job(store, tmp_path, points=1)
    worker = store.register_worker("cpu", 1, "h")
    claim = store.claim_unit(worker, lease_s=10, job_ids=[wanted])
    assert claim is not None and claim.job_id == wanted
    assert store.claim_unit(worker, lease_s=10, job_ids=[wanted]) is None
    assert store.claim_unit(worker, lease_s=10, job_ids=[]) is None


def test_dependencies_block_claims_until_done(store: Store, tmp_path: Path) -> None:
    base = add_job(store, tmp_path, points=2)
    other = add_job(store, tmp_path, points=1)
    after = add_job(store, tmp_path, points=1, priority=100, depends_on=[base, other])
    assert store.dependencies(after) == [base, other]
    assert store.jobs_waiting_on(base) == [after]
    assert store.get_job(after).depends_on == (base, other)
    worker = store.register_worker("cpu", 1, "h")

    assert store.claim_unit(worker, lease_s=10, job_ids=[after]) is None
    finish_job(store, worker, base)
    assert store.claim_unit(worker, lease_s=10, job_ids=[after]) is None  # other not done
    finish_job(store, worker, other)
    claim = store.claim_unit(worker, lease_s=10)
    assert claim is not None and claim.job_id == after


def test_unknown_dependency_is_refused(store: Store, tmp_path: Path) -> None:
    with pytest.raises(JobNotFound, match="job 42 does not exist"):
        add_job(store, tmp_path, depends_on=[42])
    assert store.list_jobs() == []


def test_failed_dependency_leaves_the_dependant_waiting_until_failed_in_turn(
    store: Store, tmp_path: Path
) -> None:
    base = add_job(store, tmp_path, points=1)
    child = add_job(store, tmp_path, points=1, depends_on=[base])
    grandchild = add_job(store, tmp_path, points=1, depends_on=[child])
    unrelated = add_job(store, tmp_path, points=1)
    store.pause(grandchild)
    store.fail_job(base, "CUDA out of memory")

    assert store.job_state(child) is JobState.QUEUED
    worker = store.register_worker("cpu", 1, "h")
    claim = store.claim_unit(worker, lease_s=10)
    assert claim is not None and claim.job_id == unrelated

    assert store.fail_dependants(base) == [child, grandchild]
    assert store.get_job(child).error == "dependency 1 failed: CUDA out of memory"
    assert store.get_job(grandchild).state is JobState.FAILED
    assert store.get_job(grandchild).error == (
        "dependency 2 failed: dependency 1 failed: CUDA out of memory"
    )
    assert store.fail_dependants(base) == []  # nothing left to fail
    assert store.job_state(unrelated) is JobState.RUNNING


def test_cancelled_dependency_fails_its_dependants(store: Store, tmp_path: Path) -> None:
    base = add_job(store, tmp_path)
    child = add_job(store, tmp_path, depends_on=[base])
    assert store.fail_dependants(base) == []  # base is only queued
    store.cancel(base)
    assert store.fail_dependants(base) == [child]
    assert store.get_job(child).error == "dependency 1 was cancelled"


def test_expired_lease_lets_another_worker_claim(
    store: Store, tmp_path: Path, clock: FakeClock
) -> None:
    job = add_job(store, tmp_path, points=3, unit_size=3)
    slow = store.register_worker("cuda:0", 1, "h")
    fast = store.register_worker("cuda:1", 2, "h")
    first = store.claim_unit(slow, lease_s=10)
    assert first is not None
    store.write_points(first.unit_id, slow, [PointRow(0, 1.0)])
    clock.advance(5)
    assert store.claim_unit(fast, lease_s=10) is None
    assert store.renew_lease(first.unit_id, slow, lease_s=10)
    clock.advance(11)

    taken = store.claim_unit(fast, lease_s=10)
    assert taken is not None
    assert (taken.unit_id, taken.attempts, taken.todo) == (first.unit_id, 2, (1, 2))
    assert not store.renew_lease(first.unit_id, slow, lease_s=10)
    assert store.write_points(first.unit_id, slow, [PointRow(1, 7.0)]) == 1  # kept
    assert not store.complete_unit(first.unit_id, slow)
    assert not store.release_unit(first.unit_id, slow)
    assert not store.fail_unit(first.unit_id, slow, "boom")

    assert store.write_points(taken.unit_id, fast, [PointRow(1, 9.0), PointRow(2, 2.0)]) == 1
    assert store.complete_unit(taken.unit_id, fast)
    assert [p.train_loss for p in store.points(job)] == [1.0, 7.0, 2.0]
    assert store.get_job(job).device == "cuda:0,cuda:1"
    assert "unit 0 requeued: its lease expired (worker 1)" in [e.message for e in store.events(job)]


def test_requeue_expired_takes_back_only_expired_leases(
    store: Store, tmp_path: Path, clock: FakeClock
) -> None:
    add_job(store, tmp_path, points=2)
    worker = store.register_worker("cpu", 1, "h")
    short = store.claim_unit(worker, lease_s=5)
    long = store.claim_unit(worker, lease_s=50)
    assert short is not None and long is not None
    clock.advance(10)
    assert store.requeue_expired() == 1
    states = {u.id: u.state for u in store.units(short.job_id)}
    assert states == {short.unit_id: "pending", long.unit_id: "leased"}


def test_a_point_is_stored_once(store: Store, tmp_path: Path) -> None:
    job = add_job(store, tmp_path, points=2, unit_size=2)
    worker = store.register_worker("cpu", 1, "h")
    claim = store.claim_unit(worker, lease_s=10)
    assert claim is not None
    assert store.write_points(claim.unit_id, worker, [PointRow(0, 1.0), PointRow(0, 5.0)]) == 1
    assert store.write_points(claim.unit_id, worker, [PointRow(0, 3.0), PointRow(1, 2.0)]) == 1
    assert store.points(job) == [PointRow(0, 1.0), PointRow(1, 2.0)]
    assert store.point_count(job) == store.get_job(job).done_points == 2


def test_nan_is_stored_as_missing(store: Store, tmp_path: Path) -> None:
    job = add_job(store, tmp_path, points=1)
    worker = store.register_worker("cpu", 1, "h")
    claim = store.claim_unit(worker, lease_s=10)
    assert claim is not None
    store.write_points(claim.unit_id, worker, [PointRow(0, float("nan"), float("inf"))])
    assert store.points(job) == [PointRow(0, None, float("inf"))]


def test_points_outside_the_unit_and_incomplete_units_are_bugs(
    store: Store, tmp_path: Path
) -> None:
    add_job(store, tmp_path, points=4, unit_size=2)
    worker = store.register_worker("cpu", 1, "h")
    claim = store.claim_unit(worker, lease_s=10)
    assert claim is not None
    with pytest.raises(ValueError, match="point 3 is not part of unit 1"):
        store.write_points(claim.unit_id, worker, [PointRow(0), PointRow(3)])
    store.write_points(claim.unit_id, worker, [PointRow(0)])
    with pytest.raises(ValueError, match="lacks 1 points"):
        store.complete_unit(claim.unit_id, worker)
    assert store.units(claim.job_id)[0].state == "leased"


def test_points_since_returns_only_new_points(store: Store, tmp_path: Path) -> None:
    job = add_job(store, tmp_path, points=4, unit_size=4)
    worker = store.register_worker("cpu", 1, "h")
    claim = store.claim_unit(worker, lease_s=10)
    assert claim is not None
    assert store.points_since(job, 0) == ([], 0)
    store.write_points(claim.unit_id, worker, [PointRow(3, 3.0), PointRow(1, 1.0)])
    new, cursor = store.points_since(job, 0)
    assert [p.idx for p in new] == [3, 1]
    store.write_points(claim.unit_id, worker, [PointRow(0, 0.0), PointRow(1, 9.0)])
    new, cursor = store.points_since(job, cursor)
    assert [p.idx for p in new] == [0]
    assert store.points_since(job, cursor) == ([], cursor)


def test_fail_unit_requeues_until_max_attempts_then_fails_the_job(
    store: Store, tmp_path: Path
) -> None:
    job = add_job(store, tmp_path, points=2)
    worker = store.register_worker("cpu", 1, "h")
    for attempt in (1, 2):
        claim = store.claim_unit(worker, lease_s=10)
        assert claim is not None and (claim.seq, claim.attempts) == (0, attempt)
        assert store.fail_unit(claim.unit_id, worker, "ValueError: bad batch") is False
        assert store.units(job)[0].state == "pending"
    other = store.register_worker("cpu", 2, "h")
    claim = store.claim_unit(worker, lease_s=10)
    bystander = store.claim_unit(other, lease_s=10)
    assert claim is not None and claim.attempts == 3
    assert bystander is not None and bystander.seq == 1
    assert store.fail_unit(claim.unit_id, worker, "ValueError: bad batch") is True

    row = store.get_job(job)
    assert row.state is JobState.FAILED
    assert row.error == "unit 0 failed 3 times: ValueError: bad batch"
    assert [u.state for u in store.units(job)] == ["failed", "pending"]
    assert store.units(job)[0].last_error == "ValueError: bad batch"
    assert not store.renew_lease(bystander.unit_id, other, lease_s=10)
    assert store.claim_unit(other, lease_s=10) is None


def test_release_unit_does_not_count_an_attempt(store: Store, tmp_path: Path) -> None:
    job = add_job(store, tmp_path, points=1)
    worker = store.register_worker("cpu", 1, "h")
    for _ in range(5):
        claim = store.claim_unit(worker, lease_s=10)
        assert claim is not None and claim.attempts == 1
        assert store.release_unit(claim.unit_id, worker)
    assert store.units(job)[0].attempts == 0


def test_a_unit_that_kills_its_worker_three_times_fails_the_job(
    store: Store, tmp_path: Path
) -> None:
    job = add_job(store, tmp_path, points=2)
    for attempt in (1, 2, 3):
        worker = store.register_worker("cuda:0", 100 + attempt, "h")
        claim = store.claim_unit(worker, lease_s=10)
        assert claim is not None and (claim.seq, claim.attempts) == (0, attempt)
        # the worker dies; the daemon notices
        assert store.recover_orphans(live_worker_ids=[]) == 1
    row = store.get_job(job)
    assert row.state is JobState.FAILED
    assert row.error is not None
    assert row.error.startswith("unit 0 lost its worker 3 times, last because its worker died")
    assert [u.state for u in store.units(job)] == ["failed", "pending"]


def test_recover_orphans_keeps_live_leases_and_requeues_idle_running_jobs(
    store: Store, tmp_path: Path
) -> None:
    kept = add_job(store, tmp_path, points=1)
    orphaned = add_job(store, tmp_path, points=1)
    alive = store.register_worker("cuda:0", 1, "h")
    dead = store.register_worker("cuda:1", 2, "h")
    live_claim = store.claim_unit(alive, lease_s=10, job_ids=[kept])
    dead_claim = store.claim_unit(dead, lease_s=10, job_ids=[orphaned])
    assert live_claim is not None and dead_claim is not None

    assert store.recover_orphans(live_worker_ids=[alive]) == 1
    assert store.job_state(kept) is JobState.RUNNING
    assert store.job_state(orphaned) is JobState.QUEUED
    assert store.units(orphaned)[0].state == "pending"
    assert store.renew_lease(live_claim.unit_id, alive, lease_s=10)
    again = store.claim_unit(alive, lease_s=10)
    assert again is not None and (again.job_id, again.attempts) == (orphaned, 2)
    assert store.get_job(orphaned).started is not None


def test_recover_workers_takes_back_only_the_named_dead_and_a_newcomer_keeps_its_unit(
    store: Store, tmp_path: Path
) -> None:
    first = add_job(store, tmp_path, points=1)
    second = add_job(store, tmp_path, points=1)
    dead = store.register_worker("cpu", 2, "h")
    dead_claim = store.claim_unit(dead, lease_s=10, job_ids=[first])
    newcomer = store.register_worker("cpu", 3, "h")  # registered after the caller looked
    new_claim = store.claim_unit(newcomer, lease_s=10, job_ids=[second])
    assert dead_claim is not None and new_claim is not None

    assert store.recover_workers([dead]) == 1
    assert store.units(first)[0].state == "pending"
    assert store.job_state(first) is JobState.QUEUED
    assert store.units(second)[0].state == "leased"
    assert store.renew_lease(new_claim.unit_id, newcomer, lease_s=10)


def _job_in(store: Store, tmp_path: Path, state: JobState) -> int:
    job = add_job(store, tmp_path, points=2)
    worker = store.register_worker("cpu", 1, "h")
    if state is JobState.RUNNING:
        store.claim_unit(worker, lease_s=10, job_ids=[job])
    elif state is JobState.PAUSED:
        store.pause(job)
    elif state is JobState.DONE:
        finish_job(store, worker, job)
    elif state is JobState.FAILED:
        store.fail_job(job, "boom")
    elif state is JobState.CANCELLED:
        store.cancel(job)
    assert store.job_state(job) is state
    return job


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("state", list(JobState))
def test_lifecycle_actions_follow_the_table(
    store: Store, tmp_path: Path, state: JobState, action: str
) -> None:
    job = _job_in(store, tmp_path, state)
    try:
        expected = check_action(state, action, job_id=job)
    except InvalidTransition as refusal:
        with pytest.raises(InvalidTransition) as err:
            getattr(store, action)(job)
        assert str(err.value) == str(refusal)
        assert store.job_state(job) is state
    else:
        getattr(store, action)(job)
        assert store.job_state(job) is expected


def test_pause_takes_leases_back_and_resume_makes_the_job_claimable(
    store: Store, tmp_path: Path
) -> None:
    job = add_job(store, tmp_path, points=2)
    worker = store.register_worker("cpu", 1, "h")
    claim = store.claim_unit(worker, lease_s=10)
    assert claim is not None
    store.pause(job)
    assert store.job_state(job) is JobState.PAUSED
    assert not store.renew_lease(claim.unit_id, worker, lease_s=10)
    assert store.claim_unit(worker, lease_s=10) is None
    assert [(u.state, u.attempts) for u in store.units(job)] == [("pending", 0), ("pending", 0)]
    store.resume(job)
    again = store.claim_unit(worker, lease_s=10)
    assert again is not None and (again.seq, again.attempts) == (0, 1)


def test_retry_keeps_points_and_restarts_failed_units(store: Store, tmp_path: Path) -> None:
    job = add_job(store, tmp_path, points=3)
    worker = store.register_worker("cpu", 1, "h")
    done = store.claim_unit(worker, lease_s=10)
    assert done is not None
    store.write_points(done.unit_id, worker, [PointRow(0, 1.0)])
    store.complete_unit(done.unit_id, worker)
    for _ in range(3):
        claim = store.claim_unit(worker, lease_s=10)
        assert claim is not None and claim.seq == 1
        store.write_points(claim.unit_id, worker, [PointRow(1, 2.0)])  # partial progress
        store.fail_unit(claim.unit_id, worker, "boom")
    assert store.job_state(job) is JobState.FAILED

    store.retry(job)
    row = store.get_job(job)
    assert (row.state, row.error, row.finished, row.done_points) == (JobState.QUEUED, None, None, 2)
    assert [(u.state, u.attempts, u.last_error) for u in store.units(job)] == [
        ("done", 1, None),
        ("pending", 0, None),
        ("pending", 0, None),
    ]
    claim = store.claim_unit(worker, lease_s=10)
    assert claim is not None and (claim.seq, claim.todo) == (1, ())
    assert store.complete_unit(claim.unit_id, worker)
    finish_job(store, worker, job)
    assert store.job_state(job) is JobState.DONE
    assert store.get_job(job).attempts == 2


def test_done_job_keeps_its_priority(store: Store, tmp_path: Path) -> None:
    job = _job_in(store, tmp_path, JobState.DONE)
    with pytest.raises(InvalidTransition, match="job 1 is done; cannot change its priority"):
        store.set_priority(job, 3)


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.get_job(99),
        lambda s: s.job_state(99),
        lambda s: s.cancel(99),
        lambda s: s.pause(99),
        lambda s: s.resume(99),
        lambda s: s.retry(99),
        lambda s: s.set_priority(99, 1),
        lambda s: s.fail_job(99, "x"),
        lambda s: s.fail_dependants(99),
        lambda s: s.dependencies(99),
        lambda s: s.jobs_waiting_on(99),
        lambda s: s.set_job_device(99, "cuda:0"),
        lambda s: s.add_event(99, "info", "x"),
        lambda s: s.units(99),
    ],
)
def test_unknown_job_is_reported(store: Store, call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(JobNotFound, match="^job 99 does not exist$"):
        call(store)


@pytest.mark.parametrize(
    "units,total,message",
    [
        ([[0], [1]], 3, "point 2 is in no unit"),
        ([[0, 1], [1, 2]], 3, "point 1 is in more than one unit"),
        ([[0, 5]], 2, "outside"),
        ([[0], []], 1, "unit 1 is empty"),
    ],
)
def test_units_must_cover_every_point_once(
    store: Store, tmp_path: Path, units: list[list[int]], total: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        store.add_job(
            kind="surface",
            name="x",
            spec={},
            total_points=total,
            units=units,
            results_root=tmp_path,
        )
    assert store.list_jobs() == []


def test_list_jobs_hides_finished_and_keeps_the_newest(store: Store, tmp_path: Path) -> None:
    jobs = [_job_in(store, tmp_path, state) for state in JobState]
    assert [j.id for j in store.list_jobs()] == jobs
    assert [j.state for j in store.list_jobs(include_finished=False)] == [
        JobState.QUEUED,
        JobState.RUNNING,
        JobState.PAUSED,
    ]
    assert [j.id for j in store.list_jobs(limit=2)] == jobs[-2:]
    assert store.count_jobs() == len(jobs)


def test_jobs_version_moves_with_the_jobs_and_not_with_heartbeats_or_leases(
    store: Store, tmp_path: Path, clock: FakeClock
) -> None:
    """SQLite's data_version moved with every heartbeat and lease renewal, so the
    daemon and the TUI read every job again twice a second while anything ran."""
    before = store.jobs_version()
    job = add_job(store, tmp_path, points=2)
    queued = store.jobs_version()
    assert queued > before
    worker = store.register_worker("cpu", 10, "host")
    claim = store.claim_unit(worker, lease_s=30)
    assert claim is not None
    claimed = store.jobs_version()
    assert claimed > queued
    for _ in range(3):
        clock.advance(5)
        store.heartbeat(worker, current_job=job)
        assert store.renew_lease(claim.unit_id, worker, 30)
        store.add_event(job, "info", "a line of the job's log")
    assert store.jobs_version() == claimed
    store.write_points(claim.unit_id, worker, [PointRow(claim.todo[0], 1.0)])
    assert store.jobs_version() > claimed
    with Store(store.path) as other:  # another connection's change counts too
        seen = other.jobs_version()
        store.act("pause", [job])
        assert other.jobs_version() > seen


def test_list_jobs_keeps_finished_jobs_after_a_moment(store: Store, tmp_path: Path, clock: FakeClock) -> None:
    worker = store.register_worker("cpu", 10, "host")
    old = add_job(store, tmp_path)
    finish_job(store, worker, old)
    clock.advance(100)
    recent = add_job(store, tmp_path)
    finish_job(store, worker, recent)
    waiting = add_job(store, tmp_path)
    assert [j.id for j in store.list_jobs(finished_after=clock.now - 50)] == [recent, waiting]
    assert [j.id for j in store.list_jobs()] == [old, recent, waiting]
    assert [j.id for j in store.list_jobs(finished_after=clock.now - 50, limit=1)] == [waiting]


def test_list_jobs_of_one_kind(store: Store, tmp_path: Path, clock: FakeClock) -> None:
    """submit's same-numbers check reads only the jobs of the new job's kind."""
    worker = store.register_worker("cpu", 10, "host")
    old = add_job(store, tmp_path)
    finish_job(store, worker, old)
    clock.advance(100)
    interp = store.add_job(kind="interp", name="i", spec={"model": "resnet56", "x": [0.0, 1.0, 3]},
                           total_points=3, units=[[0, 1, 2]], results_root=tmp_path / "results")
    recent = add_job(store, tmp_path)
    finish_job(store, worker, recent)
    waiting = add_job(store, tmp_path)
    assert [j.id for j in store.list_jobs(kind="surface")] == [old, recent, waiting]
    assert [j.id for j in store.list_jobs(kind="interp")] == [interp]
    assert [j.id for j in store.list_jobs(kind="trajectory")] == []
    assert [j.id for j in store.list_jobs(kind="surface", include_finished=False)] == [waiting]
    assert [j.id for j in store.list_jobs(kind="surface", finished_after=clock.now - 50)] == [recent, waiting]


def test_the_wal_file_is_cut_back_after_a_big_write(store: Store, tmp_path: Path) -> None:
    """The WAL file kept its largest size for good (10 MB after 9,500 jobs)."""
    from lstui.store._store import WAL_SIZE_LIMIT

    add_job(store, tmp_path, points=300_000, unit_size=1)  # one big transaction
    wal = store.path.with_name(store.path.name + "-wal")
    assert wal.stat().st_size > 2 * WAL_SIZE_LIMIT
    store.add_event(None, "info", "a small write after the checkpoint")
    assert wal.stat().st_size <= WAL_SIZE_LIMIT


def test_remove_jobs_keeps_what_a_job_left_is_drawn_from_and_never_gives_an_id_again(
    store: Store, tmp_path: Path, clock: FakeClock
) -> None:
    from lstui.errors import InvalidTransition
    from lstui.scheduler.prune import finished_before

    worker = store.register_worker("cpu", 10, "host")
    curve, surface = add_job(store, tmp_path), add_job(store, tmp_path)
    figures = add_job(store, tmp_path, depends_on=[curve, surface])
    finish_job(store, worker, curve)
    finish_job(store, worker, surface)
    early = clock.now
    clock.advance(10)
    finish_job(store, worker, figures)
    last = add_job(store, tmp_path)
    finish_job(store, worker, last)
    with pytest.raises(InvalidTransition, match=rf"job {figures} is drawn from job {curve}: remove it too "
                                                rf"\(lstui rm {curve} {figures}\) or keep job {curve}"):
        store.remove_jobs([curve])
    # the command it gives does what was asked: the ids given, and the jobs drawn from them
    with pytest.raises(InvalidTransition, match=rf"\(lstui rm {curve} {figures} {last}\)"):
        store.remove_jobs([last, curve])
    assert [j.id for j in store.list_jobs()] == [curve, surface, figures, last]  # all or none
    assert finished_before(store, clock.now + 1) == ([curve, surface, figures, last], [])
    # the curves are old, the figures drawn from them are not: the curves are kept
    assert finished_before(store, early + 5) == ([], [curve, surface])
    removed = store.remove_jobs([figures, curve, surface, last])
    assert [j.id for j in removed] == [curve, surface, figures, last]
    assert store.list_jobs() == [] and store.points(curve) == []
    assert add_job(store, tmp_path) == last + 1  # SQLite alone would give `last` again


def test_a_removed_job_s_late_point_lands_nowhere_and_a_worker_still_on_it_holds_it(
    store: Store, tmp_path: Path, clock: FakeClock
) -> None:
    """A worker writes the point in hand after a cancel: with its job removed, its unit
    id could be a new job's (SQLite gives the last rowid again), and the point land there."""
    from lstui.errors import InvalidTransition

    worker = store.register_worker("cpu", 10, "host")
    job = add_job(store, tmp_path, points=2)
    claim = store.claim_unit(worker, lease_s=30)
    assert claim is not None
    store.heartbeat(worker, current_job=job)
    store.cancel(job)
    with pytest.raises(InvalidTransition, match=rf"job {job} is still in worker {worker}'s hands"):
        store.remove_jobs([job])
    clock.advance(60)  # its worker has moved on (no word from it holding the job)
    store.remove_jobs([job])
    newer = add_job(store, tmp_path, points=2)
    assert all(u > claim.unit_id for u in
               [c.unit_id for c in iter(lambda: store.claim_unit(worker, lease_s=30), None)])
    assert store.write_points(claim.unit_id, worker, [PointRow(claim.todo[0], 9.0)]) == 0
    assert store.points(newer) == []


def test_events_can_be_read_incrementally(store: Store, tmp_path: Path) -> None:
    job = add_job(store, tmp_path)
    daemon = store.add_event(None, "info", "daemon started on cuda:0,cuda:1")
    mine = store.add_event(job, "warning", "slow data loading")
    assert [e.id for e in store.events()] == [1, daemon, mine]
    assert [e.message for e in store.events(job, after_id=1)] == ["slow data loading"]
    assert store.events(None, after_id=0, limit=1)[0].message.startswith("queued")
    assert store.events(job, after_id=mine) == []
    with pytest.raises(ValueError, match="event level"):
        store.add_event(job, "loud", "x")


def test_a_running_job_whose_last_worker_leaves_goes_back_to_the_queue(store: Store, tmp_path: Path) -> None:
    """A Ray worker whose cluster went away gives its unit back and ends: its job stayed
    "running" with nobody computing it. Another worker that retires while one is between
    two units of the job leaves it running."""
    job = add_job(store, tmp_path, points=4)
    a, b, c = (store.register_worker("ray:x", pid, "h") for pid in (10, 11, 12))
    first = store.claim_unit(a, lease_s=60)
    assert first is not None
    store.write_points(first.unit_id, a, [PointRow(i, 1.0, 50.0) for i in first.todo])
    store.complete_unit(first.unit_id, a)  # a is between two units of the job
    store.retire_worker(b)  # an idle worker leaves
    assert store.get_job(job).state is JobState.RUNNING
    second, third = store.claim_unit(a, lease_s=60), store.claim_unit(c, lease_s=60)
    assert second is not None and third is not None
    store.release_unit(second.unit_id, a, leaving=True)
    assert store.get_job(job).state is JobState.RUNNING  # c still computes it
    store.release_unit(third.unit_id, c, leaving=True)
    assert store.get_job(job).state is JobState.QUEUED
    assert store.events(job)[-1].message == "requeued: no worker holds it"


def test_workers_register_beat_and_retire(store: Store, clock: FakeClock) -> None:
    a = store.register_worker("cuda:0", 10, "gpu1")
    b = store.register_worker("cuda:1", 11, "gpu1")
    clock.advance(20)
    store.heartbeat(a, current_job=None)
    assert [w.id for w in store.workers(alive_within_s=10)] == [a]
    store.retire_worker(a)
    assert store.workers(alive_within_s=10) == []
    rows = store.workers()
    assert [(w.id, w.device, w.pid, w.host, w.state) for w in rows] == [
        (a, "cuda:0", 10, "gpu1", "retired"),
        (b, "cuda:1", 11, "gpu1", "alive"),
    ]
    assert rows[0].heartbeat == clock.now and rows[1].heartbeat == rows[1].started


def test_heartbeat_records_the_current_job(store: Store, tmp_path: Path) -> None:
    job = add_job(store, tmp_path)
    worker = store.register_worker("cuda:0", 10, "gpu1")
    store.heartbeat(worker, current_job=job)
    assert store.workers()[0].current_job == job
    store.set_job_device(job, "cuda:3")
    assert store.get_job(job).device == "cuda:3"


def test_meta_keeps_daemon_facts(store: Store) -> None:
    assert store.get_meta("daemon_pid") is None
    store.set_meta("daemon_pid", "123")
    store.set_meta("daemon_pid", "456")
    assert store.get_meta("daemon_pid") == "456"


def test_an_action_on_several_jobs_changes_all_or_none(store: Store, tmp_path: Path) -> None:
    """`lstui cancel A B` checked both, then changed each in a transaction of its own: a
    job that changed state between the two left A cancelled and B as it was."""
    a, b = add_job(store, tmp_path, points=2), add_job(store, tmp_path, points=2)
    store.pause(b)
    with pytest.raises(InvalidTransition):
        store.act("pause", [a, b])  # b is paused already
    assert store.get_job(a).state is JobState.QUEUED
    store.act("cancel", [a, b])
    assert {store.get_job(j).state for j in (a, b)} == {JobState.CANCELLED}


def test_diverged_points_are_counted_in_sqlite_by_the_splits_evaluated(tmp_path: Path) -> None:
    """NaN is stored as NULL and inf as inf; a split not evaluated (NULL) does not count."""
    from tests.store.support import add_job

    with Store.open_home(tmp_path / "home") as store:
        job = add_job(store, tmp_path, points=5, unit_size=5)
        worker = store.register_worker("cpu", 1, "h")
        claim = store.claim_unit(worker, lease_s=60)
        assert claim is not None
        inf, nan = float("inf"), float("nan")
        store.write_points(claim.unit_id, worker, [
            PointRow(0, 1.0, 50.0, 2.0, 40.0), PointRow(1, nan, nan, 2.0, 40.0),
            PointRow(2, inf, 10.0, None, None), PointRow(3, 1.0, 50.0, -inf, 40.0), PointRow(4, 1.0, 50.0),
        ])
        assert store.diverged_count(job, ["train"]) == 2
        assert store.diverged_count(job, ["test"]) == 3  # 2's and 4's test split not evaluated: NULL
        assert store.diverged_count(job, ["train", "test"]) == 4
        with pytest.raises(ValueError):
            store.diverged_count(job, ["train_loss; DROP TABLE points"])


@contextmanager
def _held(db: Path, seconds: float) -> Iterator[None]:
    """Another process holds ``db``'s write lock (``BEGIN EXCLUSIVE``) for ``seconds``,
    from when this is entered; on leaving, it has let go."""
    import subprocess
    import sys

    hold = ("import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE'); print('held', flush=True); time.sleep(float(sys.argv[2]))\n"
            "c.execute('COMMIT')\n")
    holder = subprocess.Popen([sys.executable, "-c", hold, str(db), str(seconds)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.wait(seconds + 10)


def test_a_lease_run_out_behind_another_process_s_lock_is_left_to_its_worker(tmp_path: Path) -> None:
    """A 40 s hold of the database (another process's BEGIN EXCLUSIVE) kept a live worker
    from renewing its lease; the daemon, let in after the same wait, took the unit back
    and counted a try: three such holds failed a healthy job. A store that has just
    waited for a lock gives leases that much longer; one that has not, none."""

    home = tmp_path / "home"
    with Store.open_home(home) as store:
        add_job(store, tmp_path, points=1)
        worker = store.register_worker("cpu", 1, "h")
        assert store.claim_unit(worker, lease_s=1.0) is not None
    waited, fresh = Store.open_home(home), Store.open_home(home)
    with _held(home / "lstui.db", 7):
        assert waited.requeue_expired() == 0, "its renewal waited behind the same lock"
    assert fresh.requeue_expired() == 1  # no wait seen: run out is run out
    waited.close()
    fresh.close()


def test_the_grace_after_a_hold_is_as_long_as_the_hold(tmp_path: Path) -> None:
    """A flat 30 s grace let a hold of a minute take a live worker's unit all the same:
    its renewal waited as long as the hold lasted."""

    home = tmp_path / "home"
    clock = FakeClock()
    with Store.open_home(home, clock=clock) as store:
        add_job(store, tmp_path, points=1)
        worker = store.register_worker("cpu", 1, "h")
        assert store.claim_unit(worker, lease_s=1.0) is not None  # expires at clock + 1
    waited = Store.open_home(home, clock=clock)
    with _held(home / "lstui.db", 7):
        clock.advance(37)  # the hold as the leases see it: longer than 30 s past the expiry
        assert waited.requeue_expired() == 0, "a hold of ~7 s and 30 s more: not yet"
    clock.advance(10)
    assert waited.requeue_expired() == 1
    waited.close()


def test_jobs_queued_together_are_all_kept_or_none(store: Store, tmp_path: Path) -> None:
    """A set of jobs (a comparison's, a job file's) interrupted half way was half queued."""
    with pytest.raises(KeyboardInterrupt), store.together():
        first = add_job(store, tmp_path, name="a")
        with store.together():  # (nested: the same transaction)
            add_job(store, tmp_path, name="b", depends_on=[first])
        raise KeyboardInterrupt
    assert store.list_jobs() == [] and not store.events()
    with store.together():
        first = add_job(store, tmp_path, name="a")
        add_job(store, tmp_path, name="b", depends_on=[first])
    assert [(j.name, j.depends_on) for j in store.list_jobs()] == [("a", ()), ("b", (first,))]
    add_job(store, tmp_path, name="c")  # (a write of its own again)
    assert len(store.list_jobs()) == 3
