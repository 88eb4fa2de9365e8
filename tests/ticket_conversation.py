"""One ticket opened and its status asked through the real actions, with a given backend's settings
(the helpdesk backends' integration tests compare what the user reads with the built-in store's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import pytest

from core.settings import Settings

CONFIRMED = {
    "problem": "forgot_password",
    "guide_stage": "done",
    "has_recovery": False,
    "contact_email": "jane@corp.example",
    "ticket_confirmed": True,
    "ticket_request_id": "r1",
}
# Every ticket and helpdesk setting: cleared before each conversation, so only `environ` counts.
BACKEND_VARIABLES = [
    name for name in Settings.env_names().values() if name.startswith(("TICKET_", "RT_", "JIRA_", "SERVICENOW_"))
]


def converse(monkeypatch: pytest.MonkeyPatch, environ: Dict[str, str], db: Path) -> Dict[str, Any]:
    """Open a ticket and ask its status through the real actions, with these settings."""
    from actions.ticket_actions import ActionSubmitTicket, ActionTicketStatus, ticket_desk, ticket_store
    from core.settings import get_settings
    from tests.trackers import make_tracker, run_action, texts

    for name in BACKEND_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TICKETS_DB_URL", f"sqlite:///{db}")
    get_settings.cache_clear()
    ticket_store.cache_clear()

    def turn(action: Any, intent: str, slots: Dict[str, Any]) -> str:
        tracker = make_tracker(intent, slots=slots)
        tracker.sender_id = "alice"
        for event in tracker.events:
            event["input_channel"] = "rest"
        messages, _ = run_action(action, tracker)
        return texts(messages)

    result = {"confirmation": turn(ActionSubmitTicket(), "affirm", CONFIRMED)}
    result["status"] = turn(ActionTicketStatus(), "ticket_status", {})
    result["desk"] = ticket_desk()
    result["status_again"] = lambda: turn(ActionTicketStatus(), "ticket_status", {})
    return result
