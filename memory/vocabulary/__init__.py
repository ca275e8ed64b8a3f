"""The vocabulary memory is written in: the predicate catalog and the temporal parser.

Pure modules (no models, no Celery, no I/O) shared by enrichment (extraction, Map) and
recall (query routing), so that both agree on what a phrase or a time expression means.
memory owns them because the stored facts are written in these terms.
"""
