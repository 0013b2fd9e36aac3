"""The admin site: every page renders, lists stay cheap, changes are audited,
and the staff groups get exactly the access they are meant to have."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from compliance.models import Policy, PolicyRequirement
from partners import models as pm
from tests.factories import (
    ContactFactory,
    DirectBillPartnerFactory,
    ExchangeRateFactory,
    LocationFactory,
    PartnerFactory,
    RevenueRecordFactory,
    StaffUserFactory,
    SupportContractFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# Pinned query budgets (SQLite and PostgreSQL issue the same statements).
# Partner changelist: session, user, account-manager filter choices, country
# filter choices, designation filter choices, count, the page itself
# (partners + account manager + location count in one query) and the
# unfiltered count for "N total".
PARTNER_CHANGELIST_QUERIES = 8
# Revenue changelist: session, user, currency filter choices, the page count,
# the page itself (records with location, partner and currency joined) and
# two for the date hierarchy (first/last date, then the distinct periods).
# No unfiltered COUNT(*).
REVENUE_CHANGELIST_QUERIES = 7


# --- helpers --------------------------------------------------------------------


def a_designation():
    """Designations are reference data seeded by a migration; pick one."""
    return pm.Designation.objects.order_by("code").first()


def admin_url(obj_or_model, view="changelist", *args):
    opts = obj_or_model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def changeform_data(response, **overrides):
    """The POST body a browser would send back for an admin change form as
    rendered (main form and every inline), with ``overrides`` applied."""
    data = {}

    def add(form, names=None):
        for name in names or form.fields:
            value = form[name].value()
            key = form.add_prefix(name)
            if value is None or value is False:
                continue
            if value is True:
                data[key] = "on"
            elif isinstance(value, list | tuple):
                data[key] = [str(v) for v in value]
            else:
                data[key] = str(value)

    add(response.context["adminform"].form)
    for inline in response.context.get("inline_admin_formsets", []):
        formset = inline.formset
        add(formset.management_form)
        for form in formset.forms:
            add(form)
    data.update(overrides)
    return data


def result_ids(response, attr="partner_id"):
    return [getattr(obj, attr) for obj in response.context["cl"].result_list]


def staff_in_group(group_name, **kwargs):
    user = StaffUserFactory(**kwargs)
    user.groups.add(Group.objects.get(name=group_name))
    return user


@pytest.fixture
def sample():
    """One of everything, linked the way real data is."""
    manager = StaffUserFactory(username="anna", first_name="Anna", last_name="Berger")
    partner = DirectBillPartnerFactory(
        partner_id="1234567", name="Contoso GmbH", account_manager=manager
    )
    partner.designations.add(a_designation())
    location = LocationFactory(partner=partner, location_id="7654321")
    contact = ContactFactory(partner=partner, email="it@contoso.example")
    ExchangeRateFactory(currency_id="EUR", month=datetime.date(2024, 3, 1))
    revenue = RevenueRecordFactory(
        location=location, amount=Decimal("1234567.885"), currency_id="EUR"
    )
    contract = SupportContractFactory(partner=partner)
    return {
        "manager": manager,
        "partner": partner,
        "location": location,
        "contact": contact,
        "revenue": revenue,
        "contract": contract,
    }


def registered_objects(sample):
    policy = Policy.objects.get(code="csp-direct-2021")
    return [
        pm.Currency.objects.get(code="EUR"),
        a_designation(),
        sample["partner"],
        sample["location"],
        sample["contact"],
        pm.ExchangeRate.objects.get(currency_id="EUR", month=datetime.date(2024, 3, 1)),
        sample["revenue"],
        sample["contract"],
        policy,
        policy.requirements.get(code="revenue"),
    ]


# --- every page renders ---------------------------------------------------------


@pytest.mark.parametrize("index", range(10))
def test_every_registered_model_has_working_pages(admin_client, sample, index):
    obj = registered_objects(sample)[index]
    for url in (
        admin_url(obj, "changelist"),
        admin_url(obj, "add"),
        admin_url(obj, "change", obj.pk),
        admin_url(obj, "history", obj.pk),
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url


def test_admin_index_lists_every_model_under_the_site_title(admin_client):
    response = admin_client.get(reverse("admin:index"))
    content = response.content.decode()
    assert "CSP Compliance administration" in content
    for model in (
        "currency",
        "designation",
        "partner",
        "location",
        "contact",
        "exchangerate",
        "revenuerecord",
        "supportcontract",
    ):
        assert f"/admin/partners/{model}/" in content
    assert "/admin/compliance/policy/" in content
    assert "/admin/compliance/policyrequirement/" in content


def test_history_page_names_the_user_and_the_change(admin_client, admin_user, sample):
    partner = sample["partner"]
    url = admin_url(partner, "change", partner.pk)
    data = changeform_data(admin_client.get(url), status=pm.PartnerStatus.SUSPENDED)
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context and response.context["errors"]

    partner.refresh_from_db()
    assert partner.status == pm.PartnerStatus.SUSPENDED
    latest = partner.history.latest()
    assert latest.history_user == admin_user
    assert latest.history_type == "~"

    history = admin_client.get(admin_url(partner, "history", partner.pk)).content.decode()
    assert admin_user.username in history
    assert "Suspended" in history


# --- partner list: search, filters, columns --------------------------------------


@pytest.fixture
def portfolio(admin_user):
    anna = StaffUserFactory(username="anna")
    bob = StaffUserFactory(username="bob")
    contoso = DirectBillPartnerFactory(partner_id="1000001", name="Contoso", account_manager=anna)
    fabrikam = PartnerFactory(partner_id="2000002", name="Fabrikam", account_manager=bob)
    northwind = PartnerFactory(
        partner_id="3000003",
        name="Northwind",
        account_manager=admin_user,
        status=pm.PartnerStatus.SUSPENDED,
        country="AT",
    )
    unmanaged = PartnerFactory(partner_id="4000004", name="Tailspin")
    for n in range(3):
        LocationFactory(partner=contoso, location_id=f"10000{n}")
    LocationFactory(partner=fabrikam, location_id="200001")
    ContactFactory(partner=fabrikam, email="ops@fabrikam.example")
    ContactFactory(partner=fabrikam, email="ceo@fabrikam.example")
    return {
        "anna": anna,
        "bob": bob,
        "contoso": contoso,
        "fabrikam": fabrikam,
        "northwind": northwind,
        "unmanaged": unmanaged,
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "Fabri"}, ["2000002"]),
        ({"q": "3000"}, ["3000003"]),
        ({"q": "100001"}, ["1000001"]),  # a location id
        ({"q": "fabrikam.example"}, ["2000002"]),  # contact email, two contacts, one row
        ({"billing_model__exact": "direct_bill"}, ["1000001"]),
        ({"status__exact": "suspended"}, ["3000003"]),
        ({"country": "AT"}, ["3000003"]),
        ({"manager": "me"}, ["3000003"]),
        ({"manager": "none"}, ["4000004"]),
        ({"status__exact": "active", "country": "DE"}, ["1000001", "2000002", "4000004"]),
    ],
)
def test_partner_changelist_search_and_filters(admin_client, portfolio, query, expected):
    response = admin_client.get(admin_url(pm.Partner), query)
    assert response.status_code == 200
    assert sorted(result_ids(response)) == expected


def test_partner_changelist_filters_by_a_named_account_manager(admin_client, portfolio):
    response = admin_client.get(admin_url(pm.Partner), {"manager": portfolio["bob"].pk})
    assert result_ids(response) == ["2000002"]
    # The filter offers "me", "unassigned" and each manager by name.
    content = response.content.decode()
    assert "?manager=me" in content
    assert "?manager=none" in content
    assert f"?manager={portfolio['anna'].pk}" in content


def test_partner_changelist_counts_locations_even_when_searching_by_one(admin_client, portfolio):
    response = admin_client.get(admin_url(pm.Partner), {"q": "100002"})
    [contoso] = response.context["cl"].result_list
    assert contoso.location_count == 3
    response = admin_client.get(admin_url(pm.Partner), {"q": "fabrikam.example"})
    [fabrikam] = response.context["cl"].result_list
    assert fabrikam.location_count == 1


# --- query budgets -------------------------------------------------------------


def make_partners(count, manager):
    for _ in range(count):
        partner = PartnerFactory(account_manager=manager)
        partner.designations.add(a_designation())
        location = LocationFactory(partner=partner)
        LocationFactory(partner=partner)
        ContactFactory(partner=partner)
        RevenueRecordFactory(location=location)
        RevenueRecordFactory(location=location, currency_id="EUR", amount=Decimal("-10.5"))


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx), response


@pytest.mark.parametrize(
    ("model", "budget", "rows_per_partner"),
    [
        (pm.Partner, PARTNER_CHANGELIST_QUERIES, 1),
        (pm.RevenueRecord, REVENUE_CHANGELIST_QUERIES, 2),
    ],
)
def test_changelist_query_count_does_not_grow_with_rows(
    admin_client, django_assert_max_num_queries, model, budget, rows_per_partner
):
    ExchangeRateFactory(currency_id="EUR")
    managers = [StaffUserFactory() for _ in range(3)]
    url = admin_url(model)

    make_partners(3, managers[0])
    small, response = count_queries(admin_client, url)
    assert response.context["cl"].result_count == 3 * rows_per_partner

    for manager in managers:
        make_partners(8, manager)
    make_partners(3, None)  # 30 partners in all
    with django_assert_max_num_queries(budget):
        response = admin_client.get(url)
    assert response.context["cl"].result_count == 30 * rows_per_partner
    large, _ = count_queries(admin_client, url)
    assert small == large


def test_revenue_changelist_skips_the_unfiltered_count(admin_client):
    RevenueRecordFactory()
    response = admin_client.get(admin_url(pm.RevenueRecord), {"source__exact": "manual"})
    assert response.context["cl"].show_full_result_count is False


# --- money is shown rounded and grouped, stored untouched ---------------------------


def test_revenue_amount_is_displayed_with_two_decimals_and_separators(admin_client, sample):
    response = admin_client.get(admin_url(pm.RevenueRecord))
    content = response.content.decode()
    assert "1,234,567.89" in content  # 1234567.885 rounds half up
    sample["revenue"].refresh_from_db()
    assert sample["revenue"].amount == Decimal("1234567.885")


def test_money_follows_the_german_number_format(admin_client, sample):
    response = admin_client.get(admin_url(pm.RevenueRecord), HTTP_ACCEPT_LANGUAGE="de")
    assert "1.234.567,89" in response.content.decode()


def test_policy_list_summarises_requirements(admin_client):
    content = admin_client.get(admin_url(Policy)).content.decode()
    assert "USD 300,000.00" in content
    assert "90, 60, 30, 14, 7, 1" in content
    assert (
        "TTM revenue ≥ USD 1,000,000.00; Active paid support plan (asfp, psfp); "
        "Solutions Partner designation; Microsoft Partner Agreement signed"
    ) in content


# --- who may do what -------------------------------------------------------------


def test_non_staff_users_are_sent_to_the_admin_login(client):
    client.force_login(UserFactory())
    for url in (reverse("admin:index"), admin_url(pm.Partner)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_account_manager_can_view_and_change_partners(client, sample):
    manager = staff_in_group("Account managers")
    client.force_login(manager)
    partner = sample["partner"]

    assert client.get(admin_url(pm.Partner)).status_code == 200
    url = admin_url(partner, "change", partner.pk)
    data = changeform_data(client.get(url), name="Contoso Deutschland GmbH")
    response = client.post(url, data)
    assert response.status_code == 302, response.context and response.context["errors"]
    partner.refresh_from_db()
    assert partner.name == "Contoso Deutschland GmbH"
    assert partner.history.latest().history_user == manager


def test_account_manager_cannot_delete_partners(client, sample):
    client.force_login(staff_in_group("Account managers"))
    partner = sample["partner"]
    url = admin_url(partner, "delete", partner.pk)
    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert pm.Partner.objects.filter(pk=partner.pk).exists()


def test_account_manager_can_read_but_not_edit_policies(client):
    client.force_login(staff_in_group("Account managers"))
    policy = Policy.objects.get(code="csp-indirect-reseller-2024")
    url = admin_url(policy, "change", policy.pk)
    assert client.get(url).status_code == 200
    assert client.post(url, {"name": "Hacked"}).status_code == 403
    assert client.get(admin_url(Policy, "add")).status_code == 403
    requirement = policy.requirements.get()
    assert client.post(admin_url(requirement, "change", requirement.pk), {}).status_code == 403
    # Nor through the history page's "revert" form.
    policy.save()  # the data migration wrote no history; give it a version
    version = policy.history.earliest()
    revert = reverse("admin:compliance_policy_simple_history", args=[policy.pk, version.pk])
    form = client.get(revert)
    assert form.status_code == 200
    assert client.post(revert, changeform_data(form, name="Hacked")).status_code == 403
    policy.refresh_from_db()
    assert policy.name != "Hacked"


def test_compliance_admin_can_edit_policies_and_requirements(client):
    admin = staff_in_group("Compliance admins", username="carla")
    client.force_login(admin)
    policy = Policy.objects.get(code="csp-indirect-reseller-2024")
    url = admin_url(policy, "change", policy.pk)
    data = changeform_data(
        client.get(url),
        reminder_offsets="[30, 90, 60, 14]",
        **{"requirements-0-threshold_usd": "1500.00"},
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.context and response.context["errors"]

    policy.refresh_from_db()
    assert policy.reminder_offsets == [90, 60, 30, 14]  # the model's clean() sorts them
    requirement = PolicyRequirement.objects.get(policy=policy)
    assert requirement.threshold_usd == Decimal("1500.00")
    assert policy.history.latest().history_user == admin
    assert requirement.history.latest().history_user == admin


def test_compliance_admin_gets_the_models_validation_errors(client):
    client.force_login(staff_in_group("Compliance admins"))
    policy = Policy.objects.get(code="csp-indirect-reseller-2024")
    url = admin_url(policy, "change", policy.pk)
    data = changeform_data(client.get(url), reminder_offsets="[30, 30]")
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Each offset may appear only once." in response.content.decode()


# --- logins in partner forms -------------------------------------------------------


def test_account_manager_choices_are_staff_users_only(admin_client, sample):
    partner_user = UserFactory(username="partner-login")
    url = reverse("admin:autocomplete")
    response = admin_client.get(
        url,
        {
            "app_label": "partners",
            "model_name": "partner",
            "field_name": "account_manager",
            "term": "",
        },
    )
    assert response.status_code == 200
    ids = {int(item["id"]) for item in response.json()["results"]}
    assert sample["manager"].pk in ids
    assert partner_user.pk not in ids


def test_account_managers_pick_the_account_manager_from_a_staff_select(client, sample):
    """They may not browse users, so the autocomplete (which searches the
    user admin) would fail for them; they get a select limited to staff."""
    manager = staff_in_group("Account managers")
    UserFactory(username="partner-login")
    client.force_login(manager)
    partner = sample["partner"]
    response = client.get(admin_url(partner, "change", partner.pk))
    field = response.context["adminform"].form.fields["account_manager"]
    assert "autocomplete" not in field.widget.widget.attrs.get("class", "")
    assert set(field.queryset.values_list("is_staff", flat=True)) == {True}
    assert manager in field.queryset


def test_portal_login_of_a_contact_is_read_only_for_account_managers(client, sample):
    client.force_login(staff_in_group("Account managers"))
    contact = sample["contact"]
    response = client.get(admin_url(contact, "change", contact.pk))
    assert "user" not in response.context["adminform"].form.fields


def test_portal_login_choices_exclude_staff(admin_client, sample):
    contact = sample["contact"]
    response = admin_client.get(admin_url(contact, "change", contact.pk))
    queryset = response.context["adminform"].form.fields["user"].queryset
    assert not queryset.filter(is_staff=True).exists()
