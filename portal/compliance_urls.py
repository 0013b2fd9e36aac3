from django.urls import path

from .views import compliance as views
from .views import simulator

app_name = "compliance"

urlpatterns = [
    path("cases/<int:pk>/move/", views.FollowUpCaseMoveView.as_view(), name="case-move"),
    path(
        "outcomes/<int:pk>/override/", views.OutcomeOverrideView.as_view(), name="outcome-override"
    ),
    # The policy simulator (PRODUCT 8), for compliance admins.
    path("compliance/simulator/", simulator.SimulatorView.as_view(), name="simulator"),
    path(
        "compliance/simulator/runs/",
        simulator.SimulationRunCreateView.as_view(),
        name="simulation-run-create",
    ),
    path(
        "compliance/simulator/runs/<int:pk>/",
        simulator.SimulationRunDetailView.as_view(),
        name="simulation-run",
    ),
    path(
        "compliance/simulator/runs/<int:pk>/progress",
        simulator.SimulationRunProgressView.as_view(),
        name="simulation-run-progress",
    ),
    path(
        "compliance/simulator/drafts/", simulator.PolicyDraftSaveView.as_view(), name="draft-save"
    ),
    path(
        "compliance/simulator/drafts/<int:pk>/publish/",
        simulator.PolicyDraftPublishView.as_view(),
        name="draft-publish",
    ),
]
for fmt in ("csv", "xlsx"):
    urlpatterns += [
        path(
            f"compliance/simulator/export.{fmt}",
            simulator.SimulatorExportView.as_view(),
            {"fmt": fmt},
            name=f"simulator-{fmt}",
        ),
        path(
            f"compliance/simulator/runs/<int:pk>/export.{fmt}",
            simulator.SimulationRunExportView.as_view(),
            {"fmt": fmt},
            name=f"simulation-run-{fmt}",
        ),
    ]
