"""COA edit, rollback and exports (web_runtime §3, §1.3; accounting spec §2.3).

The web never writes the ledgers: an edit or a rollback becomes a `coa_publish` / `coa_rollback`
request file that the runner (or a main worker) executes under the ledger lock. The admin then
sees a page that polls the request's result. Exports read the COA file read-only.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, abort, g, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from tbot_bot.accounting import trial_balance
from tbot_bot.accounting.coa import TREE_FIELDS, read_metadata, read_tree, read_versions
from tbot_bot.errors import LedgerError
from tbot_bot.runtime.requests import is_pending, read_result, submit_request, valid_request_id
from tbot_web.py.books_web import _coa_reader, _outputs
from tbot_web.support import events
from tbot_web.support.coa_form import CoaEdit, headers, parse_edit
from tbot_web.support.context import ctx
from tbot_web.support.guard import require, wants_json

bp = Blueprint("coa", __name__)
MAX_REASON = 200
# Spreadsheet programs run cells starting with these as formulas; exported text is defused.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _actor() -> str:
    return f"web:{g.user['username']}"


def _balances() -> dict[str, int]:
    """Ledger balances by account (minor units) for the early deactivation check."""
    try:
        return {row.account_code: row.balance_minor for row in trial_balance(_outputs())}
    except LedgerError:
        return {}


def _edit_page(tree: Any, edit: CoaEdit | None = None) -> str:
    form = request.form if edit is not None else {}
    return render_template(
        "coa_edit.html",
        tree=tree,
        parents=headers(tree),
        errors=edit.errors if edit is not None else {},
        form=form,
    )


@bp.route("/coa/edit", methods=["GET", "POST"])
@require("coa.edit")
def edit() -> Any:
    with _coa_reader() as conn:
        tree = read_tree(conn)
    if request.method == "GET":
        return _edit_page(tree)
    parsed = parse_edit(request.form, tree, _balances())
    if not parsed.ok:
        return _edit_page(tree, parsed), 422
    context = ctx()
    params = {"changes": parsed.changes, "reason": parsed.reason}
    request_id = submit_request(context.paths, "coa_publish", params, _actor(), clock=context.clock)
    events.security_event(
        "coa_edited",
        f"COA publish requested ({len(parsed.changes)} change(s))",
        log_name="security_users.log",
        log_type="audit",
        request_id=request_id,
        codes=[str(c["code"]) for c in parsed.changes],
    )
    return redirect(url_for("coa.request_status", request_id=request_id), code=303)


@bp.post("/coa/rollback/<int:number>")
@require("coa.edit")
def rollback(number: int) -> Response:
    with _coa_reader() as conn:
        versions = read_versions(conn)
    if not 1 <= number <= len(versions):
        abort(404)
    if request.form.get("confirm") != "ROLLBACK":
        abort(400, description="Rollback needs confirm=ROLLBACK")
    if number == len(versions):
        abort(400, description="This is already the current version")
    target = str(versions[number - 1]["version"])
    reason = request.form.get("reason", "").strip()[:MAX_REASON] or "rollback from the web UI"
    context = ctx()
    params = {"to_version": target, "reason": reason}
    request_id = submit_request(
        context.paths, "coa_rollback", params, _actor(), clock=context.clock
    )
    events.security_event(
        "coa_rollback",
        f"COA rollback to {target} requested",
        log_name="security_users.log",
        log_type="audit",
        request_id=request_id,
        to_version=target,
    )
    return redirect(url_for("coa.request_status", request_id=request_id), code=303)


@bp.get("/coa/requests/<request_id>")
@require("coa.edit")
def request_status(request_id: str) -> Any:
    """The request's result, or "pending" (the page polls this URL as JSON)."""
    if not valid_request_id(request_id):
        abort(404)
    paths = ctx().paths
    result = read_result(paths, request_id)
    if result is None and not is_pending(paths, request_id):
        abort(404)
    status = "pending" if result is None else str(result["status"])
    message = "" if result is None else str(result.get("message", ""))
    if wants_json():
        return jsonify({"id": request_id, "status": status, "message": message})
    return render_template(
        "coa_request.html", request_id=request_id, status=status, result=result, message=message
    )


# -- exports -------------------------------------------------------------------------------------
def _export_rows() -> tuple[str, list[dict[str, Any]]]:
    with _coa_reader() as conn:
        tree, metadata = read_tree(conn), read_metadata(conn) or {}
    return str(metadata.get("coa_version", "unknown")), [dict(a) for a in tree]


def _safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


@bp.get("/coa/export.csv")
@require("export")
def export_csv() -> Response:
    version, rows = _export_rows()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TREE_FIELDS)
    for row in rows:
        writer.writerow([_safe_cell(row.get(name)) for name in TREE_FIELDS])
    return _download(buffer.getvalue(), "text/csv", f"coa_{version}.csv")


def _md_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


@bp.get("/coa/export.md")
@require("export")
def export_md() -> Response:
    version, rows = _export_rows()
    lines = [
        f"# Chart of accounts — version {_md_cell(version)}",
        "",
        "| " + " | ".join(TREE_FIELDS) + " |",
        "|" + "---|" * len(TREE_FIELDS),
    ]
    lines.extend("| " + " | ".join(_md_cell(r.get(f)) for f in TREE_FIELDS) + " |" for r in rows)
    return _download("\n".join(lines) + "\n", "text/markdown", f"coa_{version}.md")


def _download(body: str, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
