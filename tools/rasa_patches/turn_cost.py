"""Patch 6 of `tools.rasa_patches` (issue 15; README "Where a turn's time goes"): a turn costs the same at
turn 200 as at turn 2."""

from __future__ import annotations

import itertools
import json
import operator
from collections import OrderedDict, deque
from typing import Any, Callable, Deque, Dict, List, Optional, Text, Tuple

from tools.rasa_patches.originals import RASA_ORIGINALS as _RASA_ORIGINALS

# -- a turn costs the same at turn 200 as at turn 2 (issue 15; README, "Where a turn's time goes") ----


def copy_tracker(self: Any) -> Any:
    """`DialogueStateTracker.copy` without replaying every event (stores/tracker_cache.py)."""
    from stores.tracker_cache import copy_tracker as structural_copy

    return structural_copy(self)


def _events_for_action(tracker: Any, action_name: str) -> List[Any]:
    """The events `action_name` reads (actions/history.py): from the latest user message on, or all."""
    from rasa.shared.core.events import UserUttered

    from actions.history import FULL_HISTORY_ACTIONS

    events = tracker.events
    if action_name in FULL_HISTORY_ACTIONS:
        return list(events)
    start = len(events)
    for event in reversed(events):
        start -= 1
        if isinstance(event, UserUttered):
            break
    else:
        start = 0  # no user message yet: the whole (short) history
    return list(itertools.islice(events, start, None))


class _StatesFold:
    """`Domain.states_for_tracker_history`'s loop stopped after `applied` events: the tracker it replayed,
    its variables and its latest `STATES_KEPT` states (of `count` so far), so the next turn's call goes on
    from there instead of from the first event."""

    __slots__ = ("domain", "applied", "tracker", "states", "count", "last_ml_action_sub_state", "turn_was_hidden")

    def __init__(self, tracker: Any, domain: Any = None) -> None:
        self.domain = domain
        self.applied: List[Any] = []
        self.tracker = tracker.init_copy()
        self.states: Deque[Any] = deque(maxlen=STATES_KEPT)
        self.count = 0
        self.last_ml_action_sub_state: Any = None
        self.turn_was_hidden = False


_STATES_FOLDS: "OrderedDict[Any, _StatesFold]" = OrderedDict()
STATES_FOLDS_KEPT = 256
# States kept per conversation (and kind of states): more than the policies' windows (policy_window.py),
# so a long conversation holds a few kB here, not all its states in every kept conversation.
STATES_KEPT = 64


def _fold_step(domain: Any, fold: Any, tracker: Any, hide_rule_turn: bool, states: Any, flags: Any) -> bool:
    """One pass of Rasa's loop body (rasa/shared/core/domain.py, `states_for_tracker_history`), with the
    loop's variables on `fold` and the state appended to `states`; False for a hidden turn (no state)."""
    omit_unset_slots, ignore_rule_only_turns, rule_only_data = flags
    if ignore_rule_only_turns:
        if not fold.turn_was_hidden:
            fold.last_ml_action_sub_state = domain._get_prev_action_sub_state(tracker)
        if not tracker.followup_action and not tracker.latest_action_name == tracker.active_loop_name:
            fold.turn_was_hidden = hide_rule_turn
        if fold.turn_was_hidden:
            return False
    state = domain.get_active_state(tracker, omit_unset_slots=omit_unset_slots)
    if ignore_rule_only_turns:
        domain._remove_rule_only_features(state, rule_only_data)
        if states:
            domain._substitute_rule_only_user_input(state, states[-1])
        if fold.last_ml_action_sub_state:
            state["prev_action"] = fold.last_ml_action_sub_state
    states.append(domain._clean_state(state))
    return True


