"""Analysis routes: one POST endpoint per action name, and the signed TIFF downloads."""
from django.urls import path

from datalab.analysis import views

urlpatterns = [
    path("tif/<str:id>/", views.tif_file_view, name="analysis-tif"),
    path("<str:action>/", views.analysis_view, name="analysis-action"),
]
