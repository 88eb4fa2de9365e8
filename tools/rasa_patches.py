"""Fixes to Rasa 3.6, applied by `tools.serve` only: two to its per-message hot path, two to its logs.

Profiled with cProfile over 80 messages (README, "Lean and fast"):

1. `RemoteAction._validate_action_result` calls `jsonschema.validate(result, schema)`
   for every custom-action response; `validate` first re-checks the schema itself
   against the JSON-Schema meta-schema: about 80 ms per action call here (5.7 s of
   9.7 s). The response is still validated against the same schema, with a
   validator built once, and an invalid one raises what `jsonschema.validate` raises
   (the `best_match` of the errors) with Rasa's own message appended.
2. `all_subclasses(Event)` walks the class tree again for every event Rasa
   deserializes (thousands per message as a conversation grows). The classes don't
   change once the server runs, so the walk is remembered per class.

And what Rasa logs (issue 12, SECURITY.md). 3. Rasa's REST channel logs the user's
whole message at ERROR when handling it fails or times out (`rest.message.received.failure`,
e.g. Redis unreachable, the client gone), and other structlog events carry texts and events.
Every value of a structlog event is masked (`core.secrets.mask_secrets`) after Rasa's own
`_anonymizer` processor, which `configure_structlog` puts first in the chain. 4. When a custom
action fails, the action server answers 500 with the whole tracker as `request_body`, which
`ClientResponseError` puts in its message and Rasa logs at ERROR with the traceback: its message
gives the body's size instead (the body itself stays in `.text`, which Rasa reads for a 400).

5. When a part fails (issue 17, README "When a part fails"): a message during which the action
server, the tracker store or the lock store fails or times out is abandoned before anything of it is
saved, and the user gets the phrase `part_unavailable` (resend it) on the message's own channel,
instead of silence or an answer from an empty conversation; custom actions wait at most
ACTION_SERVER_TIMEOUT; and Rasa's `GET /` comes with `GET /ready` (tools/readiness.py).

6. A turn costs the same at turn 200 as at turn 2 (issue 15, README "Where a turn's time goes"):
`DialogueStateTracker.copy` without replaying every event; `applied_events` and
`Domain.states_for_tracker_history` going on from the previous call for the conversation; the
policies' debug-log arguments built only when written; the action server sent the events and the
domain its actions read (actions/history.py). `install_turn_timings` (`make profile` only) adds the
timing wrappers of tools/turn_profile.py.

All replace Rasa internals, so they are applied only on the Rasa versions they were
tested with (`TESTED_RASA_VERSIONS`); `apply` refuses any other.
"""

from __future__ import annotations

import itertools
import json
import logging
import operator
from collections import OrderedDict
from functools import lru_cache
from typing import Any, Callable, Dict, List, Optional, Text

from core.secrets import mask_secrets

TESTED_RASA_VERSIONS = frozenset({"3.6.21"})


class UntestedRasaVersion(RuntimeError):
    """The installed Rasa is not one the patches were tested with."""


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    return validators.validator_for(schema)(schema)


