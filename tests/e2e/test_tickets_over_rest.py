"""End to end: open a ticket over REST, staff change it with the CLI, the user sees it; concurrency."""

from __future__ import annotations

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import List

from tests.e2e.servers import ROOT, conversation_id
from tests.e2e.test_rest_conversations import button_payload, text_of
from tickets.store import TicketStore

TICKET_ID = re.compile(r"\bALM-\d{6}\b")


def open_ticket_after_failed_step(servers, sender: str, email: str = "jane.doe@corp.example") -> List[dict]:
    """Walk the ESO_LOCAL_SPAM guide to a failed step and through the ticket form; returns the last replies."""
    servers.say(sender, "Delivery failed: 554 ESO_LOCAL_SPAM: spamed by local spam engine")
    replies = servers.say(sender, "/step_failed")
    replies = servers.say(sender, button_payload(replies, "Open a ticket"))
    assert "Which email address" in text_of(replies)
    replies = servers.say(sender, "how long is the sms code valid")  # an FAQ mid-form
    assert "expires after 5 minutes" in text_of(replies)
    assert "Which email address" in text_of(replies)
    replies = servers.say(sender, "jane.doe@corp")
    assert "doesn't look like an email address" in text_of(replies)
    replies = servers.say(sender, email)
    assert ".eml" in text_of(replies)
    replies = servers.say(sender, button_payload(replies, "I'll attach it when support replies"))
    assert "Here's the ticket I'll open" in text_of(replies)
    assert "Error code: ESO_LOCAL_SPAM" in text_of(replies)
    return servers.say(sender, button_payload(replies, "Yes, open it"))


def cli(servers, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "tickets.cli", "--db-url", servers.tickets_db_url, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_ticket_opened_in_chat_updated_by_staff_seen_in_chat(servers, sender):
    replies = open_ticket_after_failed_step(servers, sender)
    ticket_id = TICKET_ID.search(text_of(replies)).group(0)
    assert "support queue" in text_of(replies)

    ticket = TicketStore(servers.tickets_db_url).get(ticket_id)
    assert (ticket.problem, ticket.error_code, ticket.channel, ticket.sender_id) == (
        "eso_local_spam",
        "ESO_LOCAL_SPAM",
        "rest",
        conversation_id(sender),  # REST conversations are kept apart from other channels' ids
    )
    assert ticket.contact_email == "jane.doe@corp.example"
    assert ticket.eml_delivery == "I'll attach it when support replies"
    assert any("(failed)" in step for step in ticket.steps_tried)
    assert any(line["who"] == "user" and "ESO_LOCAL_SPAM" in line["text"] for line in ticket.transcript)

    cli(servers, "status", ticket_id, "in_progress", "--by", "pm-anna")
    cli(servers, "comment", ticket_id, "Please send the .eml to postmaster@corp.example", "--by", "pm-anna")
    replies = servers.say(sender, f"status of {ticket_id}")
    assert "in progress" in text_of(replies)
    assert "Please send the .eml to postmaster@corp.example" in text_of(replies)
    assert ticket_id in text_of(servers.say(sender, "what's the status of my ticket"))


def test_another_sender_gets_not_found(servers, sender):
    replies = open_ticket_after_failed_step(servers, sender)
    ticket_id = TICKET_ID.search(text_of(replies)).group(0)
    stranger = sender + "-stranger"
    theirs = text_of(servers.say(stranger, f"status of {ticket_id}")).replace(ticket_id, "ID")
    missing = text_of(servers.say(stranger, "status of ALM-999999")).replace("ALM-999999", "ID")
    assert theirs == missing and "couldn't find" in theirs


def test_a_retried_confirmation_opens_one_ticket(servers, sender):
    replies = open_ticket_after_failed_step(servers, sender)
    ticket_id = TICKET_ID.search(text_of(replies)).group(0)
    servers.say(sender, "/affirm")  # the same confirmation delivered again
    mine = TicketStore(servers.tickets_db_url).list_for_sender(conversation_id(sender), "rest")
    assert [t.id for t in mine] == [ticket_id]


def test_twenty_conversations_confirming_at_once_get_twenty_tickets(servers, sender):
    senders = [f"{sender}-{n}" for n in range(20)]
    confirmations = {}
    for name in senders:  # bring each conversation to the summary
        servers.say(name, "open a ticket")
        servers.say(name, f"{name}@corp.example")
        confirmations[name] = servers.say(name, "my mail to a customer is rejected as spam, SpamDetected")

    def confirm(name: str) -> str:
        return text_of(servers.say(name, button_payload(confirmations[name], "Yes, open it")))

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(confirm, senders))
    ids = [TICKET_ID.search(answer).group(0) for answer in answers]
    assert len(set(ids)) == 20
    store = TicketStore(servers.tickets_db_url)
    for name, ticket_id in zip(senders, ids):
        assert [t.id for t in store.list_for_sender(conversation_id(name), "rest")] == [ticket_id]
