from django.urls import path, register_converter

from .views import partners as views

app_name = "partners"


class MpnIdConverter:
    """Microsoft partner ids are digits; anything else is not a partner URL
    (404)."""

    regex = "[0-9]{1,20}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return str(value)


register_converter(MpnIdConverter, "mpn")

urlpatterns = [
    path("", views.PartnerListView.as_view(), name="list"),
    path("export.csv", views.PartnerExportView.as_view(), name="export"),
    path("new/", views.ResellerEnrolView.as_view(), name="enrol"),
    path("direct-bill-ready/", views.DirectBillReadyListView.as_view(), name="direct-bill-ready"),
    path("<mpn:partner_id>/", views.PartnerDetailView.as_view(), name="detail"),
    path("<mpn:partner_id>/revenue/", views.PartnerRevenueView.as_view(), name="revenue"),
    path(
        "<mpn:partner_id>/revenue/new/",
        views.RevenueRecordCreateView.as_view(),
        name="revenue-new",
    ),
    path("<mpn:partner_id>/contracts/", views.PartnerContractsView.as_view(), name="contracts"),
    path(
        "<mpn:partner_id>/contracts/new/",
        views.SupportContractCreateView.as_view(),
        name="contract-new",
    ),
    path("<mpn:partner_id>/contacts/", views.PartnerContactsView.as_view(), name="contacts"),
    path("<mpn:partner_id>/contacts/new/", views.ContactCreateView.as_view(), name="contact-new"),
    path(
        "<mpn:partner_id>/contacts/<int:pk>/edit/",
        views.ContactUpdateView.as_view(),
        name="contact-edit",
    ),
]
