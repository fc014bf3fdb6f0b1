"""Mounted at ``thumbnails/``: the front end's ``thumbnailServiceUrl`` is ``<base>/thumbnails/``."""
from django.urls import path

from datalab.thumbnails import views

urlpatterns = [
    path("<str:basename>/", views.thumbnail_view, name="thumbnail"),
    path("<str:basename>/<str:id>.jpg", views.thumbnail_file_view, name="thumbnail-file"),
]
