"""tools/rasa_patches/faults.py (issue 17): a part that fails during a message gets the user the honest
`part_unavailable` phrase, never silence or an answer from an empty conversation."""

from __future__ import annotations

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import SlotSet
from rasa.utils.endpoints import EndpointConfig

from tools import rasa_patches


@pytest.fixture(scope="module", autouse=True)
def patched() -> None:
    rasa_patches.apply()


def test_an_unreadable_tracker_store_raises_instead_of_giving_an_empty_conversation(tmp_path) -> None:
    """Rasa's FailSafeTrackerStore returned None here, and Rasa answered as if the user were new."""
    import asyncio

    import sqlalchemy as sa
    from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    inner = SQLTrackerStore(dialect="sqlite", db=str(tmp_path / "trackers.sqlite3"))
    store = FailSafeTrackerStore(inner)
    asyncio.run(store.save(DialogueStateTracker.from_events("anna", [UserUttered("I forgot my password")])))
    assert asyncio.run(store.retrieve("anna")).latest_message.text == "I forgot my password"
    with inner.engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE events"))  # the database is there, the conversation can't be read
    for call in (store.retrieve("anna"), store.retrieve_full_tracker("anna")):
        with pytest.raises(rasa_patches.PartUnavailable) as error:
            asyncio.run(call)
        assert error.value.part == "tracker store"
    with pytest.raises(rasa_patches.PartUnavailable):  # not kept in memory, to be lost at the next message
        asyncio.run(store.save(DialogueStateTracker.from_events("anna", [UserUttered("hello")])))


def _run_action_with_the_action_server_down(action_class, name: str, domain, events) -> rasa_patches.PartUnavailable:
    """`run_action_or_raise` for `action_class(name, endpoint)` with nothing listening at the endpoint;
    the `PartUnavailable` it raised (the test fails if it raised nothing). The tracker is left as it was."""
    import asyncio
    from types import SimpleNamespace

    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.core.policies.policy import PolicyPrediction
    from rasa.core.processor import MessageProcessor
    from rasa.shared.core.trackers import DialogueStateTracker

    from tests.local_stores import closed_port

    assert MessageProcessor._run_action is rasa_patches.run_action_or_raise
    tracker = DialogueStateTracker.from_events("anna", events, slots=domain.slots)
    action = action_class(name, EndpointConfig(f"http://127.0.0.1:{closed_port()}/webhook"))
    with pytest.raises(rasa_patches.PartUnavailable) as error:
        asyncio.run(
            rasa_patches.run_action_or_raise(
                SimpleNamespace(domain=domain),
                action,
                tracker,
                CollectingOutputChannel(),
                TemplatedNaturalLanguageGenerator({}),
                PolicyPrediction([], "RulePolicy"),
            )
        )
    assert len(tracker.events) == len(events)  # nothing of the failed action was logged
    return error.value


LANGUAGE_SLOT = {"language": {"type": "text", "mappings": [{"type": "custom"}]}}


def test_a_custom_action_the_action_server_cannot_run_stops_the_turn_in_the_conversations_language() -> None:
    """Rasa logged the failure and went on to action_listen: the user got no answer at all."""
    from rasa.shared.core.domain import Domain

    domain = Domain.from_dict({"slots": LANGUAGE_SLOT})
    error = _run_action_with_the_action_server_down(
        RemoteAction, "action_start_guide", domain, [SlotSet("language", "zh")]
    )
    assert (error.part, error.language) == ("action server", "zh")


def test_a_form_whose_validation_the_action_server_cannot_run_stops_the_turn() -> None:
    """Rasa's form action calls `validate_<form>` itself and, when that failed, logged it and went on
    without it: the user's answer to the form's question got an empty reply (seen in the fault test)."""
    from rasa.core.actions.forms import FormAction
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActiveLoop, UserUttered

    email_slot = {"type": "text", "mappings": [{"type": "from_text"}]}
    domain = Domain.from_dict(
        {
            "slots": {**LANGUAGE_SLOT, "contact_email": email_slot},
            "forms": {"ticket_form": {"required_slots": ["contact_email"]}},
            "actions": ["validate_ticket_form"],
        }
    )
    events = [
        SlotSet("language", "en"),
        ActiveLoop("ticket_form"),
        SlotSet("requested_slot", "contact_email"),
        UserUttered("anna@corp.example"),
        SlotSet("contact_email", "anna@corp.example"),
    ]
    error = _run_action_with_the_action_server_down(FormAction, "ticket_form", domain, events)
    assert (error.part, error.language) == ("action server", "en")


def test_custom_actions_wait_at_most_action_server_timeout(monkeypatch) -> None:
    import rasa.core.actions.action as rasa_actions

    monkeypatch.setenv("ACTION_SERVER_TIMEOUT", "2.5")
    rasa_patches.apply()
    try:
        assert rasa_actions.DEFAULT_REQUEST_TIMEOUT == 2.5  # Rasa's own: 300 s
    finally:
        monkeypatch.delenv("ACTION_SERVER_TIMEOUT")
        from core.settings import get_settings

        get_settings.cache_clear()
        rasa_patches.apply()


@pytest.mark.parametrize(
    "text, expected_languages",
    [("I forgot my password", ["en"]), ("我忘记密码了", ["zh"]), ("/next_step", ["en", "zh"])],
)
def test_an_unreachable_lock_store_gets_the_honest_message_not_an_empty_reply(text, expected_languages) -> None:
    """Redis down: Rasa's REST channel answered [] with 200. Now the user is told to send it again,
    in the message's language (both when a button payload says nothing about it)."""
    import asyncio
    from types import SimpleNamespace

    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.lock_store import RedisLockStore
    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.shared.core.domain import Domain

    from core.phrases import say
    from tests.local_stores import closed_port

    agent = SimpleNamespace(
        is_ready=lambda: True,
        lock_store=RedisLockStore(host="127.0.0.1", port=closed_port(), socket_timeout=1),
        processor=None,  # never reached: the lock comes first
        tracker_store=InMemoryTrackerStore(Domain.empty()),  # a new conversation: its language is not known
    )
    output = CollectingOutputChannel()
    replies = asyncio.run(rasa_patches.handle_message_or_say_why_not(agent, UserMessage(text, output, "anna")))
    assert [reply["text"] for reply in replies] == [
        "\n".join(say("part_unavailable", lang) for lang in expected_languages)
    ]


def test_other_errors_are_not_mistaken_for_a_failed_part() -> None:
    import redis
    from rasa.core.lock_store import LockError

    assert rasa_patches.failed_part(redis.ConnectionError("down")) == "lock store"
    assert rasa_patches.failed_part(LockError("busy")) == "lock store"
    assert rasa_patches.failed_part(rasa_patches.PartUnavailable("action server")) == "action server"
    assert rasa_patches.failed_part(ValueError("a bug")) is None
