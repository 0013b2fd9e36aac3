from allauth.account import views as allauth_account_views
from allauth.socialaccount import views as social_views
from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from .accounts import PortalLoginView
from .views import account as account_views
from .views import dashboard as views

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", PortalLoginView.as_view(), name="login"),
    path(
        "accounts/password_change/",
        account_views.PortalPasswordChangeView.as_view(),
        name="password_change",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("accounts/sessions/", account_views.SessionListView.as_view(), name="sessions"),
    # django-allauth (docs/decisions/0010): the second factor, staff single
    # sign-on and the few account addresses they link to. allauth's own
    # login, signup and e-mail pages are not mounted: its names point at ours.
    path("accounts/2fa/", include("allauth.mfa.urls")),
    path("accounts/sso/", include("allauth.socialaccount.providers.openid_connect.urls")),
    path(
        "accounts/sso/login/cancelled/",
        social_views.login_cancelled,
        name="socialaccount_login_cancelled",
    ),
    path("accounts/sso/login/error/", social_views.login_error, name="socialaccount_login_error"),
    path("accounts/sso/connections/", social_views.connections, name="socialaccount_connections"),
    path("accounts/sso/signup/", account_views.signup_closed, name="socialaccount_signup"),
    path(
        "accounts/reauthenticate/",
        allauth_account_views.reauthenticate,
        name="account_reauthenticate",
    ),
    path("accounts/inactive/", allauth_account_views.account_inactive, name="account_inactive"),
    path("accounts/login/", PortalLoginView.as_view(), name="account_login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="account_logout"),
    path("accounts/signup/", account_views.signup_closed, name="account_signup"),
    path(
        "accounts/password/change/",
        RedirectView.as_view(pattern_name="password_change"),
        name="account_change_password",
    ),
    path(
        "accounts/password/reset/",
        RedirectView.as_view(pattern_name="password_reset"),
        name="account_reset_password",
    ),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("notifications/", include("portal.notification_urls")),
    path("partners/", include("portal.partner_urls")),
    path("imports/", include("portal.import_urls")),
    path("api/v1/", include("api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api/swagger_ui.html"
        ),
        name="api-docs",
    ),
    path(
        "api/docs/redoc/",
        # Redoc injects <style> elements and runs its search in a blob: worker;
        # allowed on this page only (why: templates/api/redoc.html).
        csp_update({"style-src": [UNSAFE_INLINE], "worker-src": [SELF, "blob:"]})(
            SpectacularRedocView.as_view(url_name="api-schema", template_name="api/redoc.html")
        ),
        name="api-redoc",
    ),
    path("exports/", include("api.export_urls")),
    path("", include("portal.compliance_urls")),
]

handler500 = "portal.views.dashboard.server_error"
