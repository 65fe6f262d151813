"""URL map: the JSON API under /api/, uploaded media, and the browser application for the rest."""
from django.conf import settings
from django.http import FileResponse, Http404
from django.urls import include, path, re_path
from django.views.static import serve


def application(request, resource=""):
    """The built single-page application: its assets, or index.html for any client-side route."""
    dist = settings.FRONTEND_DIST
    if resource.startswith("assets/"):
        return serve(request, resource, document_root=dist)
    index = dist / "index.html"
    if not index.exists():
        raise Http404("The frontend is not built: run `npm run build` in frontend/.")
    return FileResponse(index.open("rb"), content_type="text/html")


urlpatterns = [
    path("api/", include("core.urls")),
    path("api/", include("exams.urls")),
    path("api/", include("students.urls")),
    path("api/", include("grading.urls")),
    re_path(r"^media/(?P<path>.+)$", lambda request, path: serve(request, path, document_root=settings.MEDIA_ROOT)),
    re_path(r"^(?P<resource>(?!api/|media/).*)$", application),
]
