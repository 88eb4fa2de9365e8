"""Patch 6 of `tools.rasa_patches`, continued (issue 15): the policies read only the latest states that
can decide their prediction, so a prediction costs the same at turn 200 as at turn 2.

RulePolicy has no `max_history` (it sets it to None, "to capture any lengths of rule stories"), nor has
MemoizationPolicy by default: every prediction of each handles the states of the whole conversation
several times over (removes their user text, filters every rule key through each of them, writes all
of them into one JSON key). What they decide depends on the few latest states only, and the patches
below give Rasa's prediction (tests/unit/tools/rasa_patches/test_policy_window.py compares them on long
conversations).
"""

from __future__ import annotations

import base64
import itertools
import json
import zlib
from typing import Any, Dict, Iterable, List, Optional, Text

from tools.rasa_patches.originals import RASA_ORIGINALS as _RASA_ORIGINALS


def rule_window(lookup: Dict[Text, Any]) -> int:
    """How many of the latest states decide a trained RulePolicy's prediction: one more than its longest key.

    A rule of L states is matched against the latest L states only: `RulePolicy._is_rule_applicable`
    passes every key at `turn_index >= L`. Besides the action, a prediction carries `hide_rule_turn`:
    whether its source — the rule's key, or when no rule applies the JSON of the states after the last
    rule-snippet state — is one of `rules_not_in_stories`, keys of at most L states too. With one state
    more than the longest key, the window's source is the same as the whole history's when the history
    fits the window or a snippet state is inside it, and otherwise both are longer than any stored key
    (neither is found). So no match and no membership changes.
    """
    from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH, RULES_NOT_IN_STORIES

    keys: Iterable[Text] = itertools.chain(
        lookup.get(RULES, {}), lookup.get(RULES_FOR_LOOP_UNHAPPY_PATH, {}), lookup.get(RULES_NOT_IN_STORIES, [])
    )
    longest = 0
    for key in keys:
        try:
            states = json.loads(key)
        except ValueError:
            continue  # a default source ("predicting default action with intent ..."), not a rule key
        if isinstance(states, list):
            longest = max(longest, len(states))
    return longest + 1


def memoized_window(policy: Any) -> Optional[int]:
    """How many of the latest states decide a trained MemoizationPolicy's or RulePolicy's prediction, when
    its `max_history` is None (Rasa's default for both): one more than its longest stored key.

    MemoizationPolicy with no `max_history` memorises each story's states from its first turn and
    recalls an action only when the whole conversation's states are one of those keys. A key is the JSON
    list of its states with the quotes removed, each state an object opening after "[" or ", " (a nested
    object opens after ": "), so it holds at most as many states as it has "[{" and ", {": a window one
    state longer matches no key, as the whole conversation, longer still, matches none. RulePolicy:
    `rule_window`.
    Any other policy (AugmentedMemoizationPolicy truncates trackers its own way): None, unbounded."""
    from rasa.core.policies.memoization import MemoizationPolicy
    from rasa.core.policies.rule_policy import RulePolicy

    if isinstance(policy, RulePolicy):
        return rule_window(policy.lookup)
    if type(policy) is not MemoizationPolicy:
        return None
    compressed = policy.config.get("enable_feature_string_compression", False)
    most = 0
    for key in policy.lookup:
        text = zlib.decompress(base64.b64decode(key)).decode("utf-8") if compressed else key
        most = max(most, text.count("[{") + text.count(", {"))
    return most + 1


def load_with_window(cls: Any, *args: Any, **kwargs: Any) -> Any:
    """Rasa's `MemoizationPolicy.load` (RulePolicy's too), then the policy's featurizer keeps the latest
    `memoized_window` states when it kept all of them.

    The featurizer slices to `max_history` before it touches the states (Rasa's own step for every
    policy with a history limit); only a loaded (trained) policy is bounded: training still sees whole
    rules and stories."""
    policy = _RASA_ORIGINALS["memoization_load"](cls, *args, **kwargs)
    featurizer = policy.featurizer
    if policy.lookup and featurizer is not None and featurizer.max_history is None:
        featurizer.max_history = memoized_window(policy)
    return policy


def prediction_states_from_latest(
    self: Any,
    trackers: List[Any],
    domain: Any,
    use_text_for_last_user_input: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: Optional[Dict[Text, Any]] = None,
    ignore_action_unlikely_intent: bool = False,
) -> List[List[Any]]:
    """Rasa's `MaxHistoryTrackerFeaturizer.prediction_states`, building only the latest `max_history` states
    (turn_cost.latest_states) and taking those that are not `action_unlikely_intent` turns by walking back
    from the latest one, instead of filtering all the states first and slicing after (the same states;
    the slice is what Rasa's step chose)."""
    trackers_as_states = []
    for tracker in trackers:
        states = _latest(self, tracker, domain, ignore_rule_only_turns, rule_only_data, ignore_action_unlikely_intent)
        if states is None:  # more than the fold keeps: every state, Rasa's way
            states = self._create_states(
                tracker, domain, ignore_rule_only_turns=ignore_rule_only_turns, rule_only_data=rule_only_data
            )
            if ignore_action_unlikely_intent:
                states = _without_unlikely_intent(states, self.max_history)
        trackers_as_states.append(self.slice_state_history(states, self.max_history))
    self._choose_last_user_input(trackers_as_states, use_text_for_last_user_input)
    return trackers_as_states


def _without_unlikely_intent(states: List[Any], most: Optional[int]) -> List[Any]:
    """The latest `most` (all when None) of `states` that are not `action_unlikely_intent` turns."""
    from rasa.core.featurizers.tracker_featurizers import _is_prev_action_unlikely_intent_in_state

    kept: List[Any] = []
    for state in reversed(states):
        if most and len(kept) == most:
            break
        if not _is_prev_action_unlikely_intent_in_state(state):
            kept.append(state)
    return kept[::-1]


def _latest(
    featurizer: Any,
    tracker: Any,
    domain: Any,
    ignore_rule_only_turns: bool,
    rule_only_data: Optional[Dict[Text, Any]],
    ignore_action_unlikely_intent: bool,
) -> Optional[List[Any]]:
    """The states the featurizer's window takes, from the latest ones only; None when those are not
    enough to tell (no window, or more `action_unlikely_intent` turns in them than the fold keeps)."""
    from tools.rasa_patches.turn_cost import STATES_KEPT, latest_states

    if not featurizer.max_history:
        return None
    wanted = STATES_KEPT if ignore_action_unlikely_intent else featurizer.max_history
    states = latest_states(domain, tracker, wanted, ignore_rule_only_turns, rule_only_data)
    if states is None or not ignore_action_unlikely_intent:
        return states
    kept = _without_unlikely_intent(states, featurizer.max_history)
    if len(kept) < featurizer.max_history and len(states) == wanted:  # the window reaches past the fold
        return None
    return kept
