from rest_framework.routers import SimpleRouter

from exams.views import ExamViewSet

router = SimpleRouter()
router.register("exams", ExamViewSet)
urlpatterns = router.urls
