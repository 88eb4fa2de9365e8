"""The patches that keep a turn's cost flat as a conversation grows (tools/rasa_patches/, issue 15)
give what Rasa's own code gives, on trackers with slots, forms, reverts, hidden rule turns and restarts."""

from __future__ import annotations

import copy
from typing import Any, Callable, Dict, List

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    FollowupAction,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.utils.endpoints import EndpointConfig

from tools import rasa_patches
from tools.rasa_patches import turn_cost

ORIGINALS = rasa_patches._RASA_ORIGINALS
DOMAIN = Domain.load("domain.yml")


@pytest.fixture(scope="module", autouse=True)
def patched() -> None:
    rasa_patches.apply()


def user(intent: str, text: str = "") -> UserUttered:
    return UserUttered(
        text or f"/{intent}", {"name": intent, "confidence": 1.0}, parse_data={"intent": {"name": intent}}
    )


def turns() -> List[List[Event]]:
    """A conversation turn by turn: guides, a form with an FAQ inside it, a fallback revert, hidden rule
    turns, a follow-up action, a restart and a new session."""
    listen = ActionExecuted("action_listen")
    return [
        [ActionExecuted("action_session_start"), SessionStarted(), listen],
        [user("forgot_password"), ActionExecuted("action_start_guide", hide_rule_turn=True), SlotSet("problem", "x")],
        [listen, user("affirm"), ActionExecuted("action_handle_answer"), BotUttered("step 1")],
        [listen, user("open_ticket"), ActionExecuted("action_start_ticket"), ActionExecuted("ticket_form")],
        [ActiveLoop("ticket_form"), SlotSet("requested_slot", "contact_email"), listen],
        [user("faq"), ActionExecuted("utter_faq", hide_rule_turn=True), ActionExecuted("ticket_form")],
        [listen, user("inform_role", "a@b.example"), ActionExecuted("ticket_form")],
        [SlotSet("contact_email", "a@b.example"), ActiveLoop(None), SlotSet("requested_slot", None)],
        [ActionExecuted("action_submit_ticket"), listen, user("nlu_fallback")],
        [ActionExecuted("action_default_fallback"), UserUtteranceReverted(), listen],
        [user("next_step"), ActionExecuted("action_next_step"), FollowupAction("utter_help")],
        [ActionExecuted("utter_help"), listen, user("stop"), ActionExecuted("action_stop_guide")],
        [Restarted(), listen, user("greet"), ActionExecuted("utter_greet", hide_rule_turn=True), listen],
        [ActionExecuted("action_session_start"), SessionStarted(), listen, user("thank")],
        [ActionExecuted("utter_you_are_welcome"), listen],
    ]


def state_of(tracker: DialogueStateTracker) -> Dict[str, Any]:
    return {
        **tracker.current_state(EventVerbosity.ALL),
        "active_loop_name": tracker.active_loop_name,
        "model_id": tracker.model_id,
    }


def each_turn(check: Callable[[DialogueStateTracker], None]) -> None:
    tracker = DialogueStateTracker("turn-cost", DOMAIN.slots)
    for events in turns():
        for event in events:
            tracker.update(event, DOMAIN)
        check(tracker)
        check(tracker)  # the second call resumes from the first


def test_copy_is_the_state_a_replay_gives() -> None:
    def check(tracker: DialogueStateTracker) -> None:
        tracker.model_id = "model"
        replayed, copied = ORIGINALS["copy"](tracker), tracker.copy()
        assert state_of(copied) == state_of(replayed)
        assert copied.past_states(DOMAIN) == replayed.past_states(DOMAIN)
        copied.update(user("greet"))  # the copy is independent of the original
        copied.slots["problem"].value = "changed"
        assert len(copied.events) == len(tracker.events) + 1 and tracker.get_slot("problem") != "changed"

    each_turn(check)


def test_copy_sets_a_cleared_follow_up_action_again_as_a_replay_does() -> None:
    tracker = DialogueStateTracker.from_events("f", [ActionExecuted("action_listen"), FollowupAction("utter_greet")])
    tracker.clear_followup_action()
    assert tracker.copy().followup_action == ORIGINALS["copy"](tracker).followup_action == "utter_greet"


def test_applied_events_are_rasas_turn_after_turn() -> None:
    each_turn(lambda tracker: assert_same(tracker.applied_events(), ORIGINALS["applied_events"](tracker)))


def assert_same(patched: List[Event], rasa: List[Event]) -> None:
    assert [id(e) for e in patched] == [id(e) for e in rasa]


