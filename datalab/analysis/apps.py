from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "datalab.analysis"
    label = "analysis"
    verbose_name = "Image analysis"
