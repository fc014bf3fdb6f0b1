from django.contrib import admin

from datalab.local_archive.models import ArchiveFrame


@admin.register(ArchiveFrame)
class ArchiveFrameAdmin(admin.ModelAdmin):
    """Read-mostly view of the index; the files on disk are the truth (re-run index_archive)."""

    list_display = ("basename", "primary_optical_element", "target_name", "proposal_id", "public_date")
    list_filter = ("primary_optical_element", "proposal_id", "site_id")
    search_fields = ("basename", "target_name", "proposal_id")
    readonly_fields = ("md5", "size", "area", "headers", "version_created")
    ordering = ("-observation_date",)
