"""Copies of an exam, their pages, the annotations and scores of a grader."""
from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.db import models

from grading import workflow


def copy_upload_to(copy, filename):
    return f"copies/exam_{copy.exam_id}/{filename}"


class Copy(models.Model):
    class Status(models.TextChoices):
        READY = workflow.READY
        LOCKED = workflow.LOCKED
        GRADED = workflow.GRADED
        FINALIZED = workflow.FINALIZED

    exam = models.ForeignKey("exams.Exam", on_delete=models.CASCADE, related_name="copies")
    number = models.PositiveIntegerField()
    student = models.ForeignKey(
        "students.Student", null=True, blank=True, on_delete=models.SET_NULL, related_name="copies"
    )
    pdf = models.FileField(upload_to=copy_upload_to, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.READY)
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    locked_at = models.DateTimeField(null=True, blank=True)
    graded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["exam", "number"]
        constraints = [models.UniqueConstraint(fields=["exam", "number"], name="unique_copy_number")]
        indexes = [GinIndex(fields=["metadata"], name="copy_metadata_gin")]


class CopyPage(models.Model):
    copy = models.ForeignKey(Copy, on_delete=models.CASCADE, related_name="pages")
    number = models.PositiveSmallIntegerField()
    thumbnail = models.FileField(upload_to="thumbs/", blank=True)

    class Meta:
        ordering = ["copy", "number"]


class Annotation(models.Model):
    copy = models.ForeignKey(Copy, on_delete=models.CASCADE, related_name="annotations")
    page = models.PositiveSmallIntegerField()
    x = models.FloatField()
    y = models.FloatField()
    text = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["page", "id"]


class Score(models.Model):
    copy = models.ForeignKey(Copy, on_delete=models.CASCADE, related_name="scores")
    question = models.CharField(max_length=32)
    points = models.DecimalField(max_digits=6, decimal_places=2)
    max_points = models.DecimalField(max_digits=6, decimal_places=2)

    class Meta:
        ordering = ["question"]
        constraints = [models.UniqueConstraint(fields=["copy", "question"], name="unique_score_question")]
