"""Security headers on every response and error pages without tracebacks (web_runtime §4.9)."""

from __future__ import annotations

import logging
import traceback
import uuid

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from tbot_bot.config.redact import redact_text
from tbot_web.support import events
from tbot_web.support.guard import wants_json

logger = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'"
)
STATIC_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
_CORS_PREFIX = "Access-Control-"


def add_security_headers(response: Response) -> Response:
    """after_request (runs for errors too): the fixed headers, no-store, HSTS over https."""
    for name, value in STATIC_HEADERS.items():
        response.headers[name] = value
    if response.mimetype == "text/html" or request.path.startswith("/api/"):
        response.headers["Cache-Control"] = "no-store"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    for name in [h for h, _ in response.headers.items() if h.startswith(_CORS_PREFIX)]:
        del response.headers[name]
    return response


def _error_response(status: int, title: str, message: str, error_id: str | None = None) -> Response:
    if wants_json():
        body: dict[str, object] = {"error": title.lower().replace(" ", "_"), "status": status}
        if error_id:
            body["error_id"] = error_id
        response = jsonify(body)
    else:
        html = render_template(
            "error.html", status=status, title=title, message=message, error_id=error_id
        )
        response = Response(html, mimetype="text/html")
    response.status_code = status
    return response


def handle_http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    title = exc.name or "Error"
    # Descriptions are our own fixed strings (abort(..., description=...)) or werkzeug's defaults.
    message = redact_text(exc.description or "")
    response = _error_response(status, title, message)
    if status == 429:
        retry = getattr(exc, "retry_after", None)
        if retry:
            response.headers["Retry-After"] = str(retry)
    if status >= 500:
        events.log_line(
            "web.log",
            "http_error",
            f"{status} {request.method} {request.path}",
            level="error",
            module=__name__,
        )
    return response


def handle_exception(exc: Exception) -> Response:
    """Unhandled exception: log a redacted trace under an `error_id`; show only the id."""
    error_id = uuid.uuid4().hex[:12]
    logger.error("unhandled exception %s on %s %s", error_id, request.method, request.path)
    try:
        events.log_line(
            "web.log",
            "unhandled_exception",
            f"{type(exc).__name__} on {request.method} {request.path}",
            level="error",
            module=__name__,
            extra={"error_id": error_id, "stack_trace": redact_text(traceback.format_exc())},
        )
    except Exception:
        logger.exception("could not write web.log")
    return _error_response(500, "Internal Server Error", "Something went wrong.", error_id)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_exception)
