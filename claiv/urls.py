"""URL routing: health probes, the API, the console."""

from django.contrib import admin
from django.urls import include, path

from claiv import health

urlpatterns = [
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("", include("memory.api.urls")),
    path("console/", admin.site.urls),
]

handler400 = "claiv.errors.handler400"
handler403 = "claiv.errors.handler403"
handler404 = "claiv.errors.handler404"
handler500 = "claiv.errors.handler500"
