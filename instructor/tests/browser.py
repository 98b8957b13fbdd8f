"""A real browser for the tests of pages: the system's headless Chromium, via selenium.

Where Chromium or its driver is missing, a test that needs it skips with the reason; with
the environment variable ``CI`` set it fails instead (CI installs both, see .ci/run).
"""
import os
import shutil
from contextlib import contextmanager

import pytest

CHROMIUM = ("/usr/bin/chromium", "chromium", "chromium-browser")
CHROMEDRIVER = ("/usr/bin/chromedriver", "chromedriver")


def _find(names):
    return next((found for found in map(shutil.which, names) if found), None)


def require_chromium():
    """``(chromium, chromedriver)`` paths; skips (fails under ``CI``) where one is missing."""
    chromium, driver = _find(CHROMIUM), _find(CHROMEDRIVER)
    if chromium and driver:
        return chromium, driver
    reason = "the browser tests need Chromium and chromedriver (apt-get install chromium " \
             "chromium-driver), not found on PATH"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason}")
    pytest.skip(reason)


@contextmanager
def chromium(offline=False, width=1280, height=1000):
    """A headless Chromium (a selenium WebDriver). ``offline``: every request to the network
    fails (no proxy that answers, no host name that resolves, and the DevTools network
    emulation offline); pages from ``file://`` still open."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = require_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", f"--window-size={width},{height}",
                     "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    if offline:
        options.add_argument("--proxy-server=127.0.0.1:9")
        options.add_argument("--host-resolver-rules=MAP * ~NOTFOUND")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        if offline:
            driver.execute_cdp_cmd("Network.enable", {})
            driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
                "offline": True, "latency": 0, "downloadThroughput": -1,
                "uploadThroughput": -1})
        yield driver
    finally:
        driver.quit()


# What a page loaded: every resource entry that is not the page itself or inline data.
LOADED_RESOURCES = """
return performance.getEntriesByType('resource').map(e => e.name)
    .filter(name => !name.startsWith('data:') && !name.startsWith('blob:'));
"""

# The visible text of a page outside code: text nodes not inside code, pre, script, style,
# math or a hidden element.
VISIBLE_TEXT_OUTSIDE_CODE = """
const skip = new Set(['CODE', 'PRE', 'SCRIPT', 'STYLE', 'TEXTAREA']);
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const parts = [];
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    let hidden = false;
    for (let el = node.parentElement; el; el = el.parentElement) {
        if (skip.has(el.tagName.toUpperCase()) || el.namespaceURI.endsWith('MathML')) {
            hidden = true; break;
        }
    }
    if (!hidden && node.parentElement.getClientRects().length) parts.push(node.textContent);
}
return parts.join(' ');
"""

# Every MathML formula's rendered size: [[width, height], ...].
MATH_SIZES = """
return Array.from(document.getElementsByTagNameNS('http://www.w3.org/1998/Math/MathML', 'math'))
    .map(m => { const r = m.getBoundingClientRect(); return [r.width, r.height]; });
"""


def start_chromium(width=1200, height=900):
    """A headless Chromium driven by selenium, offline: every network request is blocked (the
    pages must not need one). The caller quits it. Skips, or fails under CI, where it cannot
    start."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = require_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", f"--window-size={width},{height}",
                     "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*"]})
    return driver
