"""The Postgres database backend of the ASGI server: Django's, with a pool check that
costs no round trip (claiv.postgres.base)."""
