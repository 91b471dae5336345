"""The one table of job state moves, and the lines it answers with."""

from __future__ import annotations

import itertools

import pytest

from lstui.errors import InvalidTransition
from lstui.store import TRANSITIONS, JobState, check_action, check_transition
from lstui.store.states import check_priority_change

ALLOWED = {
    (JobState.QUEUED, JobState.RUNNING),
    (JobState.QUEUED, JobState.PAUSED),
    (JobState.QUEUED, JobState.CANCELLED),
    (JobState.QUEUED, JobState.FAILED),
    (JobState.RUNNING, JobState.DONE),
    (JobState.RUNNING, JobState.FAILED),
    (JobState.RUNNING, JobState.CANCELLED),
    (JobState.RUNNING, JobState.PAUSED),
    (JobState.RUNNING, JobState.QUEUED),
    (JobState.PAUSED, JobState.QUEUED),
    (JobState.PAUSED, JobState.CANCELLED),
    (JobState.PAUSED, JobState.FAILED),
    (JobState.FAILED, JobState.QUEUED),
    (JobState.CANCELLED, JobState.QUEUED),
}


@pytest.mark.parametrize("old,new", list(itertools.product(JobState, JobState)))
def test_every_allowed_move_passes_and_every_other_raises(old: JobState, new: JobState) -> None:
    if (old, new) in ALLOWED:
        assert check_transition(old, new, job_id=1) is new
    else:
        with pytest.raises(InvalidTransition, match=rf"^job 1 is {old.value}; cannot "):
            check_transition(old, new, job_id=1)


def test_table_is_the_documented_one() -> None:
    assert {(o, n) for o, news in TRANSITIONS.items() for n in news} == ALLOWED
    assert TRANSITIONS[JobState.DONE] == frozenset()


def test_refusal_is_one_readable_line() -> None:
    with pytest.raises(InvalidTransition) as err:
        check_action(JobState.DONE, "pause", job_id=4)
    assert str(err.value) == "job 4 is done; cannot pause it"


def test_states_accept_their_string_values() -> None:
    assert check_transition("queued", "running") is JobState.RUNNING
    assert JobState("paused") is JobState.PAUSED
    assert str(JobState.CANCELLED) == "cancelled"


def test_short_codes_follow_slurm() -> None:
    assert [s.code for s in JobState] == ["PD", "R", "S", "CD", "F", "CA"]


@pytest.mark.parametrize(
    "old,action,message",
    [
        (JobState.PAUSED, "retry", "job 2 is paused; cannot retry it (resume it instead)"),
        (JobState.FAILED, "resume", "job 2 is failed; cannot resume it (retry it instead)"),
        (JobState.RUNNING, "retry", "job 2 is running; cannot retry it (it runs; pause and resume it to queue it again)"),
        (JobState.QUEUED, "resume", "job 2 is queued; cannot resume it"),
        (JobState.DONE, "retry", "job 2 is done; cannot retry it"),
        (JobState.CANCELLED, "cancel", "job 2 is cancelled; cannot cancel it"),
    ],
)
def test_actions_refuse_with_a_hint(old: JobState, action: str, message: str) -> None:
    with pytest.raises(InvalidTransition) as err:
        check_action(old, action, job_id=2)
    assert str(err.value) == message


def test_actions_move_where_they_say() -> None:
    assert check_action(JobState.FAILED, "retry") is JobState.QUEUED
    assert check_action(JobState.CANCELLED, "retry") is JobState.QUEUED
    assert check_action(JobState.PAUSED, "resume") is JobState.QUEUED
    assert check_action(JobState.RUNNING, "pause") is JobState.PAUSED
    assert check_action(JobState.QUEUED, "cancel") is JobState.CANCELLED


def test_only_a_done_job_keeps_its_priority() -> None:
    for state in JobState:
        if state is JobState.DONE:
            with pytest.raises(
                InvalidTransition, match="job 3 is done; cannot change its priority"
            ):
                check_priority_change(state, job_id=3)
        else:
            check_priority_change(state, job_id=3)
