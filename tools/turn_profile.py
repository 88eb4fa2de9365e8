"""Where one turn's time goes (`make profile`): timing wrappers around Rasa's parts, one JSON line per turn.

Installed only when TURN_PROFILE_FILE is set (`tools.serve` → `tools.rasa_patches.install_turn_timings`
in the Rasa process, `tools.action_server` in the action server); without it nothing here runs.
Each wrapper adds its wall time (ms) to the current turn's record under a part name; the turn is
`Agent.handle_message` (lock included), written when it ends. Parts nest (the NLU's components run
inside "nlu"): the report (tools/bench/profile.py) says which are parts of which.

Part names, Rasa side:

- `turn`: `Agent.handle_message`, everything after the channel handed the message over;
- `lock`: taking and releasing the conversation's lock (`LockStore.issue_ticket`, `_acquire_lock`, `cleanup`);
- `tracker.read`: `MessageProcessor.get_tracker` (the tracker store's retrieve), of which
  `tracker.read.deserialise`: `DialogueStateTracker.from_dict` (events → tracker);
- `tracker.session`: the session check (`_update_tracker_session`);
- `tracker.write`: `MessageProcessor.save_tracker` (the tracker store's save);
- `nlu`: `MessageProcessor.parse_message`, of which `nlu.<node>` for each graph node;
- `policies`: `MessageProcessor._predict_next_with_tracker`, of which `policies.<node>`;
- `tracker.copy`: `DialogueStateTracker.copy` (Rasa copies the tracker before every action);
- `action.<name>`: `MessageProcessor._run_action` for each action run, of which for a custom action
  `remote.body` (`RemoteAction._action_call_format`: tracker and domain to a dict),
  `remote.http` (`EndpointConfig.request`: JSON encoding, the HTTP round trip, the action server) and
  `nlg` (`TemplatedNaturalLanguageGenerator.generate`: rendering a response);
- `remote.request_kb`: size of the JSON bodies sent to the action server (kB, not ms).

Action server side (`<file>.actions`, one line per call): `handler` (the webhook from request to
response: JSON decoding, `Tracker.from_dict`, the action, JSON encoding) and `action` (`ActionExecutor.run`).
"""

from __future__ import annotations

import functools
import json
import time
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Callable, Dict, Optional

_turn: ContextVar[Optional[Dict[str, Any]]] = ContextVar("alimail_turn", default=None)
_section: ContextVar[str] = ContextVar("alimail_turn_section", default="")
MARK = "_alimail_turn_timed"


def add(part: str, ms: float) -> None:
    """Add `ms` to `part` of the current turn (nothing outside a turn)."""
    record = _turn.get()
    if record is not None:
        parts = record["parts"]
        parts[part] = parts.get(part, 0.0) + ms
        counts = record["counts"]
        counts[part] = counts.get(part, 0) + 1


def _elapsed_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def timed_async(fn: Callable[..., Any], part: Callable[..., str], section: Optional[str] = None) -> Callable[..., Any]:
    """`fn` (a coroutine function) timed under `part(*args)`; `section` names the parts nested in it."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        token = _section.set(section) if section else None
        try:
            return await fn(*args, **kwargs)
        finally:
            if token is not None:
                _section.reset(token)
            add(part(*args, **kwargs), _elapsed_ms(start))

    setattr(wrapper, MARK, True)
    return wrapper


def timed_sync(fn: Callable[..., Any], part: Callable[..., str], section: Optional[str] = None) -> Callable[..., Any]:
    """`fn` timed under `part(*args)`; `section` names the parts nested in it."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        token = _section.set(section) if section else None
        try:
            return fn(*args, **kwargs)
        finally:
            if token is not None:
                _section.reset(token)
            add(part(*args, **kwargs), _elapsed_ms(start))

    setattr(wrapper, MARK, True)
    return wrapper


def _fixed(name: str) -> Callable[..., str]:
    return lambda *args, **kwargs: name


def _node_part(node: Any, *args: Any) -> str:
    return f"{_section.get() or 'graph'}.{getattr(node, '_node_name', '?')}"


def _action_part(processor: Any, action: Any, *args: Any, **kwargs: Any) -> str:
    return f"action.{action.name()}"


