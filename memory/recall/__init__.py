"""Recall: retrieve the memory that matters for a query and pack it into a token budget.

`engine.memory_recall` is the entry point; channels retrieve, `fusion` merges rankings,
`packing` writes the budgeted context. `replica` chooses the database its reads go to (a
streaming replica that has caught up with the user, else the primary).
"""