@pytest.mark.parametrize("kept", [turn_cost.STATES_KEPT, 3])
@pytest.mark.parametrize("ignore_rule_only_turns", [False, True])
def test_states_are_rasas_turn_after_turn(
    monkeypatch: pytest.MonkeyPatch, ignore_rule_only_turns: bool, kept: int
) -> None:
    """Every state and the latest ones, as Rasa gives them, turn after turn; with a fold keeping 3
    states only, past them the whole list comes from Rasa's own loop and the latest from the fold."""
    monkeypatch.setattr(turn_cost, "STATES_KEPT", kept)
    turn_cost._STATES_FOLDS.clear()
    rule_only = {"rule_only_slots": ["requested_slot"], "rule_only_loops": []}
    counts: List[int] = []

    def check(tracker: DialogueStateTracker) -> None:
        original = ORIGINALS["states_for_tracker_history"]
        expected = original(DOMAIN, tracker, ignore_rule_only_turns=ignore_rule_only_turns, rule_only_data=rule_only)
        assert tracker.past_states(DOMAIN, False, ignore_rule_only_turns, dict(rule_only)) == expected
        counts.append(max(fold.count for fold in turn_cost._STATES_FOLDS.values()))
        for count in (1, 2, 3):
            latest = turn_cost.latest_states(DOMAIN, tracker, count, ignore_rule_only_turns, dict(rule_only))
            assert latest == expected[-count:]
        assert turn_cost.latest_states(DOMAIN, tracker, kept + 1, ignore_rule_only_turns, dict(rule_only)) is None

    each_turn(check)
    assert all(len(fold.states) <= kept for fold in turn_cost._STATES_FOLDS.values())
    assert kept > 3 or max(counts) > kept  # with 3 kept, the conversation did outgrow the fold


def test_states_start_over_for_a_tracker_that_does_not_continue_the_last_one() -> None:
    first = DialogueStateTracker.from_events("same", [ActionExecuted("action_listen"), user("greet")])
    other = DialogueStateTracker.from_events("same", [ActionExecuted("action_listen"), user("thank")])
    assert first.past_states(DOMAIN)[-1]["user"]["intent"] == "greet"
    assert other.past_states(DOMAIN)[-1]["user"]["intent"] == "thank"  # not the remembered greet


def request(action: str, tracker: DialogueStateTracker) -> Dict[str, Any]:
    return RemoteAction(action, EndpointConfig("http://127.0.0.1:1/webhook"))._action_call_format(tracker, DOMAIN)


def long_tracker() -> DialogueStateTracker:
    tracker = DialogueStateTracker("long", DOMAIN.slots)
    for _ in range(30):
        for event in [ActionExecuted("action_listen"), user("next_step"), ActionExecuted("action_next_step")]:
            tracker.update(event, DOMAIN)
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(user("affirm"))
    tracker.update(SlotSet("problem", "forgot_password"))
    return tracker


def test_an_action_gets_the_events_from_the_latest_user_message_and_the_whole_state() -> None:
    tracker = long_tracker()
    body = request("action_handle_answer", tracker)
    rasa = ORIGINALS["action_call_format"](RemoteAction("action_handle_answer", None), tracker, DOMAIN)
    assert [e["event"] for e in body["tracker"]["events"]] == ["user", "slot"]
    assert body["tracker"]["events"] == rasa["tracker"]["events"][-2:]
    assert {k: v for k, v in body["tracker"].items() if k != "events"} == {
        k: v for k, v in rasa["tracker"].items() if k != "events"
    }
    assert body["next_action"] == rasa["next_action"] and body["version"] == rasa["version"]
    assert "domain" not in body and "domain" in rasa


def test_the_ticket_gets_the_whole_conversation_and_the_form_validation_the_domain() -> None:
    tracker = long_tracker()
    assert len(request("action_submit_ticket", tracker)["tracker"]["events"]) == len(tracker.events)
    assert request("validate_ticket_form", tracker)["domain"] == DOMAIN.as_dict()


def test_debug_log_arguments_are_built_only_when_written() -> None:
    import rasa.core.policies.memoization as memoization
    from rasa.core.policies.policy import Policy

    states: List[Dict[str, Any]] = [{"user": {"intent": "greet"}}]
    lazy = memoization.copy.deepcopy(states)
    assert lazy is not states and copy.deepcopy(lazy) is lazy
    assert repr(lazy) == repr(states)
    text = Policy.format_tracker_states(states)
    assert str(text) == ORIGINALS["format_tracker_states"](states)
    assert "user intent: greet" in repr(text)


def test_trackers_sharing_their_first_and_last_event_objects_are_not_mixed_up() -> None:
    """As in training, where story steps' event objects are appended to many trackers."""
    start, end = ActionExecuted("action_listen"), ActionExecuted("action_listen")
    first = DialogueStateTracker.from_events("story", [start, user("greet"), ActionExecuted("utter_greet"), end])
    second = DialogueStateTracker.from_events("story", [start, user("thank"), ActionExecuted("utter_goodbye"), end])
    for tracker in (first, second, first):
        assert_same(tracker.applied_events(), ORIGINALS["applied_events"](tracker))
        assert tracker.past_states(DOMAIN) == ORIGINALS["states_for_tracker_history"](DOMAIN, tracker)
