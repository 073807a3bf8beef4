"""Analytics: what happens in conversations, as events, and the metrics a support lead reads.

Plain Python. Events are plain data (no message text); metrics are computed from a list of
events with each definition written once, in metrics.py, and cited in the README.
"""
