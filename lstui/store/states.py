"""Job states and the one table of moves between them.

Every state change in the store goes through :func:`check_transition`, so the rules
below are the whole truth about what may happen to a job.
"""

from __future__ import annotations

from enum import Enum

from lstui.errors import InvalidTransition


class JobState(str, Enum):
    """The state of a job, with a Slurm-style two-letter code for compact listings."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def code(self) -> str:
        """Slurm's short code: PD, R, S, CD, F or CA."""
        return _CODES[self]

    @property
    def finished(self) -> bool:
        """True for states in which no work is done until a person acts (done, failed, cancelled)."""
        return self in FINISHED

    def __str__(self) -> str:
        return self.value


_CODES = {
    JobState.QUEUED: "PD",
    JobState.RUNNING: "R",
    JobState.PAUSED: "S",
    JobState.DONE: "CD",
    JobState.FAILED: "F",
    JobState.CANCELLED: "CA",
}

FINISHED = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED})
"""States that take no more work; ``lstui ls`` hides them unless asked."""

ACTIVE = frozenset({JobState.QUEUED, JobState.RUNNING})
"""States whose units workers may claim (once every dependency is done)."""

TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    # claimed by a worker / paused or cancelled by a person / its dependency failed
    JobState.QUEUED: frozenset(
        {JobState.RUNNING, JobState.PAUSED, JobState.CANCELLED, JobState.FAILED}
    ),
    # all units done / a unit failed too often / person / requeued after a daemon restart
    JobState.RUNNING: frozenset(
        {JobState.DONE, JobState.FAILED, JobState.CANCELLED, JobState.PAUSED, JobState.QUEUED}
    ),
    # resumed / cancelled / its dependency failed while it was paused
    JobState.PAUSED: frozenset({JobState.QUEUED, JobState.CANCELLED, JobState.FAILED}),
    # retry (computed points are kept)
    JobState.FAILED: frozenset({JobState.QUEUED}),
    JobState.CANCELLED: frozenset({JobState.QUEUED}),
    # final
    JobState.DONE: frozenset(),
}
"""Allowed moves: ``TRANSITIONS[old]`` holds every state a job in ``old`` may move to."""

_VERBS = {
    JobState.QUEUED: "queue",
    JobState.RUNNING: "start",
    JobState.PAUSED: "pause",
    JobState.DONE: "finish",
    JobState.FAILED: "fail",
    JobState.CANCELLED: "cancel",
}


def can_transition(old: JobState | str, new: JobState | str) -> bool:
    """Whether the table allows a job in ``old`` to move to ``new``."""
    return JobState(new) in TRANSITIONS[JobState(old)]


def check_transition(
    old: JobState | str,
    new: JobState | str,
    *,
    job_id: int | None = None,
    action: str | None = None,
) -> JobState:
    """Allow a move from ``old`` to ``new`` or say in one line why not.

    Args:
        old: the job's current state.
        new: the state asked for.
        job_id: named in the message when given.
        action: the verb a person used (``"retry"``, ``"resume"``); defaults to one
            derived from ``new``.

    Returns:
        ``new`` as a :class:`JobState`.

    Raises:
        InvalidTransition: for example ``job 4 is done; cannot pause it``.
    """
    old, new = JobState(old), JobState(new)
    if new not in TRANSITIONS[old]:
        who = f"job {job_id}" if job_id is not None else "the job"
        raise InvalidTransition(f"{who} is {old.value}; cannot {action or _VERBS[new]} it")
    return new


ACTIONS: dict[str, JobState] = {
    "cancel": JobState.CANCELLED,
    "pause": JobState.PAUSED,
    "resume": JobState.QUEUED,
    "retry": JobState.QUEUED,
}
"""What a person can do to a job, and the state each action asks for."""

QUEUED_BY: dict[JobState, str] = {
    JobState.PAUSED: "resume",
    JobState.FAILED: "retry",
    JobState.CANCELLED: "retry",
    JobState.RUNNING: "requeue",
}
"""What a move back to queued is called, by the state it leaves."""


def check_action(old: JobState | str, action: str, *, job_id: int | None = None) -> JobState:
    """Allow a person's ``action`` (a key of :data:`ACTIONS`) on a job in ``old``.

    Returns:
        The state the job moves to.

    Raises:
        InvalidTransition: ``job 4 is done; cannot pause it`` or, where another action
            would do, ``job 4 is paused; cannot retry it (resume it instead)``.
    """
    old = JobState(old)
    new = check_transition(old, ACTIONS[action], job_id=job_id, action=action)
    if new is JobState.QUEUED and QUEUED_BY.get(old) != action:
        who = f"job {job_id}" if job_id is not None else "the job"
        hint = f" ({QUEUED_BY[old]} it instead)" if QUEUED_BY.get(old) in ACTIONS else ""
        if old is JobState.RUNNING:  # (the daemon requeues; a person has no such command)
            hint = " (it runs; pause and resume it to queue it again)"
        raise InvalidTransition(f"{who} is {old.value}; cannot {action} it{hint}")
    return new


def check_priority_change(state: JobState | str, *, job_id: int | None = None) -> None:
    """Allow a new priority unless the job can never run again (it is done).

    Raises:
        InvalidTransition: for example ``job 4 is done; cannot change its priority``.
    """
    state = JobState(state)
    if not TRANSITIONS[state]:
        who = f"job {job_id}" if job_id is not None else "the job"
        raise InvalidTransition(f"{who} is {state.value}; cannot change its priority")
