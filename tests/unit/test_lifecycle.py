"""The state machine as a pure table: (state, event) -> (state, actions)."""

from __future__ import annotations

import pytest

from corral.lifecycle import (
    ALIVE,
    DOWN,
    Action,
    Decision,
    Event,
    InvalidTransition,
    RestartRules,
    State,
    decide,
)
from corral.model import RestartPolicy
from harness import REPO

ROWS = [
    (State.STOPPED, Event.START, State.STARTING, (Action.SPAWN,)),
    (State.EXITED, Event.START, State.STARTING, (Action.SPAWN,)),
    (State.CRASHED, Event.START, State.STARTING, (Action.SPAWN,)),
    (State.STARTING, Event.READY, State.READY, ()),
    (State.STARTING, Event.PROBE_FAILED, State.RUNNING, ()),
    (State.RUNNING, Event.READY, State.READY, ()),
    (State.READY, Event.STOP, State.STOPPING, (Action.RECLAIM,)),
    (State.STARTING, Event.STOP, State.STOPPING, (Action.RECLAIM,)),
    (State.STOPPING, Event.EXIT, State.STOPPING, ()),
    (State.STOPPING, Event.RECLAIMED, State.STOPPED, ()),
    (State.BACKOFF, Event.STOP, State.STOPPED, (Action.CANCEL_RESTART,)),
    (State.BACKOFF, Event.BACKOFF_ELAPSED, State.STARTING, (Action.SPAWN,)),
    (State.BACKOFF, Event.START, State.STARTING, (Action.CANCEL_RESTART, Action.SPAWN)),
    (State.STOPPED, Event.STOP, State.STOPPED, ()),
    (State.EXITED, Event.STOP, State.EXITED, ()),
    (State.COMPLETED, Event.START, State.STARTING, (Action.SPAWN,)),
    (State.COMPLETED, Event.STOP, State.STOPPED, ()),
]


@pytest.mark.parametrize(("state", "event", "next_state", "actions"), ROWS)
def test_transition_table(
    state: State, event: Event, next_state: State, actions: tuple[Action, ...]
) -> None:
    assert decide(state, event) == Decision(next_state, actions)


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (State.STOPPED, Event.READY),
        (State.READY, Event.START),
        (State.STOPPING, Event.START),
        (State.EXITED, Event.BACKOFF_ELAPSED),
        (State.STOPPED, Event.RECLAIMED),
    ],
)
def test_invalid_events_are_refused(state: State, event: Event) -> None:
    with pytest.raises(InvalidTransition):
        decide(state, event)


@pytest.mark.parametrize("state", sorted(ALIVE))
def test_exit_without_restart_policy_is_exited(state: State) -> None:
    assert decide(state, Event.EXIT, failed=True) == Decision(State.EXITED)


def test_a_oneshot_completes_on_exit_0_and_fails_by_its_policy_otherwise() -> None:
    rules = RestartRules(RestartPolicy.ON_FAILURE, oneshot=True)
    assert decide(State.STARTING, Event.EXIT, rules, failed=False).state is State.COMPLETED
    assert decide(State.STARTING, Event.EXIT, rules, failed=True).state is State.BACKOFF
    assert decide(State.STARTING, Event.EXIT, RestartRules(oneshot=True), failed=True).state is (
        State.EXITED
    )


def test_on_failure_restarts_only_failures() -> None:
    rules = RestartRules(RestartPolicy.ON_FAILURE)
    assert decide(State.READY, Event.EXIT, rules, failed=False).state is State.EXITED
    restart = decide(State.READY, Event.EXIT, rules, failed=True, now=100)
    assert restart == Decision(State.BACKOFF, (Action.SCHEDULE_RESTART,), 0.5)


def test_backoff_doubles_with_recent_exits_and_is_capped() -> None:
    rules = RestartRules(RestartPolicy.ALWAYS, limit=100, first_delay=0.5, max_delay=4)
    delays = [
        decide(State.READY, Event.EXIT, rules, recent_exits=[99.0] * n, now=100).delay
        for n in range(6)
    ]
    assert delays == [0.5, 1, 2, 4, 4, 4]


def test_limit_exits_within_the_window_mark_the_service_crashed() -> None:
    rules = RestartRules(RestartPolicy.ALWAYS, limit=5, window=60)
    four_recent = [50.0, 60.0, 70.0, 80.0]
    assert decide(State.READY, Event.EXIT, rules, recent_exits=four_recent, now=100).state is (
        State.CRASHED
    )
    old = [1.0, 2.0, 3.0, 4.0]  # outside the window: they do not count
    assert decide(State.READY, Event.EXIT, rules, recent_exits=old, now=100).state is State.BACKOFF


def test_every_state_has_a_way_out_to_stopped() -> None:
    for state in State:
        path = [state]
        current = state
        for _ in range(3):
            if current is State.STOPPED:
                break
            event = Event.RECLAIMED if current is State.STOPPING else Event.STOP
            current = decide(current, event).state
            if current in DOWN and current is not State.STOPPED:
                break
            path.append(current)
        assert current in DOWN, path


def test_the_design_page_shows_the_generated_state_machine() -> None:
    """docs/design.md's transition block is ``lifecycle.diagram()`` (regenerate it with
    ``python -c 'from corral.lifecycle import diagram; print(diagram(), end="")'``)."""

    from corral.lifecycle import diagram

    page = (REPO / "docs" / "design.md").read_text()
    block = page.split("<!-- transitions: begin -->\n```\n", 1)[1].split("```\n", 1)[0]
    assert block == diagram()


def test_the_diagram_s_exit_outcomes_are_what_decide_says() -> None:
    from corral.lifecycle import EXIT_OUTCOMES, RestartRules, decide
    from corral.model import RestartPolicy

    cases = {
        "exit 0 of a oneshot": (RestartRules(oneshot=True), False, ()),
        "policy says restart": (RestartRules(RestartPolicy.ALWAYS), False, ()),
        "restart limit reached": (RestartRules(RestartPolicy.ALWAYS, limit=2), False, (1.0,)),
        "policy says no": (RestartRules(), True, ()),
    }
    for why, expected in EXIT_OUTCOMES:
        rules, failed, recent = cases[why]
        decided = decide(State.READY, Event.EXIT, rules, failed=failed, recent_exits=recent, now=2)
        assert (decided.state, decided.actions) == (expected.state, expected.actions), why
