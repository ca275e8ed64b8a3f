"""Prometheus metrics: the metric objects and helpers (`registry`), the request middleware,
the token-guarded `/metrics` view, scrape-time collectors (broker queue depth) and the
process hooks that keep multiprocess mode honest. See README, "Deployment"."""
