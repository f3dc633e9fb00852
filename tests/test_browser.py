"""What a student sees, in JupyterLab 4 driven by a real (headless) Chromium.

Each test starts its own JupyterLab with the README's student command, `make lab`, on a
temporary work folder (LAB_DIR), a temporary Jupyter config and a free loopback port, and stops
it (kernels first) when done. For each lab:
- the blank release: Run All runs the setup and lecture cells without error up to the first
  stub (a part students write: Lab 5's backpropagation by hand, Lab 6's LSTM step), the math
  renders through MathJax, the lecture plots before it appear, Validate says "failed" and names
  the unfinished parts;
- the finished lab (the release with the solutions written into its answer cells): Run All
  finishes without error, the assignment's plots appear, Validate says "success".
Also: the Nbgrader menu's Assignment List opens without the exchange error.
Screenshots and per-test timings go to tests/artifacts/.
"""

import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple

import nbformat
import pytest

from autograder.submissions import solution_notebook
from tests.conftest import CHROMIUM

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "tests" / "artifacts"
TOKEN = "rnn-labs-browser-test"
LABS = ["lab5", "lab6"]
PANEL = "#jp-main-dock-panel .jp-NotebookPanel:not(.lm-mod-hidden)"
RUN_ALL_LIMIT_S = 420  # a whole lab, training included, takes 1-2 min on 2 cores
VALIDATE_LIMIT_S = 420  # Validate re-executes the whole notebook on the server

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (see .ci/run)")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def api(url: str, path: str, method: str = "GET"):
    request = urllib.request.Request(f"{url}{path}?token={TOKEN}", method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    return json.loads(body) if body else None


class Server(NamedTuple):
    url: str
    start_s: float  # from `make lab` to JupyterLab answering


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab of the test's own: `make lab` on a fresh work folder with a blank and a finished
    copy of each lab, settings in a temp folder, a free loopback port; stopped after the test."""
    home, work = tmp_path / "jupyter-home", tmp_path / "work"
    started = time.monotonic()
    for lab in LABS:
        finished = work / f"{lab}-finished"
        shutil.copytree(REPO / "release" / lab, finished)
        nb = solution_notebook(REPO / "source" / lab / f"{lab}.ipynb", REPO / "release" / lab / f"{lab}.ipynb")
        nbformat.write(nb, finished / f"{lab}.ipynb")
    settings = home / "config" / "lab" / "user-settings" / "@jupyterlab"
    (settings / "notebook-extension").mkdir(parents=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    (settings / "apputils-extension").mkdir(parents=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
           "IPYTHONDIR": str(home / "ipython"), "MPLCONFIGDIR": str(home / "mpl")}
    env.pop("LABS_QUIET", None)  # a student's kernel shows its progress bars
    port = free_port()
    flags = (f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 --IdentityProvider.token={TOKEN}"
             + (" --allow-root" if os.geteuid() == 0 else ""))
    server = subprocess.Popen(["make", "-s", "lab", f"LAB_DIR={work}", f"LAB_FLAGS={flags}"], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            api(url, "/api/status")
            break
        except OSError:
            time.sleep(0.5)
    else:
        os.killpg(server.pid, signal.SIGKILL)
        pytest.fail("JupyterLab did not start within 120 s")
    yield Server(url, time.monotonic() - started)
    for kernel in api(url, "/api/kernels"):  # the kernels first: they outlive a killed server
        api(url, f"/api/kernels/{kernel['id']}", method="DELETE")
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


def open_notebook(page, url: str, path: str):
    """Open `path` alone (?reset drops restored tabs) and wait until its kernel is connected and idle."""
    page.goto(f"{url}/lab/tree/{path}?reset&token={TOKEN}")
    panel = page.locator(PANEL)
    panel.locator(".jp-Notebook-ExecutionIndicator[data-status=idle]").wait_for(timeout=90_000)
    page.locator("#jp-main-statusbar:has-text('| Idle')").wait_for(timeout=90_000)
    return panel


def cell_states(panel) -> list[dict]:
    """One entry per notebook cell, in order: kind, prompt, error/stderr text, image widths, math count."""
    return panel.locator(".jp-Cell").evaluate_all("""cells => cells.map(cell => ({
        code: cell.classList.contains('jp-CodeCell'),
        prompt: (cell.querySelector('.jp-InputArea-prompt') || {}).textContent || '',
        errors: [...cell.querySelectorAll(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")]
                .map(e => e.textContent),
        images: [...cell.querySelectorAll('.jp-OutputArea-output.jp-RenderedImage img')].map(i => i.naturalWidth),
        math: cell.querySelectorAll('.jp-RenderedMarkdown mjx-container').length,
    }))""")


def executed(cell: dict) -> bool:
    return cell["prompt"].strip() not in ("", "[ ]:", "[*]:")


def click_run_all(page, panel) -> int:
    """Run > Run All Cells until a cell is queued; returns the clicks it took.

    Right after the kernel connects, JupyterLab can drop a Run All without running anything;
    a student would click again, and so does this (the count goes into the timings)."""
    for clicks in (1, 2, 3):
        page.locator("#jp-MainMenu .lm-MenuBar-itemLabel:has-text('Run')").first.click()
        page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            first_code = next(c for c in cell_states(panel) if c["code"])
            if first_code["prompt"].strip() not in ("", "[ ]:"):
                return clicks
            time.sleep(0.5)
    pytest.fail("Run All did not start any cell in three clicks")


def run_all(page, panel) -> dict:
    """Run All, then wait until nothing is queued and the kernel is idle; returns its timings."""
    start = time.monotonic()
    clicks = click_run_all(page, panel)
    idle_polls = 0
    while idle_polls < 2:
        if time.monotonic() - start > RUN_ALL_LIMIT_S:
            pytest.fail(f"Run All still busy after {RUN_ALL_LIMIT_S} s")
        time.sleep(1)
        busy = any("*" in c["prompt"] for c in cell_states(panel))
        idle = panel.locator(".jp-Notebook-ExecutionIndicator").get_attribute("data-status") == "idle"
        idle_polls = idle_polls + 1 if idle and not busy else 0
    return {"run_all_s": time.monotonic() - start, "run_all_clicks": clicks}


def validate(page, panel) -> tuple[str, str, float]:
    """Click Validate; return the result dialog's class, its text and the seconds it took."""
    start = time.monotonic()
    panel.locator(".jp-NotebookPanel-toolbar jp-button.validate-button").click()
    message = page.locator("#validation-message")
    message.wait_for(timeout=VALIDATE_LIMIT_S * 1000)
    return message.get_attribute("class"), message.inner_text(), time.monotonic() - start


def record(name: str, page, server: Server, started: float, timings: dict, validation: str) -> None:
    """Screenshot of the final state, the test's timings and Validate's message, under tests/artifacts/.

    browser_s, the browser's share: JupyterLab's start plus what the test took beyond the lab's own
    Run All and Validate."""
    timings = {"server_start_s": server.start_s, **timings, "total_s": time.monotonic() - started}
    timings["browser_s"] = (timings["server_start_s"] + timings["total_s"]
                            - timings["run_all_s"] - timings["validate_s"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}-validation.txt").write_text(validation)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    (ARTIFACTS / f"{name}.json").write_text(json.dumps({k: round(v, 1) for k, v in timings.items()}))


@functools.cache
def release_cells(lab: str) -> list:
    return nbformat.read(REPO / "release" / lab / f"{lab}.ipynb", as_version=4).cells


def answer_cells(lab: str) -> list[int]:
    return [i for i, c in enumerate(release_cells(lab))
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]


def graded_cell_titles(lab: str) -> list[str]:
    """The first line (a docstring naming the part) of each autograded test cell."""
    return [c.source.splitlines()[0] for c in release_cells(lab)
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]


def math_cells(lab: str) -> list[int]:
    return [i for i, c in enumerate(release_cells(lab)) if c.cell_type == "markdown" and "$" in c.source]


@pytest.mark.parametrize("lab", LABS)
def test_blank_release_runs_its_lectures_and_fails_validation(page, jupyterlab, lab):
    start = time.monotonic()
    panel = open_notebook(page, jupyterlab.url, f"{lab}/{lab}.ipynb")
    deadline = time.monotonic() + 20  # MathJax typesets after the cells render
    while (unrendered := [i for i in math_cells(lab) if cell_states(panel)[i]["math"] == 0]) and \
            time.monotonic() < deadline:
        time.sleep(0.5)
    assert not unrendered, f"markdown cells {unrendered} have $...$ but no MathJax output"
    timings = run_all(page, panel)
    cells, first_stub = cell_states(panel), answer_cells(lab)[0]
    lectures = cells[:first_stub]
    assert all(executed(c) for c in lectures if c["code"]), "a lecture cell did not run"
    assert not [c["errors"] for c in lectures if c["errors"]], "a lecture cell wrote an error or to stderr"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    if any("plt.show()" in c.source for c in release_cells(lab)[:first_stub]):  # a lecture plot before the first part
        assert any(width > 100 for c in lectures for width in c["images"]), "no lecture plot appeared"
        panel.locator(".jp-OutputArea-output.jp-RenderedImage img").first.screenshot(
            path=str(ARTIFACTS / f"{lab}-lecture-plot.png"))
    stopped_at = next(c for c in cells if c["errors"])  # a stub's NotImplementedError ends Run All
    assert "NotImplementedError" in stopped_at["errors"][0], stopped_at["errors"][0][-1000:]
    verdict, text, timings["validate_s"] = validate(page, panel)
    record(f"{lab}-blank", page, jupyterlab, start, timings, text)
    assert "validation-failed" in verdict, text[:2000]
    unnamed = [line for line in graded_cell_titles(lab) if line not in text]
    assert not unnamed, f"Validate's message does not name {unnamed}"


@pytest.mark.parametrize("lab", LABS)
def test_finished_lab_runs_all_and_passes_validation(page, jupyterlab, lab):
    start = time.monotonic()
    panel = open_notebook(page, jupyterlab.url, f"{lab}-finished/{lab}.ipynb")
    timings = run_all(page, panel)
    cells, first_stub = cell_states(panel), answer_cells(lab)[0]
    assert all(executed(c) for c in cells if c["code"]), "a cell did not run"
    assert not [c["errors"] for c in cells if c["errors"]], "a cell wrote an error or to stderr"
    assert any(width > 100 for c in cells[first_stub:] for width in c["images"]), "no assignment plot appeared"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    panel.locator(".jp-OutputArea-output.jp-RenderedImage img").last.screenshot(path=str(ARTIFACTS / f"{lab}-plot.png"))
    verdict, text, timings["validate_s"] = validate(page, panel)
    record(f"{lab}-finished", page, jupyterlab, start, timings, text)
    assert "validation-success" in verdict, text[:2000]


def test_assignment_list_opens_without_exchange_error(page, jupyterlab):
    page.goto(f"{jupyterlab.url}/lab?reset&token={TOKEN}")
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel:has-text('Nbgrader')").click()
    page.locator(".lm-Menu-itemLabel:has-text('Assignment List')").click()
    page.locator("#jp-main-dock-panel .lm-TabBar-tabLabel:has-text('Assignments')").wait_for(timeout=30_000)
    page.wait_for_timeout(3000)
    body = page.locator("#jp-main-dock-panel").inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "assignment-list.png"))
    assert "does not exist" not in body and "error" not in body.lower(), body[:500]
