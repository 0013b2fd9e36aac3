"""Admin page of the import runs (read-only: the upload page and the
``import_data`` command make them)."""

from __future__ import annotations

from django.contrib import admin

from core.admin import ReadOnlyAdmin

from .models import ImportRun


@admin.register(ImportRun)
class ImportRunAdmin(ReadOnlyAdmin):
    """Read-only: runs are made by the upload page (/imports/) and the
    ``import_data`` command; old ones may be deleted."""

    list_display = ("created_at", "file_name", "kind", "file_format", "status", "created_by")
    list_filter = ("status", "kind", "file_format")
    list_select_related = ("created_by",)
    search_fields = ("file_name", "sha256")
    date_hierarchy = "created_at"
    deletable = True
