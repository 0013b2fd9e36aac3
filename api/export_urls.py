"""/exports/<name>.csv and /exports/<name>.xlsx (see api/exports.py)."""

from django.urls import path

from . import exports

app_name = "exports"

urlpatterns = [
    path(f"{name}.{fmt}", view.as_view(), {"fmt": fmt}, name=f"{name}-{fmt}")
    for name, view in [
        ("partners", exports.PartnerExport),
        ("evaluations", exports.EvaluationExport),
        ("revenue", exports.RevenueExport),
    ]
    for fmt in ("csv", "xlsx")
]
