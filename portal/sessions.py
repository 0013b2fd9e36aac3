"""Sessions a user can see (django-allauth's ``UserSession`` rows: address,
user agent, last seen), their lifetime and idle timeout, and ending them."""

from __future__ import annotations

import re
import time

from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

LAST_SEEN = "portal_last_seen"
STARTED = "portal_started"
# The session row's address and last-seen time are written at most this often.
TRACK_EVERY_SECONDS = 60


class SessionActivityMiddleware:
    """Ends a session that was idle for ``SESSION_IDLE_TIMEOUT`` seconds or
    is older than ``SESSION_COOKIE_AGE`` (Django renews the cookie whenever
    the session changes, so the age alone is no upper bound), and refreshes
    the session's row of the session list at most once a minute."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        if user is not None and user.is_authenticated and session is not None:
            now = time.time()
            last_seen = session.get(LAST_SEEN)
            started = session.get(STARTED, now)
            idle = settings.SESSION_IDLE_TIMEOUT
            if (idle and last_seen and now - last_seen > idle) or (
                now - started > settings.SESSION_COOKIE_AGE
            ):
                logout(request)
                if not request.path_info.startswith(("/api/", "/exports/")):
                    messages.info(request, _("Your session has expired. Please log in again."))
                    return redirect_to_login(request.get_full_path())
                # The API goes on anonymously: a token still authenticates
                # in the view, a session request gets the API's 401.
            elif last_seen is None or now - last_seen >= TRACK_EVERY_SECONDS:
                session[LAST_SEEN] = now
                session.setdefault(STARTED, now)
                if not session.session_key:
                    session.save()
                UserSession.objects.create_from_request(request, user=user, session=session)
        return self.get_response(request)


def sessions_end(*, user, keep_session_key: str | None = None) -> int:
    """Ends every session of ``user`` but ``keep_session_key`` (the one
    asking, if any); returns how many were ended."""
    ended = 0
    rows = UserSession.objects.filter(user_id=user.pk)
    if keep_session_key:
        rows = rows.exclude(session_key=keep_session_key)
    for row in rows:
        row.end()
        ended += 1
    return ended


def session_key_moved(*, old_key: str | None, new_key: str | None) -> None:
    """The session's row follows its new key (Django cycles it on login and
    on a password change)."""
    if old_key and new_key and old_key != new_key:
        UserSession.objects.filter(session_key=old_key).update(session_key=new_key)


def sessions_end_others(request: HttpRequest) -> int:
    return sessions_end(user=request.user, keep_session_key=request.session.session_key)


# --- The device a user agent names ---------------------------------------------------

_BROWSERS = [
    ("Edge", r"Edg(?:e|A|iOS)?/(\d+)"),
    ("Opera", r"OPR/(\d+)"),
    ("Firefox", r"(?:Firefox|FxiOS)/(\d+)"),
    ("Chrome", r"(?:Chrome|CriOS)/(\d+)"),
    ("Safari", r"Version/(\d+)[.\d]* (?:Mobile/\S+ )?Safari/"),
]
_SYSTEMS = [
    ("iPhone", r"iPhone"),
    ("iPad", r"iPad"),
    ("Android", r"Android"),
    ("ChromeOS", r"CrOS"),
    ("Windows", r"Windows NT"),
    ("macOS", r"Mac OS X|Macintosh"),
    ("Linux", r"Linux|X11"),
]


def device_describe(user_agent: str) -> str:
    """ "Firefox 128 on Windows", "Safari 17 on iPhone", or the user agent
    itself (cut) when neither is known."""
    browser = next(
        (f"{name} {m.group(1)}" for name, rx in _BROWSERS if (m := re.search(rx, user_agent))),
        None,
    )
    system = next((name for name, rx in _SYSTEMS if re.search(rx, user_agent)), None)
    if browser and system:
        return _("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    if browser or system:
        return browser or system
    return user_agent[:60] or _("Unknown device")


def on_logged_in(sender, request=None, user=None, **kwargs) -> None:
    """Every login (password, code, company account, a test's force_login)
    starts the session's row and its clock, so that the pages of its first
    minute write nothing."""
    session = getattr(request, "session", None)
    if session is None or user is None:
        return
    now = time.time()
    session[LAST_SEEN] = now
    session[STARTED] = now
    if not session.session_key:
        session.save()
    UserSession.objects.create_from_request(request, user=user, session=session)


def on_factor_removed(sender, request=None, user=None, **kwargs) -> None:
    """A user switched off their own second factor: their other sessions end."""
    if request is not None and user is not None and request.user == user:
        sessions_end_others(request)


def on_sso_removed(sender, request=None, socialaccount=None, **kwargs) -> None:
    """A user disconnected their company login: their other sessions end."""
    if request is not None and request.user.is_authenticated:
        sessions_end_others(request)
