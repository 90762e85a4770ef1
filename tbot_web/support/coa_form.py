"""Server-side validation of the COA edit form (web_runtime §3; accounting spec §2.3).

The form shows one row per account (`row-<code>` marks it present, `name-<code>`,
`active-<code>` checkbox) and one "new account" block (`new_code`, `new_name`, `new_parent`,
`new_postable`, `new_description`) plus a required `reason`. The result is the `changes` list
`Books.publish_coa` takes: renames and (de)activations of existing accounts, and at most one new
account that inherits type, normal side and cash-flow class from its header parent.
Field errors are keyed by the input name so the template can show them next to the field.
The accounting layer validates again when the request runs; this module gives early, clear errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_NAME = 100
MAX_DESCRIPTION = 300
MAX_REASON = 200
INHERITED = ("account_type", "normal_side", "cash_flow_class")


@dataclass
class CoaEdit:
    """The parsed form: `changes` to publish, or `errors` by field name."""

    changes: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_edit(
    form: Mapping[str, str],
    tree: Sequence[Mapping[str, Any]],
    balances: Mapping[str, int],
) -> CoaEdit:
    """Turn the posted form into publish changes; `balances` = account code -> minor units."""
    edit = CoaEdit(reason=form.get("reason", "").strip())
    if not edit.reason:
        edit.errors["reason"] = "A reason is required (it is stored with the new version)."
    elif len(edit.reason) > MAX_REASON:
        edit.errors["reason"] = f"At most {MAX_REASON} characters."
    by_code = {str(a["code"]): a for a in tree}
    for code, account in by_code.items():
        if f"row-{code}" in form:
            _existing(edit, form, code, account, balances.get(code, 0))
    if form.get("new_code", "").strip():
        _new_account(edit, form, by_code)
    if edit.ok and not edit.changes:
        edit.errors["form"] = "Nothing changed: rename, (de)activate or add an account."
    return edit


def _existing(
    edit: CoaEdit, form: Mapping[str, str], code: str, account: Mapping[str, Any], balance: int
) -> None:
    change: dict[str, Any] = {"code": code}
    name = form.get(f"name-{code}", str(account["name"])).strip()
    if not name:
        edit.errors[f"name-{code}"] = f"Account {code} needs a name."
    elif len(name) > MAX_NAME:
        edit.errors[f"name-{code}"] = f"At most {MAX_NAME} characters."
    elif name != account["name"]:
        change["name"] = name
    active = 1 if form.get(f"active-{code}") else 0
    if active != int(account["active"]):
        if not active and balance != 0:
            edit.errors[f"active-{code}"] = (
                f"Account {code} has a non-zero balance; it cannot be deactivated."
            )
        change["active"] = active
    if len(change) > 1:
        edit.changes.append(change)


def _new_account(edit: CoaEdit, form: Mapping[str, str], by_code: Mapping[str, Any]) -> None:
    code = form.get("new_code", "").strip()
    name = form.get("new_name", "").strip()
    parent_code = form.get("new_parent", "").strip()
    description = form.get("new_description", "").strip()
    if len(code) != 4 or not code.isdigit():
        edit.errors["new_code"] = "The code must be exactly 4 digits."
    elif code in by_code:
        edit.errors["new_code"] = f"Account {code} already exists (accounts are never reused)."
    if not name:
        edit.errors["new_name"] = "The new account needs a name."
    elif len(name) > MAX_NAME:
        edit.errors["new_name"] = f"At most {MAX_NAME} characters."
    if len(description) > MAX_DESCRIPTION:
        edit.errors["new_description"] = f"At most {MAX_DESCRIPTION} characters."
    parent = by_code.get(parent_code)
    if parent is None:
        edit.errors["new_parent"] = "Choose an existing header account as parent."
    elif int(parent["postable"]):
        edit.errors["new_parent"] = f"Account {parent_code} is postable; a parent must be a header."
    if any(key.startswith("new_") for key in edit.errors) or parent is None:
        return
    edit.changes.append(
        {
            "code": code,
            "name": name,
            "parent_code": parent_code,
            **{key: parent[key] for key in INHERITED},
            "postable": 1 if form.get("new_postable") else 0,
            "active": 1,
            "description": description,
        }
    )


def headers(tree: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Accounts that may parent a new account (non-postable and active)."""
    return [a for a in tree if not int(a["postable"]) and int(a["active"])]
