from django.urls import path
from rest_framework.routers import SimpleRouter

from grading import views

router = SimpleRouter()
router.register("copies", views.CopyViewSet, basename="copy")
urlpatterns = router.urls + [
    path("exams/<int:exam_id>/next-copy/", views.NextCopyView.as_view()),
    path("exams/<int:exam_id>/search/", views.AnnotationSearchView.as_view()),
]
