"""Documents and collections (API.md §8, CLAIV V6.4): a user's uploaded texts, parsed into
a section tree and overlapping spans (embedded and keyword-indexed), distilled into
summaries in the background, grouped into collections, and recalled by strategy.

Modules: `models` (rows), `parse` (sections and spans of a text), `store` (upload,
replace, delete, collections), `selectors` (reads for the API and console).
Recall over documents is `memory.recall.documents`; distillation is `enrichment.documents`.
"""