def write_line(path: Path, record: Dict[str, Any]) -> None:
    """Append one JSON line (one writer per file and process: the lines stay whole)."""
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def turn_wrapper(fn: Callable[..., Any], path: Path) -> Callable[..., Any]:
    """`Agent.handle_message`, recording the turn's parts and writing them to `path` when it ends."""

    @functools.wraps(fn)
    async def handle_message(agent: Any, message: Any) -> Any:
        record: Dict[str, Any] = {"sender": message.sender_id, "parts": {}, "counts": {}}
        token = _turn.set(record)
        start = time.perf_counter()
        try:
            return await fn(agent, message)
        finally:
            record["parts"]["turn"] = _elapsed_ms(start)
            _turn.reset(token)
            write_line(path, record)

    setattr(handle_message, MARK, True)
    return handle_message


def _request_size(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`RemoteAction._action_call_format`, also noting the body's JSON size (outside the timed part)."""

    @functools.wraps(fn)
    def body(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        record = _turn.get()
        if record is not None:
            start = time.perf_counter()
            add("remote.request_kb", len(json.dumps(result, default=str)) / 1000.0)
            # measuring the size costs time: the report takes it off the turn
            record["overhead_ms"] = record.get("overhead_ms", 0.0) + _elapsed_ms(start)
        return result

    return body


def install(path: Path) -> None:
    """Wrap Rasa's parts (idempotent). Called by `tools.rasa_patches.install_turn_timings` only."""
    from rasa.core.actions.action import RemoteAction
    from rasa.core.agent import Agent
    from rasa.core.lock_store import LockStore
    from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
    from rasa.core.processor import MessageProcessor
    from rasa.engine.graph import GraphNode
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    if getattr(Agent.handle_message, MARK, False):
        return
    Agent.handle_message = turn_wrapper(Agent.handle_message, path)
    LockStore.issue_ticket = timed_sync(LockStore.issue_ticket, _fixed("lock"))
    LockStore._acquire_lock = timed_async(LockStore._acquire_lock, _fixed("lock"))
    LockStore.cleanup = timed_sync(LockStore.cleanup, _fixed("lock"))
    MessageProcessor.get_tracker = timed_async(MessageProcessor.get_tracker, _fixed("tracker.read"))
    from_dict = DialogueStateTracker.from_dict.__func__
    DialogueStateTracker.from_dict = classmethod(timed_sync(from_dict, _fixed("tracker.read.deserialise")))
    MessageProcessor._update_tracker_session = timed_async(
        MessageProcessor._update_tracker_session, _fixed("tracker.session")
    )
    MessageProcessor.save_tracker = timed_async(MessageProcessor.save_tracker, _fixed("tracker.write"))
    MessageProcessor.parse_message = timed_async(MessageProcessor.parse_message, _fixed("nlu"), section="nlu")
    MessageProcessor._predict_next_with_tracker = timed_sync(
        MessageProcessor._predict_next_with_tracker, _fixed("policies"), section="policies"
    )
    GraphNode.__call__ = timed_sync(GraphNode.__call__, _node_part)
    DialogueStateTracker.copy = timed_sync(DialogueStateTracker.copy, _fixed("tracker.copy"))
    MessageProcessor._run_action = timed_async(MessageProcessor._run_action, _action_part)
    RemoteAction._action_call_format = _request_size(
        timed_sync(RemoteAction._action_call_format, _fixed("remote.body"))
    )
    EndpointConfig.request = timed_async(EndpointConfig.request, _fixed("remote.http"))
    TemplatedNaturalLanguageGenerator.generate = timed_async(TemplatedNaturalLanguageGenerator.generate, _fixed("nlg"))


def install_action_server(app: Any, path: Path) -> None:
    """Time the action server's webhook and `ActionExecutor.run`: one JSON line per call to `path`."""
    from rasa_sdk.executor import ActionExecutor

    if not getattr(ActionExecutor.run, MARK, False):
        ActionExecutor.run = timed_async(ActionExecutor.run, _fixed("action"))

    async def start(request: Any) -> None:
        if request.path.endswith("/webhook"):
            request.ctx.alimail_turn = {"sender": None, "parts": {}, "counts": {}}
            request.ctx.alimail_token = _turn.set(request.ctx.alimail_turn)
            request.ctx.alimail_start = time.perf_counter()

    async def end(request: Any, response: Any) -> None:
        record = getattr(request.ctx, "alimail_turn", None)
        if record is None:
            return
        record["parts"]["handler"] = _elapsed_ms(request.ctx.alimail_start)
        body = request.json if isinstance(request.json, dict) else {}
        record["sender"], record["action"] = body.get("sender_id"), body.get("next_action")
        write_line(path, record)

    app.register_middleware(start, "request")
    app.register_middleware(end, "response")
