from django.urls import path

from .views import notifications as views

app_name = "notifications"

urlpatterns = [
    path("preview/", views.EmailPreviewIndexView.as_view(), name="preview-index"),
    path("preview/<str:kind>/<str:language>/", views.EmailPreviewView.as_view(), name="preview"),
    path("<int:pk>/email/", views.NotificationEmailView.as_view(), name="email"),
]
