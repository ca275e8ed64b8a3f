"""Extractors that turn one event into propositions: `offline` (rules), `llm`, and
the temporal resolution they share (`temporal`)."""
