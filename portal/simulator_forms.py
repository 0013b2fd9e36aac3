"""Forms of the policy simulator (``portal.views.simulator``). The draft form
is filled with the stored policy's values; what the user changes is the
draft (``changes``), checked by the same rules as the command
(``compliance.simulation.draft_spec``)."""

from __future__ import annotations

import contextlib

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Field, Layout, Row
from django import forms
from django.utils.translation import gettext_lazy as _

from compliance import rules, selectors, simulation
from compliance.models import DeadlineAnchor, Policy
from partners.models import PlanType

from .forms import DateInput


class SimulatorForm(forms.Form):
    """The question: a policy, the draft's fields and the as-of date (GET)."""

    policy = forms.ModelChoiceField(
        label=_("Policy"),
        queryset=Policy.objects.order_by("-effective_from", "code"),
        to_field_name="code",
        empty_label=_("Choose a policy"),
    )
    as_of = forms.DateField(
        label=_("As of"), required=False, widget=DateInput(), help_text=_("Empty: today.")
    )
    threshold_usd = forms.DecimalField(
        label=_("Threshold (USD)"),
        required=False,
        min_value=0,
        max_digits=16,
        decimal_places=2,
        help_text=_("TTM revenue required; empty: no revenue requirement."),
    )
    effective_from = forms.DateField(label=_("Effective from"), widget=DateInput())
    effective_to = forms.DateField(
        label=_("Effective until"),
        required=False,
        widget=DateInput(),
        help_text=_("Inclusive; empty means open."),
    )
    deadline_anchor = forms.ChoiceField(label=_("Deadline anchor"), choices=DeadlineAnchor.choices)
    qualifying_plan_types = forms.MultipleChoiceField(
        label=_("Qualifying support plans"),
        required=False,
        choices=PlanType.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: no support-plan requirement."),
    )
    requires_designation = forms.BooleanField(
        label=_("Solutions Partner designation required"), required=False
    )
    requires_agreement = forms.BooleanField(
        label=_("Microsoft Partner Agreement required"), required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            Row(Column("policy", css_class="col-md-8"), Column("as_of", css_class="col-md-4")),
            Row(
                Column("threshold_usd", css_class="col-md-4"),
                Column("effective_from", css_class="col-md-4"),
                Column("effective_to", css_class="col-md-4"),
            ),
            Row(
                Column("deadline_anchor", css_class="col-md-6"),
                Column(Field("qualifying_plan_types"), css_class="col-md-6"),
            ),
            Row(
                Column("requires_designation", css_class="col-md-6"),
                Column("requires_agreement", css_class="col-md-6"),
            ),
        )

    @staticmethod
    def initial_for(policy: Policy, changes: dict | None = None) -> dict:
        """The stored policy's values, with a draft's ``changes`` on top."""
        spec = selectors.policy_spec(policy)
        if changes:
            # A draft saved under other rules falls back to the stored values.
            with contextlib.suppress(simulation.DraftError):
                spec = simulation.draft_spec(spec, changes, check_period=False)
        return {"policy": policy.code, **_values(spec)}

    def clean(self):
        data = super().clean()
        policy = data.get("policy")
        if policy is None or self.errors:
            return data
        stored = selectors.policy_spec(policy)
        wanted = {
            "threshold_usd": data.get("threshold_usd"),
            "effective_from": data.get("effective_from"),
            "effective_to": data.get("effective_to"),
            "deadline_anchor": data.get("deadline_anchor"),
            "qualifying_plan_types": tuple(data.get("qualifying_plan_types") or ()) or None,
            "requires_designation": bool(data.get("requires_designation")),
            "requires_agreement": bool(data.get("requires_agreement")),
        }
        current = _values(stored)
        changes = {
            name: value
            for name, value in wanted.items()
            if _comparable(name, value) != _comparable(name, current[name])
        }
        try:
            simulation.draft_spec(stored, changes)
        except simulation.DraftError as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)
        data["changes"] = changes
        return data


def _values(spec: rules.PolicySpec) -> dict:
    return {
        "threshold_usd": spec.threshold_usd,
        "effective_from": spec.effective_from,
        "effective_to": spec.effective_to,
        "deadline_anchor": spec.deadline_anchor,
        "qualifying_plan_types": spec.qualifying_plan_types,
        "requires_designation": spec.requires_designation,
        "requires_agreement": spec.requires_agreement,
    }


def _comparable(name: str, value):
    if name == "qualifying_plan_types":
        return tuple(sorted(value or ()))
    return value


class DraftSaveForm(forms.Form):
    name = forms.CharField(label=_("Draft name"), max_length=200)


class PublishForm(forms.Form):
    """A draft becomes a new policy version."""

    code = forms.SlugField(label=_("New policy code"), max_length=50)
    name = forms.CharField(label=_("Name"), max_length=200)
    effective_from = forms.DateField(label=_("Effective from"), widget=DateInput())
    effective_to = forms.DateField(
        label=_("Effective until"),
        required=False,
        widget=DateInput(),
        help_text=_("Inclusive; empty means open."),
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("effective_from"), data.get("effective_to")
        if start and end and end < start:
            self.add_error("effective_to", _("The end lies before the start."))
        return data
