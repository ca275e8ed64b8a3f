"""WSGI entry point, for WSGI servers only: the project's server is ASGI (claiv.asgi, run
by claiv.gunicorn_conf). Under WSGI, chunked bodies are refused with 411 and slow clients
are the server's problem."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claiv.settings")
application = get_wsgi_application()
