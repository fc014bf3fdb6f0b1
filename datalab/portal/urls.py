"""Mounted at ``portal/``: the front end's ``observationPortalUrl`` is ``<base>/portal/``."""
from django.urls import path

from datalab.portal import views

urlpatterns = [
    path("api-token-auth/", views.obtain_token_view, name="portal-token"),
    path("profile/", views.profile_view, name="portal-profile"),
]
