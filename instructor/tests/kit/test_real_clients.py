"""The notebooks in the clients people use (issue 28, item 6; long tier, in CI).

(a) The main job's HTML reports (``instructor.run_notebooks.write_html``) of the quick run
    of the reference notebooks, opened in headless Chromium with the network off: every
    formula is MathML with a real size, no TeX delimiter is left in the visible text
    outside code, every figure shows, and the page loaded nothing from the network.
(b) JupyterLab, started on 127.0.0.1 with a token and driven by selenium in the same
    Chromium: a released notebook with the reference solutions in place, *Restart Kernel
    and Run All Cells* in quick mode; every code cell ran, in order, without an error
    output, and math and figures rendered. A run of notebook 1 costs about a minute and a
    half on 2 cores, so CI runs that one; ``KIT_LAB_NOTEBOOKS=all`` runs all three.
"""
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from helpers import submission
from instructor.run_notebooks import write_html
from instructor.tests.browser import (
    LOADED_RESOURCES,
    MATH_SIZES,
    VISIBLE_TEXT_OUTSIDE_CODE,
    chromium,
    require_chromium,
)

NOTEBOOKS = tuple(name.removesuffix(".ipynb") for name in submission.NOTEBOOKS)
# A tag that would load something from the network.
NETWORK_TAG = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//",
                         re.IGNORECASE)
# TeX left as text: $...$, $$, or a TeX command such as \frac.
RAW_TEX = re.compile(r"\$[^$\s][^$]*\$|\$\$|\\(?:frac|sum|partial|mathbb|text|log|max)\b")


@pytest.fixture(scope="module")
def browser_found():
    """Chromium and chromedriver: skips (fails under CI) before any costly fixture runs."""
    return require_chromium()


# ------------------------------------------------------- (a) the reports ---

@pytest.fixture(scope="module")
def quick_reports(browser_found, finished_kit, tmp_path_factory):
    """The HTML reports of the reference notebooks run in quick mode (the finished kit)."""
    folder = tmp_path_factory.mktemp("reports")
    for name in NOTEBOOKS:
        write_html(finished_kit / "notebooks" / f"{name}.ipynb", folder / f"{name}.html")
    return folder


@pytest.mark.long
def test_reports_render_math_and_figures_offline(quick_reports):
    with chromium(offline=True) as browser:
        for name in NOTEBOOKS:
            page = quick_reports / f"{name}.html"
            assert not NETWORK_TAG.findall(page.read_text()), f"{page.name} links the network"
            browser.get(page.as_uri())
            sizes = browser.execute_script(MATH_SIZES)
            assert len(sizes) > 40, f"{page.name}: only {len(sizes)} MathML formulas"
            flat = [size for size in sizes if size[0] < 1 or size[1] < 1]
            assert not flat, f"{page.name}: {len(flat)} formulas with no size"
            text = browser.execute_script(VISIBLE_TEXT_OUTSIDE_CODE)
            left = RAW_TEX.findall(text)
            assert not left, f"{page.name} shows raw TeX: {left[:5]}"
            images = browser.execute_script(
                "return Array.from(document.images).map(i => i.naturalWidth)")
            assert images and min(images) > 0, f"{page.name}: a figure does not show"
            loaded = browser.execute_script(LOADED_RESOURCES)
            assert not loaded, f"{page.name} loaded {loaded[:3]}"


# ---------------------------------------------------- (b) JupyterLab itself ---

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def jupyterlab(browser_found, finished_kit, tmp_path):
    """JupyterLab on 127.0.0.1 serving a copy of the finished kit (reference solutions), in
    quick mode; yields its base URL and token."""
    kit = tmp_path / "student_kit"
    shutil.copytree(finished_kit, kit)
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "KIT_QUICK": "1", "KIT_SAVED_DIR": str(tmp_path / "saved"),
           "KIT_RESULTS_DIR": str(tmp_path / "results"), "JUPYTER_CONFIG_DIR":
           str(tmp_path / "jupyter_config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    for name in ("KIT_PROGRESS", "MPLBACKEND"):   # as a student has it: progress lines on,
        env.pop(name, None)                       # figures inline
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={kit}", "--LabServerApp.expose_app_in_browser=True",
         "--allow-root",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class="
         "jupyterlab.NeverCheckForUpdate"],
        cwd=kit, env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "lab.log", "w"))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("JupyterLab did not start:\n"
                                         + (tmp_path / "lab.log").read_text()[-3000:]) from None
                time.sleep(0.5)
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


