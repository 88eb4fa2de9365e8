"""RulePolicy and MemoizationPolicy, loaded through `tools.rasa_patches` (reading only the latest states
that can decide them), predict what Rasa's unbounded policies predict, turn after turn of long
conversations that wander through the project's own rules, forms and slots (issue 15)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
from rasa.core.policies.memoization import MemoizationPolicy
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH, RULES_NOT_IN_STORIES, RulePolicy
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_UNLIKELY_INTENT_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.structures import RuleStep
from rasa.shared.importers.importer import TrainingDataImporter

from tools import rasa_patches
from tools.rasa_patches.policy_window import memoized_window, rule_window

ORIGINALS = rasa_patches._RASA_ORIGINALS
CONVERSATIONS, TURNS = 12, 70


@pytest.fixture(scope="module", autouse=True)
def patched() -> None:
    rasa_patches.apply()


class Policies:
    """The project's RulePolicy and MemoizationPolicy trained on data/, each loaded twice: through the
    patched `load` (bounded) and through Rasa's own (every state)."""

    def __init__(self, storage_path: Path) -> None:
        importer = TrainingDataImporter.load_from_config("config.yml", "domain.yml", ["data"])
        self.domain: Domain = importer.get_domain()
        stories = importer.get_stories()
        trackers = TrainingDataGenerator(stories, self.domain, augmentation_factor=0).generate()
        # How the stories begin (the first user message of each), for conversations that begin so too.
        self.story_openings = sorted(
            {
                next(e.intent_name for e in step.events if isinstance(e, UserUttered))
                for step in stories.story_steps
                if not isinstance(step, RuleStep) and any(isinstance(e, UserUttered) for e in step.events)
            }
        )
        storage = LocalModelStorage(storage_path)
        context = ExecutionContext(GraphSchema({}), "policy-window")
        settings = {p["name"]: p for p in importer.get_config()["policies"]}
        self.pairs: Dict[str, Tuple[Any, Any]] = {}
        for cls in (RulePolicy, MemoizationPolicy):
            config = {**cls.get_default_config(), **settings[cls.__name__]}
            resource = Resource(cls.__name__)
            cls.create(dict(config), storage, resource, context).train(trackers, self.domain)
            bounded = cls.load(dict(config), storage, resource, context)
            every = ORIGINALS["memoization_load"](cls, dict(config), storage, resource, context)
            self.pairs[cls.__name__] = (bounded, every)
        self.rule_only_data = self.pairs["RulePolicy"][1]._get_rule_only_data()


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> Policies:
    return Policies(tmp_path_factory.mktemp("policy-window"))


def summary(prediction: PolicyPrediction) -> Tuple[Any, ...]:
    return (
        prediction.probabilities,
        prediction.policy_name,
        prediction.policy_priority,
        [event.as_dict() for event in prediction.events],
        prediction.is_end_to_end_prediction,
        prediction.is_no_user_prediction,
        prediction.hide_rule_turn,
    )


def user_message(rng: random.Random, domain: Domain, intent: str = "") -> UserUttered:
    intent = intent or rng.choice([*domain.intents, "nlu_fallback"])
    text = rng.choice(["", f"something about {intent}"])
    parse_data = {"intent": {"name": intent}}
    return UserUttered(text or f"/{intent}", {"name": intent, "confidence": 1.0}, parse_data=parse_data)


def slot_changes(rng: random.Random, domain: Domain) -> List[Event]:
    """What actions and slot mappings might set: a featurized slot to one of its values, now and then."""
    featurized = [slot for slot in domain.slots if slot.influence_conversation]
    if not featurized or rng.random() < 0.6:
        return []
    slot = rng.choice(featurized)
    values: List[Any] = [None, True, False, "x", 1.0, *getattr(slot, "values", [])]
    return [SlotSet(slot.name, rng.choice(values))]


def walk(seed: int, policies: Policies) -> Iterator[DialogueStateTracker]:
    """A conversation in which the user says anything (every other one opening as a story does), the bot
    does what RulePolicy predicts (a form starting, rejecting or ending now and then): the tracker
    before each prediction."""
    rng, domain = random.Random(seed), policies.domain
    rules = policies.pairs["RulePolicy"][1]
    tracker = DialogueStateTracker(f"window-{seed}", domain.slots)
    for event in (ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted(ACTION_LISTEN_NAME)):
        tracker.update(event, domain)
    for turn in range(TURNS):
        opening = policies.story_openings[seed % len(policies.story_openings)] if turn == 0 and seed % 2 else ""
        tracker.update(user_message(rng, domain, opening), domain)
        for _ in range(4):  # a few actions, then the bot listens whatever the rules say
            yield tracker
            prediction = rules.predict_action_probabilities(tracker, domain)
            best = max(range(len(prediction.probabilities)), key=prediction.probabilities.__getitem__)
            action = domain.action_names_or_texts[best]
            events: List[Event] = [
                *prediction.events,
                ActionExecuted(action, "RulePolicy", 1.0, hide_rule_turn=prediction.hide_rule_turn),
            ]
            if action in domain.form_names:
                roll = rng.random()
                if roll < 0.2:
                    events = [*prediction.events, ActionExecutionRejected(action)]
                elif roll < 0.4 or tracker.active_loop_name != action:
                    events += [ActiveLoop(action), SlotSet("requested_slot", rng.choice(["contact_email", None]))]
                else:
                    events += [ActiveLoop(None), SlotSet("requested_slot", None)]
            events += slot_changes(rng, domain)
            for event in events:
                tracker.update(event, domain)
            if action == ACTION_LISTEN_NAME:
                break
        else:
            tracker.update(ActionExecuted(ACTION_LISTEN_NAME), domain)


