"""Where requests enter: the API, signed output files, the embedded archive and the admin."""
from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from rest_framework.authtoken.views import obtain_auth_token

from datalab.datalab_session.views import output_file_view

urlpatterns = [
    path("api/auth/token/", obtain_auth_token, name="api-token"),
    path("api/", include("datalab.datalab_session.urls")),
    path("outputs/<str:basename>/<str:kind>/", output_file_view, name="output-file"),
    path("archive/", include("datalab.local_archive.urls")),
    path("admin/", admin.site.urls),
    path("api-auth/", include("rest_framework.urls")),
]


def json_not_found(request, exception=None):
    return JsonResponse({"error": "Not found."}, status=404)


def json_server_error(request):
    return JsonResponse({"error": "Internal server error; the failure has been logged."}, status=500)


handler404 = json_not_found
handler500 = json_server_error
