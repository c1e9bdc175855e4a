"""Debian's chromium, headless, through selenium, for the console's browser tests.

`make tools` installs chromium and chromium-driver (scripts/fetch-chromium.sh). Missing: the
test is skipped, or fails when STEADFAST_REQUIRE_TOOLS=1 (CI). The browser reaches loopback
only: every other host goes to a proxy that is not there, so a page that tried to load a CDN
or a font would show it (and the tests run offline)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("STEADFAST_CHROMIUM") or "/usr/bin/chromium")
DRIVER = Path(os.environ.get("STEADFAST_CHROMEDRIVER") or "/usr/bin/chromedriver")
REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "docs" / "images"


def require_chromium() -> None:
    missing = [str(p) for p in (CHROMIUM, DRIVER) if not (p.is_file() and os.access(p, os.X_OK))]
    if not missing:
        return
    message = f"no {' or '.join(missing)}; run `make tools` (Debian: chromium chromium-driver)"
    if os.environ.get("STEADFAST_REQUIRE_TOOLS") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@contextmanager
def chromium(tmp: Path, *, width: int = 1280, height: int = 1500) -> Iterator[object]:
    """A headless chromium with a profile of its own under `tmp`."""
    require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",  # containers run tests as root, where chromium's own sandbox cannot
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        f"--user-data-dir={tmp / 'chromium-profile'}",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--proxy-server=http://127.0.0.1:9",  # nothing listens; loopback bypasses proxies
        "--force-device-scale-factor=1",
    ):
        options.add_argument(flag)
    service = Service(executable_path=str(DRIVER), log_output=str(tmp / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: object, name: str, tmp: Path) -> Path:
    """The whole page as a PNG. Into docs/images/ when STEADFAST_UPDATE_SCREENSHOTS=1 (how the
    docs' pictures are made), else into the test's temp dir, so a test run changes no file."""
    folder = IMAGES if os.environ.get("STEADFAST_UPDATE_SCREENSHOTS") == "1" else tmp
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    driver.set_window_size(1280, 800)  # type: ignore[attr-defined]
    height = driver.execute_script("return document.documentElement.scrollHeight")  # type: ignore[attr-defined]
    driver.set_window_size(1280, min(max(int(height), 800), 4000))  # type: ignore[attr-defined]
    assert driver.save_screenshot(str(path))  # type: ignore[attr-defined]
    return path
