"""The domain core: what the assistant knows and says, independent of Rasa.

The knowledge file and its model (`knowledge`), the guide's state machine (`guide`,
`menus`), the phrases in both languages (`phrases`, `language`), the ticket vocabulary
(`ticket_draft`), what counts as a secret (`secrets`) and the settings (`settings`). Every
other package imports from here; this package imports none of them (ARCHITECTURE.md).
"""
