"""Error pages in Vietnamese and English; JSON for API paths."""
from flask import Flask, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

MESSAGES = {
    400: ("Yêu cầu không hợp lệ", "Bad request"),
    401: ("Cần đăng nhập", "Login required"),
    403: ("Không có quyền truy cập", "Access denied"),
    404: ("Không tìm thấy trang", "Page not found"),
    409: ("Dữ liệu đã thay đổi", "This changed meanwhile"),
    413: ("Tệp quá lớn", "Upload too large"),
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

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        response = make_response(render_error(err.code or 500))
        # Keep what the exception says beyond its code: the methods a 405
        # allows, when a 429 may retry.
        carried = err.get_response().headers
        for name in ("Allow", "Retry-After"):
            if name in carried:
                response.headers[name] = carried[name]
        return response