def _resumed_fold(
    domain: Any, tracker: Any, omit_unset_slots: bool, ignore_rule_only_turns: bool, rule_only_data: Any
) -> Tuple[_StatesFold, Tuple[Any, ...]]:
    """The conversation's fold, gone on over the tracker's applied events not seen yet (or started anew
    when the tracker does not continue the events seen: the same event objects, in order)."""
    from rasa.shared.core.events import ActionExecuted

    applied = tracker.applied_events()
    flags = (omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    rule_only = json.dumps(rule_only_data, sort_keys=True, default=str)  # RulePolicy builds it anew each call
    key = (tracker.sender_id, omit_unset_slots, ignore_rule_only_turns, rule_only)
    fold = _STATES_FOLDS.pop(key, None)
    seen = len(fold.applied) if fold is not None else 0
    if fold is None or fold.domain is not domain or not _begins_with(applied, fold.applied):
        fold, seen = _StatesFold(tracker, domain), 0
    for event in applied[seen:]:
        if isinstance(event, ActionExecuted):
            fold.count += _fold_step(domain, fold, fold.tracker, event.hide_rule_turn, fold.states, flags)
        fold.tracker.update(event)
    fold.applied = applied
    _STATES_FOLDS[key] = fold
    while len(_STATES_FOLDS) > STATES_FOLDS_KEPT:
        _STATES_FOLDS.popitem(last=False)
    return fold, flags


def _with_last_state(domain: Any, fold: _StatesFold, flags: Tuple[Any, ...], keep: Optional[int] = None) -> List[Any]:
    """The fold's states and the state after every event (the loop's last pass, on copies: the fold
    stays before it); only the latest `keep` of them when given."""
    states = list(fold.states)  # STATES_KEPT at most
    last = _StatesFold.__new__(_StatesFold)
    last.last_ml_action_sub_state, last.turn_was_hidden = fold.last_ml_action_sub_state, fold.turn_was_hidden
    _fold_step(domain, last, fold.tracker, False, states, flags)
    return states if keep is None else states[max(0, len(states) - keep) :]


def states_for_tracker_history_resumed(
    self: Any,
    tracker: Any,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: Optional[Dict[Text, Any]] = None,
) -> List[Any]:
    """Rasa's `Domain.states_for_tracker_history`, going on from where the previous call for this
    conversation stopped when the tracker's applied events begin with the ones seen then (the same
    event objects: the tracker store and tracker copies share them). The states are those Rasa's loop
    gives; only the loop over the events already seen is skipped. Past `STATES_KEPT` states the fold
    no longer holds them all, and Rasa's own loop runs from the first event (the policies ask for
    their window only: `latest_states`)."""
    fold, flags = _resumed_fold(self, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    if fold.count > len(fold.states):
        return _RASA_ORIGINALS["states_for_tracker_history"](
            self, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data
        )
    return _with_last_state(self, fold, flags)


def latest_states(
    domain: Any,
    tracker: Any,
    count: int,
    ignore_rule_only_turns: bool = False,
    rule_only_data: Optional[Dict[Text, Any]] = None,
) -> Optional[List[Any]]:
    """The last `count` of the states `Domain.states_for_tracker_history` gives (all of them when there
    are fewer), or None when `count` is more than the fold keeps (STATES_KEPT)."""
    if count > STATES_KEPT:
        return None
    fold, flags = _resumed_fold(domain, tracker, False, ignore_rule_only_turns, rule_only_data)
    return _with_last_state(domain, fold, flags, count)


def _begins_with(events: Any, seen: List[Any]) -> bool:
    """Whether `events` begin with the very event objects of `seen` (compared in C: ~0.1 ms for 2,500)."""
    return len(events) >= len(seen) and all(map(operator.is_, seen, events))


class _AppliedFold:
    """`DialogueStateTracker.applied_events`' loop stopped after the events `seen`."""

    __slots__ = ("seen", "applied", "loop_names")

    def __init__(self, events: Any, applied: List[Any], loop_names: Any) -> None:
        self.seen, self.applied, self.loop_names = list(events), applied, loop_names


_APPLIED_FOLDS: "OrderedDict[Any, _AppliedFold]" = OrderedDict()


def applied_events_resumed(self: Any) -> List[Any]:
    """Rasa's `DialogueStateTracker.applied_events` (the events not undone by a revert, restart or
    session start), going on from the previous call for this conversation when the tracker's events
    begin with the ones seen then (the same event objects) and name no new loop; else Rasa's loop
    from the first event. Returns a new list, as Rasa's does."""
    from rasa.shared.core.events import (
        ActionExecuted,
        ActionReverted,
        ActiveLoop,
        Restarted,
        SessionStarted,
        UserUtteranceReverted,
        UserUttered,
    )

    events = self.events
    fold = _APPLIED_FOLDS.pop(self.sender_id, None)
    resumable = fold is not None and _begins_with(events, fold.seen)
    new = list(itertools.islice(events, len(fold.seen), None)) if resumable and fold is not None else None
    names = {e.name for e in new or () if isinstance(e, ActiveLoop) and e.name}
    if fold is None or new is None or not names <= fold.loop_names:
        new, applied = list(events), []
        loop_names = frozenset(e.name for e in events if isinstance(e, ActiveLoop) and e.name)
    else:
        applied, loop_names = list(fold.applied), fold.loop_names
    for event in new:  # Rasa's loop body
        if isinstance(event, (Restarted, SessionStarted)):
            applied = []
        elif isinstance(event, ActionReverted):
            self._undo_till_previous(ActionExecuted, applied)
        elif isinstance(event, UserUtteranceReverted):
            self._undo_till_previous(UserUttered, applied)
            self._undo_till_previous(ActionExecuted, applied)
        elif (
            isinstance(event, ActionExecuted)
            and event.action_name in loop_names
            and not self._first_loop_execution_or_unhappy_path(event.action_name, applied)
        ):
            self._undo_till_previous_loop_execution(event.action_name, applied)
        else:
            applied.append(event)
    _APPLIED_FOLDS[self.sender_id] = _AppliedFold(events, applied, loop_names)
    while len(_APPLIED_FOLDS) > STATES_FOLDS_KEPT:
        _APPLIED_FOLDS.popitem(last=False)
    return list(applied)


class _WhenLogged:
    """A debug log's value, built only if the log is written: `render(value)` then, never before."""

    __slots__ = ("value", "render")

    def __init__(self, value: Any, render: Callable[[Any], Any]) -> None:
        self.value, self.render = value, render

    def __repr__(self) -> str:
        rendered = self.render(self.value)
        return rendered if isinstance(rendered, str) else repr(rendered)

    __str__ = __repr__

    def __deepcopy__(self, memo: Any) -> "_WhenLogged":
        return self  # rendered (synchronously) by the log call that received it, or never


class _LogArgumentCopies:
    """What `copy` is to rasa.core.policies.memoization and .rule_policy, whose only `copy.deepcopy`
    calls build a debug log's argument (the policy's states of the whole conversation, every turn,
    whatever the log level): the copy is made only when the log is written."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, _WhenLogged) else _WhenLogged(value, repr)


def format_tracker_states_when_logged(states: List[Dict]) -> Any:
    """`Policy.format_tracker_states` (a debug log's text of every state of the conversation, which
    RulePolicy builds on every prediction), formatted only when the log is written."""

    return _WhenLogged(states, _RASA_ORIGINALS["format_tracker_states"])


def action_call_with_what_actions_read(self: Any, tracker: Any, domain: Any) -> Dict[Text, Any]:
    """Rasa's `RemoteAction._action_call_format`, sending the events the action reads (actions/history.py)
    instead of the whole conversation, and the domain only to actions that need it (`send_domain: true`
    in domain.yml, Rasa's own selective domain; the ticket form's validation). The tracker's state
    (slots, latest message, active loop, ...) is sent whole, as Rasa sends it."""
    import rasa
    from rasa.shared.core.trackers import EventVerbosity

    tracker_state = tracker.current_state(EventVerbosity.NONE)
    tracker_state["events"] = [event.as_dict() for event in _events_for_action(tracker, self.name())]
    result = {"next_action": self._name, "sender_id": tracker.sender_id, "tracker": tracker_state}
    result["version"] = rasa.__version__
    if domain.does_custom_action_explicitly_need_domain(self.name()):
        result["domain"] = domain.as_dict()
    return result
