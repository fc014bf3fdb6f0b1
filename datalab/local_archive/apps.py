from django.apps import AppConfig


class LocalArchiveConfig(AppConfig):
    """Serves LOCAL_ARCHIVE_DIR with the archive's frames API, so one client runs everywhere."""

    name = "datalab.local_archive"
    label = "local_archive"
    verbose_name = "Local archive"
    default_auto_field = "django.db.models.BigAutoField"
