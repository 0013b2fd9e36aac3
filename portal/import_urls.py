"""``/imports/``: the staff upload pages (``portal.views.imports``)."""

from django.urls import path

from .views import imports as import_views

app_name = "imports"

urlpatterns = [
    path("", import_views.ImportRunListView.as_view(), name="list"),
    path("new/", import_views.ImportRunCreateView.as_view(), name="new"),
    path("<int:pk>/", import_views.ImportRunDetailView.as_view(), name="detail"),
    path("<int:pk>/confirm/", import_views.ImportRunConfirmView.as_view(), name="confirm"),
    path("<int:pk>/progress", import_views.ImportRunProgressView.as_view(), name="progress"),
]
