"""A headless Chromium for the tests of the kit's web pages (selenium + the system's chromium and
chromedriver; no browser is downloaded). Where they are missing the tests skip with the reason,
except under CI (env ``CI`` set), where they fail."""
import os
import shutil

import pytest

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver"


def missing_browser():
    """Why no headless Chromium can be started here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -r requirements.txt)"
    if not any(os.path.exists(path) for path in CHROMIUM):
        return "chromium is not installed (apt-get install chromium)"
    if not (os.path.exists(CHROMEDRIVER) or shutil.which("chromedriver")):
        return "chromedriver is not installed (apt-get install chromium-driver)"
    return None


def start_chromium(width=1200, height=900):
    """A headless Chromium driven by selenium, offline: every network request is blocked
    (the pages must not need one). Skips, or fails under CI, where it cannot start."""
    reason = missing_browser()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the browser tests cannot run: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = next(path for path in CHROMIUM if os.path.exists(path))
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", f"--window-size={width},{height}",
                     "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options,
                              service=Service(shutil.which("chromedriver") or CHROMEDRIVER))
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*"]})
    return driver
