from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from heygem_site import views

admin.site.site_header = "HeyGem Studio administration"
admin.site.site_title = "HeyGem Studio admin"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/webhooks/", include("jobs.webhooks.urls")),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("jobs.api.urls")),
    path("", include("jobs.urls")),
]
