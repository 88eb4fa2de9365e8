"""Patch 5 of `tools.rasa_patches` (issue 17; README "When a part fails"): a message during which a part
fails gets the honest `part_unavailable` phrase, bounded action-server waits, and `GET /ready`."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from tools.rasa_patches.originals import RASA_ORIGINALS as _RASA_ORIGINALS

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


async def remote_action_run_or_raise(self: Any, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> Any:
    """Rasa's `RemoteAction.run`, except that a call the action server does not answer (unreachable, past
    ACTION_SERVER_TIMEOUT, an error or an invalid answer) raises `PartUnavailable`. Rasa calls it from
    inside its own actions too — a form's `validate_<form>` and `action_ask_<slot>` — where its error was
    logged and the form went on without them: the user got an empty reply mid-form.
    A rejection (the action server's 400) stays Rasa's `ActionExecutionRejection`."""
    from rasa.core.actions.action import ActionExecutionRejection

    try:
        return await _RASA_ORIGINALS["remote_action_run"](self, output_channel, nlg, tracker, domain)
    except ActionExecutionRejection:
        raise
    except Exception as error:
        raise PartUnavailable("action server", tracker.get_slot("language")) from error


async def run_action_or_raise(
    self: Any, action: Any, tracker: Any, output_channel: Any, nlg: Any, prediction: Any
) -> bool:
    """Rasa 3.6.21's `MessageProcessor._run_action`, except that an action the action server failed (a
    custom action, or a form whose validation it runs: `remote_action_run_or_raise`) raises
    `PartUnavailable` instead of being logged and skipped, which left the user without an answer."""
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
    except PartUnavailable as error:  # from the action server, for this action or one it called
        error.language = error.language or tracker.get_slot("language")
        raise
    except Exception:
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

    from core.readiness import CachedChecks
    from core.settings import get_settings
    from tools.readiness import rasa_readiness

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
