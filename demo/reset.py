"""``demo_reset``: removes the demo domain again (``seed_demo --reset``)."""

from __future__ import annotations

from collections import Counter

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import connection, models, transaction

from partners.models import ExchangeRate, Partner

from .users import DEMO_USERNAMES
from .writing import DEMO_MODELS


class _Purger:
    """Deletes querysets together with every row that refers to them (through
    PROTECT too), in bulk and without signals; SET_NULL references are
    cleared. So models of other apps that point at partners or locations
    (evaluations, outcomes, cases, notifications) go with them, and a million
    revenue rows do not pass through ``Model.delete`` one by one."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        # A model whose table is not there yet (migration pending) has no rows.
        self.tables = set(connection.introspection.table_names())

    def _exists(self, model: type[models.Model]) -> bool:
        return model._meta.db_table in self.tables

    def purge(self, queryset: models.QuerySet, depth: int = 0) -> None:
        model = queryset.model
        if depth > 10:
            raise RuntimeError(f"Reference cycle while deleting {model.__name__}")
        db = queryset.db
        for rel in model._meta.get_fields(include_hidden=True):
            if not rel.auto_created or rel.concrete or not self._exists(rel.related_model):
                continue
            if rel.many_to_many:
                if rel.through._meta.auto_created and self._exists(rel.through):
                    name = rel.field.m2m_reverse_field_name()
                    rel.through._base_manager.filter(**{f"{name}__in": queryset})._raw_delete(db)
                continue
            if rel.on_delete is models.DO_NOTHING:
                continue
            related = rel.related_model._base_manager.filter(**{f"{rel.field.name}__in": queryset})
            if rel.on_delete is models.SET_NULL:
                related.update(**{rel.field.name: None})
            else:
                self.purge(related, depth + 1)
        for m2m in model._meta.many_to_many:
            through = m2m.remote_field.through
            if through._meta.auto_created and self._exists(through):
                name = m2m.m2m_field_name()
                through._base_manager.filter(**{f"{name}__in": queryset})._raw_delete(db)
        self.counts[model._meta.label] += queryset._raw_delete(db)


@transaction.atomic
def demo_reset() -> dict[str, int]:
    """Delete the demo domain: partners and everything that refers to them,
    exchange rates, their history rows and the demo users. Policies,
    currencies, designations and groups stay. Returns rows deleted per kind."""
    purger = _Purger()
    purger.purge(Partner._base_manager.all())
    purger.purge(ExchangeRate._base_manager.all())
    counts = purger.counts
    result = {
        str(model._meta.verbose_name_plural): counts.pop(model._meta.label, 0)
        for model in DEMO_MODELS
    }
    for label, count in counts.items():  # rows of other models that referred to partners
        result[str(apps.get_model(label)._meta.verbose_name_plural)] = count
    history = _Purger()
    for model in DEMO_MODELS:
        history.purge(model.history.model._base_manager.all())
    result["history rows"] = sum(history.counts.values())
    result["demo users"] = 0
    for user in get_user_model()._default_manager.filter(username__in=DEMO_USERNAMES):
        try:
            with transaction.atomic():
                user.delete()
        except (models.ProtectedError, models.RestrictedError):
            continue  # still referenced (an audit trail, say): demo_seed takes it over
        result["demo users"] += 1
    return result
