from django.urls import path

from .views import compliance as views

app_name = "compliance"

urlpatterns = [
    path("cases/<int:pk>/move/", views.FollowUpCaseMoveView.as_view(), name="case-move"),
    path(
        "outcomes/<int:pk>/override/", views.OutcomeOverrideView.as_view(), name="outcome-override"
    ),
]
