"""Recall: retrieve the memory that matters for a query and pack it into a token budget.

`engine.memory_recall` is the entry point; channels retrieve, `fusion` merges rankings,
`packing` writes the budgeted context.
"""
