# Production image: API (gunicorn), worker and beat share it; the command picks the role.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 CLAIV_ENV=production
WORKDIR /app

# torch first and pinned. Pass TORCH_PIP_ARGS="--index-url <your CPU-only torch index>" to
# keep CUDA libraries out of the image; the default registry build works but is large.
ARG TORCH_PIP_ARGS=""
RUN pip install $TORCH_PIP_ARGS torch==2.13.0
COPY pyproject.toml README.md ./
RUN pip install .
COPY . .
# Export the embedding model to ONNX now (memory.embedding caches it under .data/models),
# so no container pays the export (~1 s and a 90 MB write) or needs a writable cache.
RUN mkdir -p .data/models && python -c "from pathlib import Path; \
from memory.embedding import LocalEmbedder; LocalEmbedder(cache_dir=Path('.data/models'))"
# PROMETHEUS_MULTIPROC_DIR of docker-compose.yml: the directory must exist before any process starts.
RUN useradd --system --uid 10001 claiv && chown -R claiv /app \
    && mkdir -p /tmp/claiv-metrics && chown claiv /tmp/claiv-metrics
USER claiv

EXPOSE 8000
# gunicorn's ASGI worker (claiv.gunicorn_conf names the app, claiv.asgi): idle or slow clients
# hold a socket, not a worker, so the API can face clients without a buffering proxy.
CMD ["gunicorn", "--config", "python:claiv.gunicorn_conf", "--bind", "0.0.0.0:8000", "--workers", "3"]
