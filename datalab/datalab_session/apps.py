from django.apps import AppConfig


class DatalabSessionConfig(AppConfig):
    """Data sessions and their operations: the API's core."""

    name = "datalab.datalab_session"
    label = "datalab_session"
    verbose_name = "Data sessions"

    def ready(self) -> None:
        from datalab.datalab_session import (
            embedded_worker,
            signals,  # noqa: F401
        )

        embedded_worker.start_if_enabled()
