"""The console offers every command of the catalogue as a form, named after the body's fields.

A command added to ``ledger.commands`` without a console form, or a form that names a field its
command does not have or leaves out one it requires, fails here, not in a browser.
"""

from __future__ import annotations

import msgspec
import pytest

from console.forms import DECISIONS, FORMS, REGISTER, Form
from ledger.commands import CATALOGUE, CommandSpec


def _top_fields(form: Form) -> set[str]:
    return {f.name.split(".", 1)[0] for f in form.fields}


def _required(spec: CommandSpec) -> set[str]:
    return {f.name for f in msgspec.structs.fields(spec.body) if f.required}


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_command_has_a_console_form(name: str) -> None:
    form = REGISTER if CATALOGUE[name].creates else FORMS.get(name)
    assert form is not None, f"the console offers no form for {name!r}"
    assert form.command is CATALOGUE[name].body


@pytest.mark.parametrize("verb", sorted({*FORMS, REGISTER.verb}))
def test_each_form_names_only_fields_of_its_command_and_every_required_one(verb: str) -> None:
    form = REGISTER if verb == REGISTER.verb else FORMS[verb]
    spec = CATALOGUE[DECISIONS.get(verb, verb)]
    assert form.command is spec.body
    assert _top_fields(form) <= set(spec.fields), (verb, _top_fields(form) - set(spec.fields))
    required = {f.name for f in form.fields if f.required}
    assert _required(spec) <= {name.split(".", 1)[0] for name in required}, verb
