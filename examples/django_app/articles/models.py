from __future__ import annotations

from django.db import models


class Article(models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField()
    image = models.CharField(max_length=200, default="img/hero.jpg")

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.title
