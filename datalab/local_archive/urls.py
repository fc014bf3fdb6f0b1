"""The frames API of the local archive; mounted at ``archive/`` by datalab/urls.py."""
from django.urls import path, re_path

from datalab.local_archive import views

app_name = "local_archive"

urlpatterns = [
    path("frames/", views.frame_list, name="frame-list"),
    path("frames/<int:frame_id>/", views.frame_detail, name="frame-detail"),
    path("frames/<int:frame_id>/headers/", views.frame_headers, name="frame-headers"),
    path("frames/<int:frame_id>/download/", views.frame_download, name="frame-download"),
    path("frames/<int:frame_id>/thumbnail/<str:size>/", views.frame_thumbnail, name="frame-thumbnail"),
    # Anything else (e.g. frames/undefined/headers/) is a JSON 404, also under DEBUG.
    re_path(r"^.*$", views.unknown_path, name="unknown-path"),
]
