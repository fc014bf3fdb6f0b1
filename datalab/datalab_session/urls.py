"""API routes. Trailing slashes are optional: the front end deletes sessions without one."""
from django.urls import include, path
from rest_framework.routers import DefaultRouter

from datalab.datalab_session import views


class OptionalSlashRouter(DefaultRouter):
    include_format_suffixes = False

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("datasessions", views.DataSessionViewSet, basename="datasession")
router.register(
    r"datasessions/(?P<session_pk>[^/.]+)/operations", views.DataOperationViewSet, basename="dataoperation"
)

urlpatterns = [
    path("available_operations/", views.available_operations_view, name="available-operations"),
    path("", include(router.urls)),
]
