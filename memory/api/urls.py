from django.urls import path

from memory.api import views

urlpatterns = [
    path("v1/ingest", views.IngestView.as_view()),
    path("v1/events/<str:event_id>", views.EventDetailView.as_view()),
    path("v1/recall", views.RecallV1View.as_view()),
    path("v1/forget", views.ForgetView.as_view()),
]