def test_the_windows_are_one_more_than_the_longest_key(policies: Policies) -> None:
    rules, memo = policies.pairs["RulePolicy"][0], policies.pairs["MemoizationPolicy"][0]
    assert rules.featurizer.max_history == rule_window(rules.lookup) == memoized_window(rules)
    assert 2 <= rules.featurizer.max_history <= 10
    assert memo.featurizer.max_history == memoized_window(memo) and 2 <= memo.featurizer.max_history <= 60
    assert policies.pairs["RulePolicy"][1].featurizer.max_history is None  # Rasa's own: every state


def test_bounded_policies_predict_what_rasas_predict_turn_after_turn(policies: Policies) -> None:
    checked = rules_fired = recalled = 0
    longest = 0
    for seed in range(CONVERSATIONS):
        for tracker in walk(seed, policies):
            for name, (bounded, every) in policies.pairs.items():
                kwargs = {"rule_only_data": policies.rule_only_data} if name == "MemoizationPolicy" else {}
                expected = every.predict_action_probabilities(tracker, policies.domain, **kwargs)
                assert summary(bounded.predict_action_probabilities(tracker, policies.domain, **kwargs)) == summary(
                    expected
                ), f"{name}, conversation {seed}, event {len(tracker.events)}"
                fired = max(expected.probabilities) == 1.0
                rules_fired += fired and name == "RulePolicy"
                recalled += fired and name == "MemoizationPolicy"
                checked += 1
            longest = max(longest, len(tracker.past_states(policies.domain)))
    # The conversations reached far beyond both windows, rules decided most turns, and the stories'
    # memory was recalled where a conversation began as a story does.
    assert longest > 10 * policies.pairs["MemoizationPolicy"][0].featurizer.max_history
    assert rules_fired > checked / 4 and recalled > 0


def test_a_rule_for_the_conversation_start_stays_at_the_start(tmp_path: Path) -> None:
    """The window must hold the whole rule: one state shorter, a rule for the conversation's first
    message would fire on the same message later on."""
    greet = {"prev_action": {"action_name": ACTION_LISTEN_NAME}, "user": {"intent": "greet"}}
    key = json.dumps([{}, greet], sort_keys=True)
    lookup = {RULES: {key: "utter_greet"}, RULES_FOR_LOOP_UNHAPPY_PATH: {}, RULES_NOT_IN_STORIES: [key]}
    domain = Domain.load("domain.yml")

    def rule_policy(window: Any) -> RulePolicy:
        storage, context = LocalModelStorage(tmp_path), ExecutionContext(GraphSchema({}), "rule-window")
        featurizer = MaxHistoryTrackerFeaturizer(max_history=window)
        config = RulePolicy.get_default_config()
        return RulePolicy(config, storage, Resource("rules"), context, featurizer=featurizer, lookup=dict(lookup))

    def predicted(policy: RulePolicy, *intents: str) -> str:
        tracker = DialogueStateTracker("start", domain.slots)
        tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
        for intent in intents:
            tracker.update(user_message(random.Random(0), domain, intent))
            if intent != intents[-1]:
                tracker.update(ActionExecuted("utter_you_are_welcome"))
                tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
        prediction = policy.predict_action_probabilities(tracker, domain)
        return domain.action_names_or_texts[prediction.max_confidence_index]

    every, bounded, too_short = rule_policy(None), rule_policy(rule_window(lookup)), rule_policy(1)
    assert predicted(every, "greet") == predicted(bounded, "greet") == predicted(too_short, "greet") == "utter_greet"
    later = ("thank", "greet")
    assert predicted(every, *later) == predicted(bounded, *later) == "action_default_fallback"
    assert predicted(too_short, *later) == "utter_greet"


def prediction_states_trackers(domain: Domain) -> Iterator[DialogueStateTracker]:
    listen = ActionExecuted(ACTION_LISTEN_NAME)
    unlikely = ActionExecuted(ACTION_UNLIKELY_INTENT_NAME)
    tracker = DialogueStateTracker("unlikely", domain.slots)
    tracker.update(listen)
    for index, intent in enumerate(["greet", "forgot_password", "affirm", "next_step", "thank", "stop"] * 3):
        tracker.update(UserUttered(f"text {index}", {"name": intent, "confidence": 1.0}))
        if index % 3 == 0:
            tracker.update(unlikely)
        tracker.update(ActionExecuted("utter_greet" if index % 2 else "action_start_guide"))
        tracker.update(listen)
        yield tracker


@pytest.mark.parametrize("max_history", [None, 1, 3, 8])
@pytest.mark.parametrize("ignore_unlikely", [False, True])
@pytest.mark.parametrize("use_text", [False, True])
def test_prediction_states_are_rasas(max_history: Any, ignore_unlikely: bool, use_text: bool) -> None:
    domain = Domain.load("domain.yml")
    featurizer = MaxHistoryTrackerFeaturizer(max_history=max_history)
    for tracker in prediction_states_trackers(domain):
        arguments: Dict[str, Any] = {
            "use_text_for_last_user_input": use_text,
            "ignore_action_unlikely_intent": ignore_unlikely,
        }
        ours = featurizer.prediction_states([tracker], domain, **arguments)
        assert ours == ORIGINALS["prediction_states"](featurizer, [tracker], domain, **arguments)