NOTEBOOK_STATE = """
const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
if (!panel || !panel.sessionContext || !panel.context || !panel.context.isReady) return null;
const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
const running = Array.from(panel.node.querySelectorAll('.jp-InputPrompt'))
    .filter(p => p.textContent.includes('*')).length;
return {kernel: kernel ? kernel.status : null, running: running,
        notebook: panel.context.model.toJSON()};
"""
RENDERED = """
const panel = window.jupyterapp.shell.currentWidget;
const math = Array.from(panel.node.querySelectorAll('.jp-RenderedMarkdown mjx-container'));
const images = Array.from(panel.node.querySelectorAll('.jp-RenderedImage img'));
return {math: math.length, math_sized: math.filter(m => {
            const r = m.getBoundingClientRect(); return r.width > 0 && r.height > 0; }).length,
        raw_tex: Array.from(panel.node.querySelectorAll('.jp-RenderedMarkdown'))
            .filter(m => /\\$\\$|\\\\frac/.test(m.innerText)).length,
        images: images.length, images_loaded: images.filter(i => i.naturalWidth > 0).length,
        widgets: panel.node.querySelectorAll('.jupyter-widgets').length};
"""


def wait_for(browser, condition, timeout, what):
    """Poll ``condition(state)`` on NOTEBOOK_STATE every second; returns the state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = browser.execute_script(NOTEBOOK_STATE)
        if state and condition(state):
            return state
        time.sleep(1)
    raise AssertionError(f"JupyterLab: {what} did not happen within {timeout} s")


def lab_notebooks():
    return NOTEBOOKS if os.environ.get("KIT_LAB_NOTEBOOKS") == "all" else NOTEBOOKS[:1]


@pytest.mark.long
@pytest.mark.parametrize("name", lab_notebooks())
def test_restart_and_run_all_in_jupyterlab(jupyterlab, name):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    url, token = jupyterlab
    with chromium(width=1400, height=1000) as browser:
        browser.get(f"{url}/lab/tree/notebooks/{name}.ipynb?token={token}")
        wait_for(browser, lambda s: s["kernel"] == "idle", 120, "the kernel starting")
        browser.execute_script(
            "window.jupyterapp.commands.execute('notebook:restart-run-all');")
        WebDriverWait(browser, 30).until(expected_conditions.element_to_be_clickable(
            (By.CSS_SELECTOR, ".jp-Dialog .jp-mod-accept"))).click()
        wait_for(browser, lambda s: s["running"] > 0, 60, "Run All starting")
        state = wait_for(browser, lambda s: s["running"] == 0 and s["kernel"] == "idle", 600,
                         "Run All finishing")
        code = [cell for cell in state["notebook"]["cells"] if cell["cell_type"] == "code"]
        errors = [(index, output.get("ename"), output.get("evalue"))
                  for index, cell in enumerate(code) for output in cell.get("outputs", [])
                  if output["output_type"] == "error"]
        assert not errors, f"{name}: error outputs in JupyterLab: {errors[:3]}"
        counts = [cell["execution_count"] for cell in code]
        assert counts == list(range(1, len(code) + 1)), \
            f"{name}: not every cell ran once, in order, after the restart: {counts}"
        text = json.dumps(state["notebook"])
        assert "HBox(children" not in text, f"{name}: a progress widget"
        browser.execute_script("window.jupyterapp.shell.currentWidget.content.scrollToItem(0)")
        rendered = browser.execute_script(RENDERED)
        assert rendered["math"] > 20 and rendered["math_sized"] > 0, rendered
        assert rendered["raw_tex"] == 0, rendered
        assert rendered["images"] > 0 and rendered["images_loaded"] == rendered["images"], \
            rendered
        assert rendered["widgets"] == 0, rendered
