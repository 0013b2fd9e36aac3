"""Template helpers of the account pages (docs/decisions/0010)."""

from django import template

from portal.mfa import factor_must_stay

register = template.Library()


@register.filter
def may_switch_off_factor(user) -> bool:
    return not factor_must_stay(user)


@register.simple_tag
def company_login_enabled() -> bool:
    from portal.sso import sso_enabled

    return sso_enabled()
