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
instead of silence or an answer from an empty conversation (also when the failed call was a form's
`validate_<form>`, made inside Rasa's own form action); custom actions wait at most
ACTION_SERVER_TIMEOUT; and Rasa's `GET /` comes with `GET /ready` (tools/readiness.py).

6. A turn costs the same at turn 200 as at turn 2 (issue 15, README "Where a turn's time goes"):
`DialogueStateTracker.copy` without replaying every event; `applied_events` and
`Domain.states_for_tracker_history` going on from the previous call for the conversation; the
policies' debug-log arguments built only when written; the action server sent the events and the
domain its actions read (actions/history.py); RulePolicy and MemoizationPolicy reading only the latest
states that can decide their prediction (tools/rasa_patches/policy_window.py).
`install_turn_timings` (`make profile` only) adds the timing wrappers of tools/turn_profile.py.

7. JAX, which TensorFlow imports for a converter nothing here uses, is not imported (65 MB of the
server's memory), nor TensorFlow itself when the model has no TensorFlow component (about 300 MB;
tools/rasa_patches/unused_imports.py).

8. Rasa's graphs (the NLU pipeline, the policies) run node after node in dependency order instead of
through dask's scheduler (tools/rasa_patches/graph_runner.py).

All replace Rasa internals, so they are applied only on the Rasa versions they were
tested with (`TESTED_RASA_VERSIONS`); `apply` refuses any other.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from tools.rasa_patches.faults import (
    PartUnavailable,
    action_server_timeout,
    add_root_and_ready_routes,
    failed_part,
    handle_message_or_say_why_not,
    remote_action_run_or_raise,
    run_action_or_raise,
    tracker_store_retrieve_full_or_raise,
    tracker_store_retrieve_or_raise,
    tracker_store_save_or_raise,
)
from tools.rasa_patches.graph_runner import run_graph_in_order
from tools.rasa_patches.hot_path import validate_action_result
from tools.rasa_patches.log_masking import _client_response_error_init, masking_log_processor
from tools.rasa_patches.originals import RASA_ORIGINALS as _RASA_ORIGINALS
from tools.rasa_patches.policy_window import load_with_window, prediction_states_from_latest
from tools.rasa_patches.turn_cost import (
    _LogArgumentCopies,
    action_call_with_what_actions_read,
    applied_events_resumed,
    copy_tracker,
    format_tracker_states_when_logged,
    states_for_tracker_history_resumed,
)
from tools.rasa_patches.unused_imports import refuse_unused_imports

__all__ = [
    "TESTED_RASA_VERSIONS",
    "PartUnavailable",
    "UntestedRasaVersion",
    "apply",
    "check_rasa_version",
    "failed_part",
    "handle_message_or_say_why_not",
    "install_turn_timings",
    "remote_action_run_or_raise",
    "run_action_or_raise",
    "validate_action_result",
]

TESTED_RASA_VERSIONS = frozenset({"3.6.21"})


class UntestedRasaVersion(RuntimeError):
    """The installed Rasa is not one the patches were tested with."""


def check_rasa_version(version: str) -> None:
    """Raise `UntestedRasaVersion` unless `version` is one the patches were tested with."""
    if version not in TESTED_RASA_VERSIONS:
        raise UntestedRasaVersion(
            f"Rasa {version} is installed, but tools/rasa_patches/ was tested with "
            f"{', '.join(sorted(TESTED_RASA_VERSIONS))} only: install the pinned version "
            "(requirements.txt) or re-measure the patches and add the version."
        )


def install_turn_timings(path: Any) -> None:
    """`make profile` only (TURN_PROFILE_FILE): time each part of every turn (tools/turn_profile.py)."""
    import rasa

    from tools import turn_profile

    check_rasa_version(rasa.__version__)
    turn_profile.install(path)


def apply(model: Optional[Path] = None) -> None:
    """Check the Rasa version, then install the patches (idempotent). `model`: the archive the server
    will load, when known (TensorFlow is kept out of the process if it does not need it, patch 7)."""
    refuse_unused_imports(model)  # before anything below imports TensorFlow
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
    _RASA_ORIGINALS.setdefault("remote_action_run", RemoteAction.run)
    RemoteAction.run = remote_action_run_or_raise
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
    from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer

    _RASA_ORIGINALS.setdefault("memoization_load", memoization.MemoizationPolicy.load.__func__)
    _RASA_ORIGINALS.setdefault("prediction_states", MaxHistoryTrackerFeaturizer.prediction_states)
    memoization.MemoizationPolicy.load = classmethod(load_with_window)
    MaxHistoryTrackerFeaturizer.prediction_states = prediction_states_from_latest
    # Graphs run in dependency order, without dask's scheduler (patch 8).
    from rasa.engine.runner.dask import DaskGraphRunner

    _RASA_ORIGINALS.setdefault("graph_run", DaskGraphRunner.run)
    DaskGraphRunner.run = run_graph_in_order