def validate_action_result(result: Dict[Text, Any]) -> bool:
    """Rasa's `RemoteAction._validate_action_result`, with the schema validator built once."""
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    error = best_match(_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response "
        "from the Action endpoint is valid. For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


# structlog's own keys: the event name and what its processors read (exc_info must stay a tuple or bool).
_LOG_KEYS_KEPT = frozenset({"event", "exc_info", "stack_info", "log_level", "level", "timestamp", "logger"})
LogProcessor = Callable[[Any, str, Dict[str, Any]], Dict[str, Any]]


def mask_log_value(value: Any) -> Any:
    """A logged value with every secret masked; objects (Rasa events, messages) become their masked repr."""
    if isinstance(value, str):
        return mask_secrets(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, dict):
        return {key: mask_log_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [mask_log_value(item) for item in value]
    return mask_secrets(repr(value))


class _MaskingLogProcessor:
    """A structlog processor: `anonymizer`, then every value of the event masked."""

    masks_secrets = True  # marks Rasa's processor as already wrapped (apply() is idempotent)

    def __init__(self, anonymizer: LogProcessor) -> None:
        self.anonymizer = anonymizer

    def __call__(self, logger: Any, method_name: str, event_dict: Dict[str, Any]) -> Dict[str, Any]:
        event_dict = self.anonymizer(logger, method_name, event_dict)
        return {key: value if key in _LOG_KEYS_KEPT else mask_log_value(value) for key, value in event_dict.items()}


def masking_log_processor(anonymizer: LogProcessor) -> LogProcessor:
    """Rasa's structlog `_anonymizer`, then every value of the event masked."""
    return _MaskingLogProcessor(anonymizer)


def _client_response_error_init(self: Any, status: int, message: Text, text: Any) -> None:
    """Rasa's `ClientResponseError.__init__`, with the response body left out of the message."""
    import aiohttp

    self.status, self.message, self.text = status, message, text
    aiohttp.ClientError.__init__(self, f"{status}, {message}, body of {len(text or b'')} bytes (not shown)")


# -- When a part fails (issue 17; README "When a part fails") -----------------------------------------
# Rasa 3.6 answers from an empty conversation when its tracker store can't be read (FailSafeTrackerStore
# returns None and logs), says nothing when a custom action fails (MessageProcessor._run_action logs and
# goes on), and the REST channel answers [] when the lock store raises. Instead, a message during which
# a part fails is abandoned before anything of it is saved, and the user is asked to send it again.
_rasa_logger = logging.getLogger("rasa.core.processor")
PART_UNAVAILABLE_PHRASE = "part_unavailable"


class PartUnavailable(Exception):
    """The action server, the tracker store or the lock store failed or timed out during a message.
    `language`: the conversation's, when it was known at that point."""

    def __init__(self, part: str, language: Optional[str] = None) -> None:
        super().__init__(f"the {part} is unavailable")
        self.part, self.language = part, language


def failed_part(error: BaseException) -> Optional[str]:
    """Which part `error` says failed: the lock store for Redis and Rasa's lock errors; else None (a bug)."""
    import redis
    from rasa.core.lock_store import LockError

    if isinstance(error, PartUnavailable):
        return error.part
    if isinstance(error, (LockError, redis.RedisError)):
        return "lock store"
    return None


def part_unavailable_text(language: Optional[str]) -> str:
    """The phrase in `language`; in every language of the knowledge file (one line each) when unknown."""
    from core.phrases import say_in_language_or_all

    return say_in_language_or_all(PART_UNAVAILABLE_PHRASE, language)


async def handle_message_or_say_why_not(self: Any, message: Any) -> Optional[List[Dict[Text, Any]]]:
    """Rasa's `Agent.handle_message`; when a part fails before the turn is saved, the user gets the
    phrase `part_unavailable` on the message's own output channel (every channel) and nothing is kept.
    A failure while releasing the lock after the turn was saved leaves the reply as it is."""
    from rasa.core.channels.channel import CollectingOutputChannel

    from core.language import detect_language

    if not self.is_ready():
        _rasa_logger.info("Ignoring message as there is no agent to handle it.")
        return None
    handled, result = False, None
    try:
        async with self.lock_store.lock(message.sender_id):
            result = await self.processor.handle_message(message)
            handled = True
    except Exception as error:
        part = failed_part(error)
        if part is None:
            raise
        if handled:
            _rasa_logger.warning(f"Message handled and saved; releasing its lock failed ({part}): the lock expires.")
            return result
        _rasa_logger.error(f"Message not handled, the user is asked to resend it: the {part} failed ({error!r}).")
        output = message.output_channel
        language = getattr(error, "language", None) or detect_language(message.text)
        if language is None and part != "tracker store":
            language = await _conversation_language(self.tracker_store, message.sender_id)
        if isinstance(output, CollectingOutputChannel):
            output.messages.clear()  # nothing of the abandoned turn is shown either
        await output.send_text_message(message.sender_id, part_unavailable_text(language))
        return output.messages if isinstance(output, CollectingOutputChannel) else None
    return result


async def _conversation_language(tracker_store: Any, sender_id: Text) -> Optional[str]:
    """The conversation's `language` slot, read without the lock (nothing is written), or None."""
    try:
        tracker = await tracker_store.retrieve(sender_id)
    except Exception:  # the tracker store is down too: the phrase goes out in every language
        return None
    return tracker.get_slot("language") if tracker is not None else None


async def tracker_store_retrieve_or_raise(self: Any, sender_id: Text) -> Any:
    """`FailSafeTrackerStore.retrieve`: raise instead of returning None (a new, empty conversation)."""
    try:
        return await self._tracker_store.retrieve(sender_id)
    except Exception as error:
        raise PartUnavailable("tracker store") from error


async def tracker_store_retrieve_full_or_raise(self: Any, sender_id: Text) -> Any:
    """`FailSafeTrackerStore.retrieve_full_tracker`: raise instead of returning None."""
    try:
        return await self._tracker_store.retrieve_full_tracker(sender_id)
    except Exception as error:
        raise PartUnavailable("tracker store") from error


async def tracker_store_save_or_raise(self: Any, tracker: Any) -> None:
    """`FailSafeTrackerStore.save`: raise instead of saving to memory (lost at the next message)."""
    try:
        await self._tracker_store.save(tracker)
    except Exception as error:
        raise PartUnavailable("tracker store", tracker.get_slot("language")) from error


async def run_action_or_raise(
    self: Any, action: Any, tracker: Any, output_channel: Any, nlg: Any, prediction: Any
) -> bool:
    """Rasa 3.6.21's `MessageProcessor._run_action`, except that a custom action that fails (action
    server unreachable, past ACTION_SERVER_TIMEOUT, or answering with an error) raises `PartUnavailable`
    instead of being logged and skipped, which left the user without an answer."""
    import rasa.core.actions.action
    from rasa.shared.constants import UTTER_PREFIX
    from rasa.shared.core.constants import ACTION_LISTEN_NAME
    from rasa.shared.core.events import ActionExecutionRejected, UserUttered

    try:
        temporary_tracker = tracker.copy()
        temporary_tracker.update_with_events(prediction.events, self.domain)
        events = await action.run(output_channel, nlg, temporary_tracker, self.domain)
    except rasa.core.actions.action.ActionExecutionRejection:
        events = [ActionExecutionRejected(action.name(), prediction.policy_name, prediction.max_confidence)]
        tracker.update(events[0])
        return self.should_predict_another_action(action.name())
    except Exception as error:
        if isinstance(action, rasa.core.actions.action.RemoteAction):
            raise PartUnavailable("action server", tracker.get_slot("language")) from error
        _rasa_logger.exception(
            f"Encountered an exception while running action '{action.name()}'."
            "Bot will continue, but the actions events are lost. "
            "Please check the logs of your action server for "
            "more information."
        )
        events = []

    self._log_action_on_tracker(tracker, action, events, prediction)
    if any(isinstance(e, UserUttered) for e in events):
        tracker = await self.run_action_extract_slots(output_channel, tracker)
    if action.name() != ACTION_LISTEN_NAME and not action.name().startswith(UTTER_PREFIX):
        self._log_slots(tracker)
    await self.execute_side_effects(events, tracker, output_channel)
    return self.should_predict_another_action(action.name())


def action_server_timeout() -> float:
    """ACTION_SERVER_TIMEOUT, for Rasa's per-call timeout of custom actions (its default: 300 s).
    An invalid setting keeps Rasa's: `tools.serve` stops with the setting's name right after."""
    from core.settings import SettingsError, get_settings

    try:
        return get_settings().action_server_timeout
    except SettingsError:
        from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT

        return float(DEFAULT_REQUEST_TIMEOUT)


def add_root_and_ready_routes(app: Any) -> None:
    """Rasa's `server.add_root_route` (`GET /`, with or without Rasa's API), and `GET /ready`
    (tools/readiness.py): each dependency of this Rasa server, without a token, no details."""
    from sanic import response

    from core.settings import get_settings
    from tools.readiness import CachedChecks, rasa_readiness

    _rasa_add_root_route(app)
    timeout = get_settings().readiness_timeout
    checks = CachedChecks(lambda: rasa_readiness(getattr(app.ctx, "agent", None), timeout))

    @app.get("/ready")
    async def ready(_: Any) -> Any:
        status, body = await checks.get()
        return response.json(body, status=status, headers={"Cache-Control": "no-store"})


def _rasa_add_root_route(app: Any) -> None:
    """Rasa's own `add_root_route`, kept by `apply` before it is replaced."""
    _RASA_ORIGINALS["add_root_route"](app)


_RASA_ORIGINALS: Dict[str, Callable[..., Any]] = {}


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
    """`Domain.states_for_tracker_history`'s loop stopped after `applied` events: the tracker it replayed
    and its variables, so the next turn's call goes on from there instead of from the first event."""

    __slots__ = ("domain", "applied", "tracker", "states", "last_ml_action_sub_state", "turn_was_hidden")

    def __init__(self, tracker: Any, domain: Any = None) -> None:
        self.domain = domain
        self.applied: List[Any] = []
        self.tracker = tracker.init_copy()
        self.states: List[Any] = []
        self.last_ml_action_sub_state: Any = None
        self.turn_was_hidden = False


_STATES_FOLDS: "OrderedDict[Any, _StatesFold]" = OrderedDict()
STATES_FOLDS_KEPT = 256


def _fold_step(domain: Any, fold: Any, tracker: Any, hide_rule_turn: bool, states: List[Any], flags: Any) -> None:
    """One pass of Rasa's loop body (rasa/shared/core/domain.py, `states_for_tracker_history`), with the
    loop's variables on `fold` and the state appended to `states`."""
    omit_unset_slots, ignore_rule_only_turns, rule_only_data = flags
    if ignore_rule_only_turns:
        if not fold.turn_was_hidden:
            fold.last_ml_action_sub_state = domain._get_prev_action_sub_state(tracker)
        if not tracker.followup_action and not tracker.latest_action_name == tracker.active_loop_name:
            fold.turn_was_hidden = hide_rule_turn
        if fold.turn_was_hidden:
            return
    state = domain.get_active_state(tracker, omit_unset_slots=omit_unset_slots)
    if ignore_rule_only_turns:
        domain._remove_rule_only_features(state, rule_only_data)
        if states:
            domain._substitute_rule_only_user_input(state, states[-1])
        if fold.last_ml_action_sub_state:
            state["prev_action"] = fold.last_ml_action_sub_state
    states.append(domain._clean_state(state))


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
    gives; only the loop over the events already seen is skipped."""
    from rasa.shared.core.events import ActionExecuted

    applied = tracker.applied_events()
    flags = (omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    rule_only = json.dumps(rule_only_data, sort_keys=True, default=str)  # RulePolicy builds it anew each call
    key = (tracker.sender_id, omit_unset_slots, ignore_rule_only_turns, rule_only)
    fold = _STATES_FOLDS.pop(key, None)
    seen = len(fold.applied) if fold is not None else 0
    if fold is None or fold.domain is not self or not _begins_with(applied, fold.applied):
        fold, seen = _StatesFold(tracker, self), 0
    for event in applied[seen:]:
        if isinstance(event, ActionExecuted):
            _fold_step(self, fold, fold.tracker, event.hide_rule_turn, fold.states, flags)
        fold.tracker.update(event)
    fold.applied = applied
    _STATES_FOLDS[key] = fold
    while len(_STATES_FOLDS) > STATES_FOLDS_KEPT:
        _STATES_FOLDS.popitem(last=False)
    # The loop's last pass (the state after every event), on copies: the fold stays before it.
    states = list(fold.states)
    last = _StatesFold.__new__(_StatesFold)
    last.last_ml_action_sub_state, last.turn_was_hidden = fold.last_ml_action_sub_state, fold.turn_was_hidden
    _fold_step(self, last, fold.tracker, False, states, flags)
    return states


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


def check_rasa_version(version: str) -> None:
    """Raise `UntestedRasaVersion` unless `version` is one the patches were tested with."""
    if version not in TESTED_RASA_VERSIONS:
        raise UntestedRasaVersion(
            f"Rasa {version} is installed, but tools/rasa_patches.py was tested with "
            f"{', '.join(sorted(TESTED_RASA_VERSIONS))} only: install the pinned version "
            "(requirements.txt) or re-measure the patches and add the version."
        )


def install_turn_timings(path: Any) -> None:
    """`make profile` only (TURN_PROFILE_FILE): time each part of every turn (tools/turn_profile.py)."""
    import rasa

    from tools import turn_profile

    check_rasa_version(rasa.__version__)
    turn_profile.install(path)


def apply() -> None:
    """Check the Rasa version, then install the patches (idempotent)."""
    import rasa
    import rasa.shared.utils.common as common
    import rasa.utils.log_utils as log_utils
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import ClientResponseError

    check_rasa_version(rasa.__version__)
    RemoteAction._validate_action_result = staticmethod(validate_action_result)
    if not hasattr(common.all_subclasses, "cache_info"):
        common.all_subclasses = lru_cache(maxsize=None)(common.all_subclasses)
    # configure_structlog (run by Rasa's CLI after this) reads the module's _anonymizer.
    if not getattr(log_utils._anonymizer, "masks_secrets", False):
        log_utils._anonymizer = masking_log_processor(log_utils._anonymizer)
    ClientResponseError.__init__ = _client_response_error_init
    # When a part fails (issue 17): an honest answer instead of silence or an empty conversation.
    import rasa.core.actions.action as rasa_actions
    import rasa.server
    from rasa.core.agent import Agent
    from rasa.core.processor import MessageProcessor
    from rasa.core.tracker_store import FailSafeTrackerStore

    Agent.handle_message = handle_message_or_say_why_not
    MessageProcessor._run_action = run_action_or_raise
    FailSafeTrackerStore.retrieve = tracker_store_retrieve_or_raise
    FailSafeTrackerStore.retrieve_full_tracker = tracker_store_retrieve_full_or_raise
    FailSafeTrackerStore.save = tracker_store_save_or_raise
    rasa_actions.DEFAULT_REQUEST_TIMEOUT = action_server_timeout()  # read by RemoteAction.run at each call
    _RASA_ORIGINALS.setdefault("add_root_route", rasa.server.add_root_route)
    rasa.server.add_root_route = add_root_and_ready_routes
    # A turn's cost flat as the conversation grows (issue 15).
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    _RASA_ORIGINALS.setdefault("copy", DialogueStateTracker.copy)
    _RASA_ORIGINALS.setdefault("applied_events", DialogueStateTracker.applied_events)
    _RASA_ORIGINALS.setdefault("states_for_tracker_history", Domain.states_for_tracker_history)
    _RASA_ORIGINALS.setdefault("action_call_format", RemoteAction._action_call_format)
    DialogueStateTracker.copy = copy_tracker
    DialogueStateTracker.applied_events = applied_events_resumed
    Domain.states_for_tracker_history = states_for_tracker_history_resumed
    import rasa.core.policies.memoization as memoization
    import rasa.core.policies.rule_policy as rule_policy
    from rasa.core.policies.policy import Policy

    memoization.copy = rule_policy.copy = _LogArgumentCopies
    _RASA_ORIGINALS.setdefault("format_tracker_states", Policy.format_tracker_states)
    Policy.format_tracker_states = staticmethod(format_tracker_states_when_logged)
    RemoteAction._action_call_format = action_call_with_what_actions_read
