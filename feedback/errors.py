"""Error pages in Vietnamese and English; JSON for API paths."""
import math
import time

from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import ngettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

MESSAGES = {
    400: ("Yêu cầu không hợp lệ", "Bad request"),
    401: ("Cần đăng nhập", "Login required"),
    403: ("Không có quyền truy cập", "Access denied"),
    404: ("Không tìm thấy trang", "Page not found"),
    409: ("Dữ liệu đã thay đổi", "This changed meanwhile"),
    413: ("Nội dung gửi lên quá lớn", "Request too large"),
    429: ("Quá nhiều yêu cầu, vui lòng thử lại sau", "Too many requests, please try again later"),
    500: ("Lỗi hệ thống", "Server error"),
}


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/open311/"))


def render_error(code: int, detail_vi: str = "", detail_en: str = ""):
    title_vi, title_en = MESSAGES.get(code, MESSAGES[500])
    if _wants_json():
        return jsonify(error={"code": code, "message": detail_en or title_en}), code
    return render_template(
        "errors/error.html", code=code, title_vi=title_vi, title_en=title_en,
        detail_vi=detail_vi, detail_en=detail_en,
    ), code


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(err):
        return render_error(
            400,
            "Phiên làm việc của biểu mẫu đã hết hạn hoặc không hợp lệ. Vui lòng tải lại trang và gửi lại.",
            "The form's security token is missing or invalid. Reload the page and submit again.",
        )

    def too_many_requests(err: HTTPException):
        # In the visitor's language only, with how long to wait: "try again
        # later" alone leaves a person retrying and hitting the limit again.
        seconds = retry_after_seconds(err)
        response = make_response(render_template("errors/too_many.html", seconds=seconds,
                                                 wait=format_wait(seconds)), 429)
        response.headers["Retry-After"] = str(seconds)
        return response

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        if err.code == 429 and not _wants_json():
            return too_many_requests(err)
        from .input_guard import page_detail

        response = make_response(render_error(err.code or 500, *page_detail(err)))
        # Keep what the exception says beyond its code: the methods a 405
        # allows, when a 429 may retry.
        carried = err.get_response().headers
        for name in ("Allow", "Retry-After"):
            if name in carried:
                response.headers[name] = carried[name]
        return response


def retry_after_seconds(err: HTTPException) -> int:
    """Seconds until the limit that was hit resets (at least one): the
    exception's own ``retry_after`` when it has one (an account lock)."""
    from .extensions import limiter

    own = getattr(err, "retry_after", None)
    if isinstance(own, int):
        return max(1, own)
    limit = getattr(limiter, "current_limit", None)
    reset_at = getattr(limit, "reset_at", None)
    if reset_at:
        return max(1, math.ceil(reset_at - time.time()))
    header = err.get_response().headers.get("Retry-After", "")
    return max(1, int(header)) if header.isdigit() else 60


def format_wait(seconds: int) -> str:
    """``45 giây``, ``3 phút``, ``2 giờ`` in the visitor's language, rounded up."""
    if seconds < 120:  # "1 minute" would hide that it may be 61 or 119 seconds
        return ngettext("%(num)s giây", "%(num)s giây", seconds)
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return ngettext("%(num)s phút", "%(num)s phút", minutes)
    hours = math.ceil(minutes / 60)
    return ngettext("%(num)s giờ", "%(num)s giờ", hours)
