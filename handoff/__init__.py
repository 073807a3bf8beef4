"""Hand-off to a person: cases, the queue, business hours and the agent desks.

Plain Python. A case is one customer's request for a person, kept as a document in
the bot's store (`cases/<id>`), so it survives restarts and is shared by every
instance; each state change is an etag'd write, so two instances (or two agents)
can never both make the same change. Desks (Teams, a contact center) implement
`AgentDesk`; dialogs and the bot talk only to `HandoffService`.
"""
