"""Claiv Memory project package: settings, Celery app, URL routing, errors, API base."""

from claiv.celery import app as celery_app

__all__ = ["celery_app"]
