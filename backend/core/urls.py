from django.urls import path

from core import views

urlpatterns = [
    path("auth/csrf/", views.CsrfView.as_view()),
    path("auth/login/", views.LoginView.as_view()),
    path("auth/logout/", views.LogoutView.as_view()),
    path("auth/me/", views.MeView.as_view()),
    path("audit/", views.AuditLogView.as_view()),
    path("health/", views.HealthView.as_view()),
]
