"""What the custom actions read of the conversation's events; Rasa sends the action server no more.

Every action reads the slots, the latest message, the active loop (Rasa sends these whole) and at most
the events of the current turn: the privacy notice looks back to the latest user message
(actions/privacy.py), the ticket form's validation reads the slots set since then (rasa_sdk's
`slots_to_validate`), the input channel is the latest user message's. The actions below read more.
tools/rasa_patches/ sends the events from the latest user message on, or all of this session's for
these (README, "Where a turn's time goes"); tests/unit/actions/test_history.py checks that no other
action reads older events.
"""

# The ticket's transcript is the conversation's messages (core.ticket_draft.transcript).
FULL_HISTORY_ACTIONS = frozenset({"action_submit_ticket"})
