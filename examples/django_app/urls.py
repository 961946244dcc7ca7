from __future__ import annotations

from django.urls import path
from examples.django_app.articles import views

urlpatterns = [
    path("", views.index, name="index"),
    path("articles/<int:pk>/", views.detail, name="detail"),
    path("articles/<int:pk>/edit", views.edit, name="edit"),
]
