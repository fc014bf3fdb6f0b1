from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "datalab.portal"
    label = "portal"
    verbose_name = "Observation-portal compatible login"
