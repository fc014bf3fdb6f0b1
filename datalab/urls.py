"""Where requests enter: the API, signed output files, the embedded archive and the admin."""
from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from datalab.datalab_session.views import output_file_view
from datalab.login_views import admin_login, browsable_api_login, obtain_auth_token
from datalab.observability.health import ReadinessView, healthz
from datalab.observability.metrics import metrics_view

urlpatterns = [
    path("api/auth/token/", obtain_auth_token, name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/schema/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/analysis/", include("datalab.analysis.urls")),
    path("api/", include("datalab.datalab_session.urls")),
    path("outputs/<str:basename>/<str:kind>/", output_file_view, name="output-file"),
    path("archive/", include("datalab.local_archive.urls")),
    path("portal/", include("datalab.portal.urls")),
    path("thumbnails/", include("datalab.thumbnails.urls")),
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("readyz", ReadinessView.as_view(), name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("api-auth/login/", browsable_api_login, name="api-auth-login"),
    path("api-auth/", include("rest_framework.urls")),
]


def json_bad_request(request, exception=None):
    return JsonResponse({"error": "Bad request."}, status=400)


def json_forbidden(request, exception=None):
    return JsonResponse({"error": "Forbidden."}, status=403)


def json_not_found(request, exception=None):
    return JsonResponse({"error": "Not found."}, status=404)


def json_server_error(request):
    return JsonResponse({"error": "Internal server error; the failure has been logged."}, status=500)


handler400 = json_bad_request
handler403 = json_forbidden
handler404 = json_not_found
handler500 = json_server_error
