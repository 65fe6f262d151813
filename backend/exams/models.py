"""An exam and the scan of all its copies, as uploaded."""
from django.conf import settings
from django.db import models


class Exam(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        UPLOADED = "uploaded"
        PROCESSED = "processed"

    title = models.CharField(max_length=200)
    course = models.CharField(max_length=100, blank=True)
    exam_date = models.DateField(null=True, blank=True)
    pages_per_copy = models.PositiveSmallIntegerField(default=1)
    source_pdf = models.FileField(upload_to="exams/", blank=True)
    page_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="exams"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.title
