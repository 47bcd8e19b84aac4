"""Browser fixtures: daphne serving config.asgi (HTTP and websockets) on the test database in
its own process, and Debian's Chromium driven by Playwright (never `playwright install`). The
tests start a real Celery worker in this process. Screenshots go to var/screenshots/."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse
from urllib.request import urlopen

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
LOG = ROOT / "var" / "log" / "browser-tests-daphne.log"
DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 390, "height": 844}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def live_server_url(django_db_setup):
    """daphne serving config.asgi (HTTP and websockets) in its own process, on the test
    database and the test run's Redis databases: the same server the Procfile runs."""
    from django.conf import settings
    from django.db import connection

    database = urlparse(settings.DATABASE_URL)._replace(
        path="/" + quote(connection.settings_dict["NAME"])
    )
    env = {
        **os.environ,
        "DATABASE_URL": urlunparse(database),
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_DB_BASE": str(settings.REDIS_DB_BASE),
        "DJANGO_DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    # BROWSER_TEST_PORT: a fixed port, for machines where each engineer has a port range.
    port = int(os.environ.get("BROWSER_TEST_PORT") or 0) or _free_port()
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with LOG.open("wb") as log:
        server = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "config.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urlopen(f"{url}/accounts/login/", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    break
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise RuntimeError(f"daphne did not start; see {LOG}")
        time.sleep(0.25)
    yield url
    server.terminate()
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(5)


@pytest.fixture(scope="module")
def chromium():
    """Chromium for this module's tests. Playwright's sync API keeps an event loop running in
    this thread while it is open, so Django is told not to refuse ORM calls from the test body
    meanwhile; both end with the module, before any other test runs."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("BROWSER_TESTS_REQUIRED") == "true":
            pytest.fail(message)  # CI installed it: a missing browser is a broken run
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
                headless=True,
                args=CHROMIUM_ARGS,
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(chromium, live_server_url):
    context = chromium.new_context(viewport=DESKTOP, base_url=live_server_url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.console_errors = []
    page.on(
        "console",
        lambda message: (
            page.console_errors.append(f"{message.text} @ {message.location.get('url', '')}")
            if message.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshots():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
