from django.apps import AppConfig


class ThumbnailsConfig(AppConfig):
    name = "datalab.thumbnails"
    label = "thumbnails"
    verbose_name = "Thumbnails by basename"
