"""What the browser tests share: Debian's Chromium driven by Playwright, and
the app with the demo data served on a free port of 127.0.0.1."""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

from config import TestConfig
from feedback import create_app
from feedback.extensions import db

from .conftest import require_service

CHROMIUM = os.environ.get("FEEDBACK_CHROMIUM") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def require_chromium() -> None:
    require_service(os.environ.get("FEEDBACK_CHROMIUM") is not None or os.path.exists(CHROMIUM),
                    "Chromium not found (set FEEDBACK_CHROMIUM or install /usr/bin/chromium)")


@contextmanager
def served_demo(folder: Path, demo_cases: bool = False, **settings) -> Iterator[tuple[Flask, str]]:
    """The app with the demo data (and the demo cases when asked) on a SQLite
    file in ``folder``, CSRF on, served by a background thread; yields the app
    and its base address. ``settings`` override the test configuration."""
    require_chromium()

    class BrowserConfig(TestConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{folder / 'browser.db'}"
        UPLOAD_FOLDER = str(folder / "uploads")
        MAIL_FOLDER = str(folder / "mail")
        WTF_CSRF_ENABLED = True

    for name, value in settings.items():
        setattr(BrowserConfig, name, value)
    app = create_app(BrowserConfig)
    with app.app_context():
        from feedback.demo import seed_demo, seed_demo_cases

        db.create_all()
        seed_demo()
        if demo_cases:
            seed_demo_cases()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["BASE_URL"] = f"http://127.0.0.1:{server.port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, app.config["BASE_URL"]
    finally:
        server.shutdown()
        thread.join(timeout=5)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@contextmanager
def launched_chromium():
    """Debian's Chromium through Playwright, with the flags this machine needs."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def expect(locator):
    """Playwright's ``expect``, imported only when a browser test runs."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
