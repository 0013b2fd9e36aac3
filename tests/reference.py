"""The rows the data migrations create (currencies, designations, the staff
groups with their permissions, the programme policies with their German
names). A transactional test
empties every table when it ends, these included; tests put them back with
``restore_reference_data`` (idempotent), running the migrations' own code."""

from __future__ import annotations

from importlib import import_module


def restore_reference_data() -> None:
    from django.apps import apps

    reference = import_module("partners.migrations.0002_reference_data")
    reference.load(apps, None)
    reference.create_groups(apps, None)
    import_module("compliance.migrations.0002_programme_policies").create_policies(apps, None)
    import_module("compliance.migrations.0008_policy_name_de").fill_german_names(apps, None)
