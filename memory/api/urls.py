from django.urls import path

from memory.api import audit, batch, documents, memories, portability, receipts, usage, v6, views

urlpatterns = [
    path("v1/ingest", views.IngestView.as_view()),
    path("v1/events/<str:event_id>", views.EventDetailView.as_view()),
    path("v1/recall", views.RecallV1View.as_view()),
    path("v1/forget", views.ForgetView.as_view()),
    path("v1/ingest/batch", batch.BatchIngestView.as_view()),
    # The v6 trio; forget is the same operation in both generations.
    path("v6/ingest", v6.IngestV6View.as_view()),
    path("v6/recall", v6.RecallV6View.as_view()),
    path("v6/forget", views.ForgetView.as_view()),
    # The official SDK's recall_v2/forget_v2 post the v1 body shapes to /v2/*.
    path("v2/recall", views.RecallV1View.as_view()),
    path("v2/forget", views.ForgetView.as_view()),
    # public-key and head before <receipt_id>, which would otherwise match them.
    path("v1/deletion-receipts", receipts.ReceiptListView.as_view()),
    path("v1/deletion-receipts/public-key", receipts.ReceiptPublicKeyView.as_view()),
    path("v1/deletion-receipts/head", receipts.ReceiptHeadView.as_view()),
    path("v1/deletion-receipts/<str:receipt_id>", receipts.ReceiptDetailView.as_view()),
    path("v1/usage/summary", usage.UsageSummaryView.as_view()),
    path("v1/usage/breakdown", usage.UsageBreakdownView.as_view()),
    path("v1/usage/limits", usage.UsageLimitsView.as_view()),
    # Memories one by one (issue #17).
    path("v1/memories", memories.MemoriesView.as_view()),
    path("v1/memories/<str:memory_id>", memories.MemoryDetailView.as_view()),
    path("v1/memories/<str:memory_id>/supersede", memories.MemorySupersedeView.as_view()),
    path("v1/search", memories.SearchView.as_view()),
    path("v1/audit", audit.AuditListView.as_view()),
    # Export and import as jobs (issue #17).
    path("v1/exports", portability.ExportsView.as_view()),
    path("v1/exports/<str:job_id>", portability.ExportDetailView.as_view()),
    path("v1/exports/<str:job_id>/download", portability.ExportDownloadView.as_view()),
    path("v1/imports", portability.ImportsView.as_view()),
    path("v1/imports/<str:job_id>", portability.ImportDetailView.as_view()),
    # Documents and collections (API.md §8, issue #18).
    path("v6/documents", documents.DocumentsView.as_view()),
    path("v6/documents/<str:document_id>", documents.DocumentDetailView.as_view()),
    path("v6/documents/<str:document_id>/status", documents.DocumentStatusView.as_view()),
    path("v6/collections", documents.CollectionsView.as_view()),
    path("v6/collections/<str:collection_id>", documents.CollectionDetailView.as_view()),
    path(
        "v6/collections/<str:collection_id>/documents",
        documents.CollectionDocumentsView.as_view(),
    ),
    path(
        "v6/collections/<str:collection_id>/documents/<str:document_id>",
        documents.CollectionDocumentView.as_view(),
    ),
]
