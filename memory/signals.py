"""Signals memory sends for apps that depend on it (memory may not import them).

`event_stored` fires after commit of a new event; `enrichment` connects it to the
pipeline. No business flow lives in receivers beyond scheduling.
"""

from django.dispatch import Signal

event_stored = Signal()  # kwargs: event_id
