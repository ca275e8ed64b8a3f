"""gunicorn config for `bench.ingest_inflight --wait-probe`: the product's settings and
hooks (`claiv.gunicorn_conf`), with `bench.wait_probe` installed in each worker."""

from typing import Any

from claiv.gunicorn_conf import *  # noqa: F403 - the product's settings, unchanged
from claiv.gunicorn_conf import post_worker_init as _product_post_worker_init


def post_worker_init(worker: Any) -> None:
    _product_post_worker_init(worker)
    from bench.wait_probe import install

    install()
