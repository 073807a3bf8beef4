"""Telling customers first: subscriptions, the outbox and its sender, order events.

Plain Python. An update is written to the store before anything is sent (the outbox);
a sender finds due updates, takes a lease on each so that one instance sends it, and
delivers it on the channel the customer used last that may be written to now, within
each channel's rules and the customer's quiet hours.
"""
