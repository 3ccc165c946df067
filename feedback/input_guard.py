"""Hostile input stopped at the door, before any view or database sees it.

One ``before_request`` hook, run before every other one (CSRF included, as it
reads the form), does three things:

- **Body size.** Only the endpoints in ``UPLOAD_ENDPOINTS`` may send the
  megabytes ``MAX_CONTENT_LENGTH`` allows; every other form or JSON body is
  held to ``SMALL_REQUEST_BYTES``. Form fields held in memory and the number
  of multipart parts are bounded everywhere. Too large is a 413.
- **Characters.** NUL, the other C0 control characters (tab, line feed and
  carriage return excepted) and unpaired UTF-16 surrogates are refused in the
  path, the query string, form names and values and uploaded file names,
  with a 400 naming the field. No text the city receives needs them;
  PostgreSQL refuses NUL in text (a 500 otherwise), a lone surrogate cannot be
  encoded to store or render, and XML 1.0 (Open311) cannot carry them.
- **``next``.** The return address after login or a language switch may hold
  no control character at all: CR/LF there would end up in a ``Location``
  header.

JSON bodies are read with :func:`read_json`, which turns a malformed, too
deeply nested or hostile body into :class:`JsonRefused` instead of a
``RecursionError`` or an encoding error later.
"""
from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

# Endpoints that take attachments (or an admin's CSV file): the only ones
# allowed MAX_CONTENT_LENGTH. Every other request gets SMALL_REQUEST_BYTES.
UPLOAD_ENDPOINTS = frozenset({
    "public.submit",          # the check step carries the attachments
    "public.provide_info",    # add information from the private link
    "public.info_by_mail",    # add information from the e-mailed link
    "admin.import_procedures",
})
SMALL_REQUEST_BYTES = 256 * 1024
MAX_FORM_PARTS = 200
MAX_JSON_DEPTH = 32

# Text may hold tab, line feed and carriage return (multi-line answers), never
# the other C0 controls or a surrogate on its own.
FORBIDDEN_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
# A path or a return address holds no control character at all.
FORBIDDEN_IN_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
REFUSED_CHARACTERS = "Contains characters that are not allowed (control characters or unpaired surrogates)."


class RefusedInput(BadRequest):
    """A request field holding characters no field accepts; ``field`` names it."""

    def __init__(self, field: str):
        self.field = field[:100]  # the name is the sender's: echo a bounded part
        super().__init__(f"{self.field}: {REFUSED_CHARACTERS}")


class JsonRefused(ValueError):
    """A JSON body that cannot be accepted: ``fields`` names the bad strings
    (a 422 naming them), empty when the body as a whole is unreadable (400)."""

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


def has_forbidden(text: str, pattern: re.Pattern[str] = FORBIDDEN_IN_TEXT) -> bool:
    return pattern.search(text) is not None


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None.

    Refuses absolute and protocol-relative URLs (``//evil``), a backslash
    (browsers read ``/\\evil`` as ``//evil``) and any control character (CR/LF
    would split the ``Location`` header)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or has_forbidden(target, FORBIDDEN_IN_LINE):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def read_json() -> Any:
    """The request body as JSON, checked: at most ``MAX_JSON_DEPTH`` deep and
    no string (value or key) with a forbidden character."""
    raw = request.get_data(cache=True)  # over the size limit: RequestEntityTooLarge
    try:
        data = json.loads(raw)
    except RecursionError:
        raise JsonRefused(f"The JSON body is nested too deeply (at most {MAX_JSON_DEPTH} levels).") from None
    except (ValueError, UnicodeError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise JsonRefused("The request body is not valid JSON.") from None
    problems: dict[str, str] = {}
    # An explicit stack, not recursion: the depth is what is being checked.
    stack: list[tuple[Any, str, int]] = [(data, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            if has_forbidden(value):
                problems[path or "body"] = REFUSED_CHARACTERS
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise JsonRefused(f"The JSON body is nested too deeply (at most {MAX_JSON_DEPTH} levels).")
        if isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else key
                if has_forbidden(key):
                    problems[f"{path}.(key)" if path else "(key)"] = REFUSED_CHARACTERS
                    continue
                stack.append((item, child, depth + 1))
        else:
            stack.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value))
    if problems:
        raise JsonRefused("The request has invalid fields.", problems)
    return data


def guard_request() -> None:
    """Limit the body, then refuse forbidden characters anywhere in the request."""
    small = current_app.config["SMALL_REQUEST_BYTES"]
    if request.endpoint not in UPLOAD_ENDPOINTS:
        request.max_content_length = small
    request.max_form_memory_size = min(small, current_app.config["MAX_FORM_MEMORY_SIZE"] or small)
    request.max_form_parts = min(MAX_FORM_PARTS, current_app.config["MAX_FORM_PARTS"] or MAX_FORM_PARTS)

    if has_forbidden(request.path, FORBIDDEN_IN_LINE):
        raise RefusedInput("path")
    for name, value in request.args.items(multi=True):
        pattern = FORBIDDEN_IN_LINE if name == "next" else FORBIDDEN_IN_TEXT
        if has_forbidden(name) or has_forbidden(value, pattern):
            raise RefusedInput(name)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    for name, value in request.form.items(multi=True):  # over the limits: RequestEntityTooLarge
        if has_forbidden(name) or has_forbidden(value):
            raise RefusedInput(name)
    for name, upload in request.files.items(multi=True):
        if has_forbidden(name) or has_forbidden(upload.filename or ""):
            raise RefusedInput(name)


def page_detail(err: Exception) -> tuple[str, str]:
    """What an HTML error page says beyond its title (Vietnamese, English) for
    the errors this module raises; empty for any other error."""
    if isinstance(err, RefusedInput):
        return (f"Trường “{err.field}” chứa ký tự không được phép (ký tự điều khiển hoặc ký tự không hợp lệ). "
                "Vui lòng xoá ký tự đó rồi gửi lại.",
                f"The field “{err.field}” contains characters that are not allowed (control characters or "
                "invalid characters). Remove them and send again.")
    if isinstance(err, RequestEntityTooLarge):
        if request.endpoint in UPLOAD_ENDPOINTS:
            megabytes = current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
            return (f"Tổng dung lượng gửi lên (cả tệp đính kèm) vượt quá {megabytes} MB. "
                    "Vui lòng bớt tệp hoặc gửi tệp nhỏ hơn.",
                    f"The files and text sent together exceed {megabytes} MB. Send fewer or smaller files.")
        kilobytes = current_app.config["SMALL_REQUEST_BYTES"] // 1024
        return (f"Nội dung gửi lên vượt quá {kilobytes} KB. Vui lòng rút gọn nội dung rồi gửi lại.",
                f"What was sent exceeds {kilobytes} KB. Shorten it and send again.")
    return "", ""


def init_app(app: Flask) -> None:
    """Register the guard first among the app's before_request hooks. Its
    errors are HTTP errors: the app's pages (``errors.py``, with
    :func:`page_detail`), the API's and Open311's JSON handlers answer them."""
    app.config.setdefault("SMALL_REQUEST_BYTES", SMALL_REQUEST_BYTES)
    # First: CSRF protection parses the form, which must happen under the limits.
    app.before_request_funcs.setdefault(None, []).insert(0, guard_request)
