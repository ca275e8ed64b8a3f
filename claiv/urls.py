"""URL routing: health probes, the API and its OpenAPI description, the console."""

from pathlib import Path

import drf_spectacular_sidecar
from django.conf import settings
from django.contrib import admin
from django.contrib.staticfiles.views import serve as static_serve
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from django.views.static import serve
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from claiv import health
from claiv.metrics.exposition import metrics_view

# Swagger UI's assets ship in drf-spectacular-sidecar and are served from here whatever
# CLAIV_SERVE_STATIC says: /docs needs no CDN, collectstatic or front proxy.
_SIDECAR_STATIC = Path(drf_spectacular_sidecar.__file__).parent / "static"

urlpatterns = [
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("metrics", metrics_view),
    path("", include("memory.api.urls")),
    path("v1/openapi.json", SpectacularJSONAPIView.as_view(), name="openapi-schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="docs"),
    re_path(
        r"^static/(?P<path>drf_spectacular_sidecar/.+)$", serve, {"document_root": _SIDECAR_STATIC}
    ),
    path("console", RedirectView.as_view(url="/console/")),
    path("console/", admin.site.urls),
]
if settings.CLAIV_SERVE_STATIC:  # the console's CSS/JS without a separate static server
    urlpatterns.append(re_path(r"^static/(?P<path>.*)$", static_serve, {"insecure": True}))

handler400 = "claiv.errors.handler400"
handler403 = "claiv.errors.handler403"
handler404 = "claiv.errors.handler404"
handler500 = "claiv.errors.handler500"
