"""Reference data: ISO 4217 currencies, Solutions Partner designations and
the staff groups (account managers, compliance admins)."""

from django.db import migrations

from partners.currencies import ISO_4217, SOLUTIONS_PARTNER_DESIGNATIONS

ACCOUNT_MANAGER_PERMS = {
    "partners": {
        "partner": ["view", "add", "change"],
        "location": ["view", "add", "change"],
        "contact": ["view", "add", "change", "delete"],
        "revenuerecord": ["view", "add", "change"],
        "supportcontract": ["view", "add", "change"],
        "exchangerate": ["view"],
        "currency": ["view"],
        "designation": ["view"],
    },
    "compliance": {"policy": ["view"], "policyrequirement": ["view"]},
}
COMPLIANCE_ADMIN_PERMS = {
    "partners": {
        model: ["view", "add", "change", "delete"]
        for model in (
            "partner",
            "location",
            "contact",
            "revenuerecord",
            "supportcontract",
            "exchangerate",
            "currency",
            "designation",
        )
    },
    "compliance": {
        model: ["view", "add", "change", "delete"] for model in ("policy", "policyrequirement")
    },
}
GROUPS = {"Account managers": ACCOUNT_MANAGER_PERMS, "Compliance admins": COMPLIANCE_ADMIN_PERMS}


def load(apps, schema_editor):
    Currency = apps.get_model("partners", "Currency")
    Designation = apps.get_model("partners", "Designation")
    Currency.objects.bulk_create(
        [Currency(code=c, name=n, minor_units=m) for c, n, m in ISO_4217], ignore_conflicts=True
    )
    for code, name in SOLUTIONS_PARTNER_DESIGNATIONS:
        Designation.objects.get_or_create(code=code, defaults={"name": name})


def create_groups(apps, schema_editor):
    # Permissions are created after migrations; make sure they exist now.
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group_name, spec in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        codenames = [
            f"{action}_{model}"
            for models in spec.values()
            for model, actions in models.items()
            for action in actions
        ]
        group.permissions.add(
            *Permission.objects.filter(
                content_type__app_label__in=list(spec), codename__in=codenames
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0001_initial"),
        ("compliance", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(load, migrations.RunPython.noop),
        migrations.RunPython(create_groups, migrations.RunPython.noop),
    ]
