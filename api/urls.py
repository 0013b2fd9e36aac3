"""/api/v1/ (see api/README.md)."""

from rest_framework.routers import DefaultRouter

from . import views

app_name = "api"

router = DefaultRouter()
router.register("partners", views.PartnerViewSet, basename="partner")
router.register("locations", views.LocationViewSet, basename="location")
router.register("contacts", views.ContactViewSet, basename="contact")
router.register("support-contracts", views.SupportContractViewSet, basename="support-contract")
router.register("revenue", views.RevenueViewSet, basename="revenue")
router.register("evaluations", views.EvaluationViewSet, basename="evaluation")
router.register("follow-up-cases", views.FollowUpCaseViewSet, basename="follow-up-case")

urlpatterns = router.urls
