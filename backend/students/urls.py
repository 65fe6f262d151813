from rest_framework.routers import SimpleRouter

from students.views import StudentViewSet

router = SimpleRouter()
router.register("students", StudentViewSet)
urlpatterns = router.urls
