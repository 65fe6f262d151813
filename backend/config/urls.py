"""URL map: the JSON API under /api/."""
from django.urls import include, path

urlpatterns = [
    path("api/", include("core.urls")),
    path("api/", include("exams.urls")),
    path("api/", include("students.urls")),
    path("api/", include("grading.urls")),
]
