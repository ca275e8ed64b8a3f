"""The offline extractor: deterministic rules that turn one event into propositions.

In this package, one module per seam (each imports only modules listed before it):
`words` (word lists), `clause` (the clause a rule reads, what it finds, object
cleaning, the per-event context), `handlers` (what a matched verb phrase yields),
`rules` (the rule table), `verb_phrases` (normalising the verb phrase, then the rules),
`structured` (tool calls and app events), `attributes` ("my X is Y", contact details),
`subjects` ("my sister Anna …"; subject patterns) and `extractor` (`OfflineExtractor`,
the default extractor: no network, no model; a clause is read in named steps).
Sentence and clause splitting with character offsets is
`enrichment/extraction/sentences.py`. Names keep their leading underscore:
they are private to this package, and only `OfflineExtractor` is its interface.

Not in this package: the LLM extractor, mapping propositions onto stored facts (Map),
utility scoring (the gate stage), the predicate catalog (memory/vocabulary/predicates.py).

Decisions a reader needs to know:
- Subjects. A user-role (or role-less) "I/my/me/we" is `USER_SUBJECT`. A line that
  starts with a speaker prefix ("Alice: I went…") makes "I" = "Alice". Assistant-role
  "you/your" is the user (confidence 0.6); assistant-role "I" is the assistant and
  yields nothing. "My sister Anna lives in Rome" gives Anna lives_in Rome *and* user
  has_sibling Anna. "he/she" resolve to the last third party named in the same event.
- Negation. Stative predicates keep their predicate with `negated=True` ("I no longer
  work at X" → works_at X negated; "I used to live in Y" → lives_in Y negated).
  Negated liking ("I don't like X", "not a fan of X") becomes `dislikes` X, not a
  negated `likes`, because "dislikes" is what recall wants to find. Negated eating or
  drinking ("I don't eat meat") is `diet` with the food and `negated=True`.
- Hedges, conditionals and questions yield nothing: a question or an "if/whether"
  sentence is skipped whole; a hedged clause ("might", "maybe", "I'd", "thinking
  about") is skipped on its own.
- `source_text` is always the whole sentence the proposition came from (without a
  speaker prefix), so `content[start:end] == source_text`.
"""

from enrichment.extraction.offline.extractor import OfflineExtractor

__all__ = ["OfflineExtractor"]
