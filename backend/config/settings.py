"""Settings of the Korrigo backend; every machine-specific value comes from the environment."""
import os
from pathlib import Path

from config.dburl import parse_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-development-key-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.postgres",
    "rest_framework",
    "core",
    "exams",
    "students",
    "processing",
    "grading",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

DATABASES = {
    "default": parse_database_url(
        os.environ.get("DATABASE_URL", "postgresql://postgres@localhost:5432/korrigo")
    )
}
# An E2E backend serves its own clone of the seeded template: same server, another database.
if os.environ.get("KORRIGO_DB_NAME"):
    DATABASES["default"]["NAME"] = os.environ["KORRIGO_DB_NAME"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_TZ = True

MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "/media/"
# The built browser application, served by the backend so one process is one complete site.
FRONTEND_DIST = Path(os.environ.get("KORRIGO_FRONTEND_DIST", BASE_DIR.parent / "frontend" / "dist"))
STATIC_URL = "/static/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": None,
}

# Limits of an uploaded exam scan.
EXAM_MAX_UPLOAD_BYTES = int(os.environ.get("EXAM_MAX_UPLOAD_BYTES", 25 * 1024 * 1024))
EXAM_MAX_PAGES = int(os.environ.get("EXAM_MAX_PAGES", 400))
# A grader's lock on a copy expires after this many minutes without activity.
GRADING_LOCK_MINUTES = 30
THUMBNAIL_WIDTH = 480
