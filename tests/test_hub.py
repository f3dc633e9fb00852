"""The whole course on a real JupyterHub, driven in headless Chromium: release, fetch, validate,
submit, collect, grade, feedback, and one student trying to reach another's work.

The module starts the README's command, `make hub`, on a temporary HUB_DIR, a free port on
127.0.0.1 and the test roster (tests/hub_roster.csv: an instructor and two students whose Unix
accounts are made fresh and removed afterwards), and stops it by its PID. The instructor's side
runs nbgrader's and the grader's commands as hub.as_user runs them (the environment of the
instructor's own terminal on the hub); the students' side is all in the browser.
  1. the instructor releases lab5 and lab6;
  2. Ada and Ben log in; their Nbgrader menu has the Assignment List only, their servers no
     formgrader; each fetches Lab 5 in the Assignment List;
  3. Ada's lab gets the source's solutions written in (what she would have typed), Ben's stays
     blank; both click Validate in the Assignment List: success for Ada, failure for Ben;
  4. Ada submits; the instructor sets the due date to now; Ben submits, late;
  5. the instructor collects, grades in the course root and releases the feedback: grades.csv
     has both submissions with the timestamps their Assignment Lists showed, Ben's late;
  6. both fetch their feedback in the Assignment List and open it: all autograded points
     for Ada, 0 for Ben, and no line of a hidden test;
  7. Ben tries to reach Ada's work: as his Unix user (hub.audit's probes), with the same probes
     in a notebook on his own server's kernel, through his server's contents and files API
     (paths outside his home), and at Ada's server's URL; each is denied;
  8. the instructor logs in: Formgrader is in the Nbgrader menu and lists lab5.
Screenshots, grades.csv, the hub's log and the timings go to tests/artifacts/hub-*.
"""

import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

import nbformat
import pytest
from nbgrader.utils import parse_utc

from autograder.report import read_grades_csv
from autograder.submissions import solution_notebook
from hub import audit
from hub.as_user import run
from hub.roster import COURSE_ROOT, STATE
from tests.hub_accounts import MEMBERS, ROSTER, is_root, new_hub_dir, remove_accounts, remove_hub_dir

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TEACHER, ADA, BEN = MEMBERS
HUB_START_LIMIT_S = 300      # make hub: the venv is there; the users' Python and the course roots are made
VALIDATE_LIMIT_S = 600       # Validate re-executes the whole lab on the student's server (1-4 min on 2 busy cores)
HIDDEN_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
LAB5_AUTO_POINTS = sum(cell.metadata["nbgrader"]["points"] for cell in nbformat.read(
    REPO / "source" / "lab5" / "lab5.ipynb", as_version=4).cells
    if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code")
PART_POINTS = re.compile(r"^([\d.]+) / ([\d.]+)$")   # the points column of the feedback's summary table

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (see .ci/run)"),
              pytest.mark.skipif(not is_root(), reason="make hub creates Unix accounts: run as root")]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": FLAGS}


class Hub(NamedTuple):
    url: str
    folder: Path
    passwords: dict
    start_s: float    # from `make hub` to the hub answering


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(process: subprocess.Popen, proxy_pid: Path) -> None:
    """SIGTERM to make hub's process group (JupyterHub stops the users' servers), then the proxy."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    if proxy_pid.exists():
        try:
            os.kill(int(proxy_pid.read_text()), signal.SIGTERM)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def hub():
    remove_accounts()            # what an interrupted run left
    folder, port = new_hub_dir(), free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(ARTIFACTS / "hub-server.log", "w") as log:
        process = subprocess.Popen(["make", "-s", "hub", f"HUB_DIR={folder}", f"HUB_ROSTER={ROSTER}",
                                    f"HUB_PORT={port}"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/hub/api", timeout=5) as answer:
                    assert json.load(answer)["version"]
                break
            except OSError:
                if process.poll() is not None or time.monotonic() - started > HUB_START_LIMIT_S:
                    pytest.fail(f"make hub did not start (see {ARTIFACTS / 'hub-server.log'})")
                time.sleep(1)
        passwords = json.loads((folder / STATE / "passwords.json").read_text())
        yield Hub(url, folder, passwords, time.monotonic() - started)
    finally:
        stop(process, folder / STATE / "proxy.pid")
        remove_accounts()
        remove_hub_dir(folder)


def as_instructor(hub: Hub, *command: str) -> str:
    """A command in the instructor's course root, as their hub terminal would run it; its output."""
    result = run(TEACHER, list(command), hub.folder, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result.stdout + result.stderr


PAGES = {}   # user: their page, for screenshots when the test fails


@pytest.fixture(autouse=True)
def screenshots_on_failure(request):
    failed = request.session.testsfailed
    yield
    if request.session.testsfailed > failed:
        for user, page in PAGES.items():
            page.screenshot(path=str(ARTIFACTS / f"hub-failed-{user}.png"))


def log_in(browser, hub: Hub, user: str):
    """A browser context of `user`'s own: the hub's login form, then their JupyterLab once it has spawned."""
    page = PAGES[user] = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(60_000)   # 2 busy cores: the servers answer slowly while a lab runs
    page.in_flight = set()    # the Assignment List's requests in flight (see settle)
    page.on("request", lambda r: page.in_flight.add(r) if "/assignment_list/" in r.url else None)
    for finished in ("requestfinished", "requestfailed"):
        page.on(finished, lambda r: page.in_flight.discard(r))
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", hub.passwords[user])
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{user}/lab**", timeout=120_000)
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel:has-text('Nbgrader')").wait_for(timeout=120_000)
    return page


def nbgrader_menu(page) -> list[str]:
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel:has-text('Nbgrader')").click()
    page.locator(".lm-Menu .lm-Menu-itemLabel").first.wait_for(timeout=10_000)
    items = page.locator(".lm-Menu .lm-Menu-itemLabel").all_inner_texts()
    page.keyboard.press("Escape")
    return [item for item in items if item.strip()]


def settle(page) -> None:
    """Wait until the Assignment List has no request in flight for a second (it reloads after each
    action and when it is shown, and each reload redraws its rows)."""
    quiet_since = time.monotonic()
    deadline = quiet_since + 60
    while time.monotonic() - quiet_since < 1:
        page.wait_for_timeout(200)    # lets Playwright deliver the request events
        if page.in_flight:
            quiet_since = time.monotonic()
        assert time.monotonic() < deadline, "the Assignment List kept loading for a minute"


def assignment_list(page):
    """Open (or refresh) the Assignment List; return its panel once it has loaded."""
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel:has-text('Nbgrader')").click()
    page.locator(".lm-Menu-itemLabel:has-text('Assignment List')").click()
    panel = page.locator("#nbgrader-assignment-list")
    panel.locator("#refresh_assignments_list").click()
    settle(page)
    return panel


def row(panel, section: str, lab: str):
    """The Assignment List's row of `lab` in one of its sections: released, fetched, submitted."""
    name = panel.page.locator(".item_name", has_text=re.compile(rf"^\s*{lab}\s*$"))
    return panel.locator(f"#{section}_assignments_list > .list_item").filter(has=name)


def fetch(page, lab: str) -> None:
    panel = assignment_list(page)
    row(panel, "released", lab).locator("button:has-text('Fetch')").click()
    row(panel, "fetched", lab).wait_for(timeout=60_000)
    settle(page)


def start_validation(page, lab: str) -> None:
    """Validate in the Assignment List (it re-executes the lab on the server); returns at once."""
    fetched = row(assignment_list(page), "fetched", lab)
    fetched.locator("a.assignment-notebooks-link").click()
    fetched.locator(".nested_list_item button:has-text('Validate')").click()


def validation_result(page) -> tuple[str, str]:
    message = page.locator("#validation-message")
    message.wait_for(timeout=VALIDATE_LIMIT_S * 1000)
    verdict, text = message.get_attribute("class"), message.inner_text()
    return verdict, text


def accept_unexpected_dialog(page) -> None:
    """Accept a dialog that JupyterLab raised on its own; its text goes to tests/artifacts/."""
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        (ARTIFACTS / "hub-unexpected-dialog.txt").write_text(dialog.first.inner_text())
        close_dialog(page)


def close_dialog(page) -> None:
    page.locator(".jp-Dialog button.jp-mod-accept").click()
    page.locator(".jp-Dialog").wait_for(state="detached", timeout=10_000)


def submit(page, lab: str) -> str:
    """Submit in the Assignment List; return the submission's timestamp as the list shows it."""
    panel = assignment_list(page)
    row(panel, "fetched", lab).locator(".item_status button:has-text('Submit')").click()
    submitted = row(panel, "submitted", lab)
    submitted.wait_for(timeout=60_000)
    return re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \w+", submitted.inner_text()).group(0)


def open_feedback(page, lab: str) -> str:
    """Fetch Feedback, then "view feedback" and the page in JupyterLab's HTML viewer; return its text."""
    panel = assignment_list(page)
    row(panel, "submitted", lab).locator("button:has-text('Fetch Feedback')").click()
    row(panel, "submitted", lab).locator("a:has-text('view feedback')").click()
    page.locator(f".jp-DirListing-item:has-text('{lab}.html')").dblclick()
    frame = page.frame_locator(".jp-HTMLViewer iframe")
    frame.locator("h4#total").wait_for(timeout=30_000)
    return frame.locator("body").inner_text()


def autograded_points(feedback_text: str) -> tuple[float, float]:
    """The autograded points of a feedback page and their maximum: the summary table's rows
    (part, what it checks, points, verdict) except the one graded by hand."""
    scores = [PART_POINTS.match(fields[2]).groups() for fields in
              (line.split("\t") for line in feedback_text.splitlines())
              if len(fields) >= 3 and PART_POINTS.match(fields[2]) and fields[1] != "graded by hand"]
    assert scores, feedback_text[:2000]
    return sum(float(s) for s, _ in scores), sum(float(m) for _, m in scores)


def hidden_test_lines(lab: str) -> set[str]:
    source = nbformat.read(REPO / "source" / lab / f"{lab}.ipynb", as_version=4)
    visible = {line.strip() for cell in source.cells for line in HIDDEN_BLOCK.sub("", cell.source).splitlines()}
    return {line.strip() for cell in source.cells for block in HIDDEN_BLOCK.findall(cell.source)
            for line in block.splitlines() if len(line.strip()) > 15 and line.strip() not in visible}


def write_as(member, path: Path, nb) -> None:
    """Write a notebook into a user's home, owned by them (as if they had saved it)."""
    nbformat.write(nb, path)
    account = os.stat(member.home)
    os.chown(path, account.st_uid, account.st_gid)


def run_probe_notebook(page, hub: Hub) -> list:
    """hub.audit's probes in a notebook on the student's own server: Run All, then the printed answers."""
    page.goto(f"{hub.url}/user/{BEN.name}/lab/tree/probe.ipynb?reset")
    notebook = page.locator("#jp-main-dock-panel .jp-NotebookPanel:not(.lm-mod-hidden)")
    notebook.locator(".jp-Notebook-ExecutionIndicator[data-status=idle]").wait_for(timeout=90_000)
    prompt = notebook.locator(".jp-CodeCell .jp-InputArea-prompt").first
    for _ in range(3):   # right after the kernel connects, JupyterLab can drop a Run All: click again
        accept_unexpected_dialog(page)
        page.locator("#jp-MainMenu .lm-MenuBar-itemLabel:has-text('Run')").first.click()
        page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
        deadline = time.monotonic() + 15
        while prompt.inner_text().strip() in ("", "[ ]:") and time.monotonic() < deadline:
            page.wait_for_timeout(500)
        if prompt.inner_text().strip() not in ("", "[ ]:"):
            break
    deadline = time.monotonic() + 120
    while not re.fullmatch(r"\[\d+\]:", prompt.inner_text().strip()):   # [1]: once it has run
        assert time.monotonic() < deadline, "the probe notebook did not finish in 2 minutes"
        page.wait_for_timeout(500)
    return json.loads(notebook.locator(".jp-OutputArea-output").first.inner_text())


def test_the_course_loop_on_the_hub_and_students_kept_apart(hub, browser):
    timings, started = {"hub_start_s": hub.start_s}, time.monotonic()
    clock = started

    def lap(name: str) -> None:
        """Time the phase that ends now; the timings so far go to tests/artifacts/hub-timings.json."""
        nonlocal clock
        timings[f"{name}_s"], clock = time.monotonic() - clock, time.monotonic()
        timings["total_s"] = clock - started + hub.start_s
        (ARTIFACTS / "hub-timings.json").write_text(json.dumps({k: round(v, 1) for k, v in timings.items()}))

    def shot(page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"hub-{name}.png"))

    as_instructor(hub, "nbgrader", "release_assignment", "lab5")
    as_instructor(hub, "nbgrader", "release_assignment", "lab6")
    lap("release")

    ada, ben = log_in(browser, hub, ADA.name), log_in(browser, hub, BEN.name)
    lap("students_log_in")
    assert nbgrader_menu(ada) == ["Assignment List"]
    assert ada.request.get(f"{hub.url}/user/{ADA.name}/formgrader").status == 404
    for page in (ada, ben):
        fetch(page, "lab5")
        row(page.locator("#nbgrader-assignment-list"), "released", "lab6").wait_for(timeout=10_000)
    shot(ada, "ada-fetched")
    lap("fetch")

    write_as(ADA, ADA.home / "lab5" / "lab5.ipynb",
             solution_notebook(REPO / "source" / "lab5" / "lab5.ipynb", REPO / "release" / "lab5" / "lab5.ipynb"))
    start_validation(ada, "lab5")
    start_validation(ben, "lab5")
    ben_verdict, ben_text = validation_result(ben)
    shot(ben, "ben-validate")
    ada_verdict, ada_text = validation_result(ada)
    shot(ada, "ada-validate")
    assert "validation-success" in ada_verdict, ada_text[:2000]
    assert "validation-failed" in ben_verdict, ben_text[:2000]
    close_dialog(ada)
    close_dialog(ben)
    lap("validate")

    ada_submitted = submit(ada, "lab5")
    shot(ada, "ada-submitted")
    due = math.ceil(time.time()) + 1          # after Ada's submission: due dates have whole seconds
    as_instructor(hub, "nbgrader", "db", "assignment", "add", "lab5",
                  f"--duedate={time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(due))}")
    time.sleep(max(0.0, due + 1 - time.time()))   # Ben submits a second or more after it
    ben_submitted = submit(ben, "lab5")
    lap("submit")

    as_instructor(hub, "nbgrader", "collect", "lab5")
    grading = as_instructor(hub, "python", "-m", "autograder.grade", "--submitted", "submitted", "--out", ".",
                            "--labs", "lab5")
    assert "sandbox on" in grading
    course = TEACHER.home / COURSE_ROOT
    shutil.copyfile(course / "grades.csv", ARTIFACTS / "hub-grades.csv")
    grades = read_grades_csv(course / "grades.csv")
    lap("collect_and_grade")
    ada_row, ben_row = grades[(ADA.name, "lab5")], grades[(BEN.name, "lab5")]
    expected_ada = ("graded", LAB5_AUTO_POINTS, LAB5_AUTO_POINTS)
    assert (ada_row["status"], ada_row["auto_score"], ada_row["auto_max"]) == expected_ada
    assert (ben_row["status"], ben_row["auto_score"], ben_row["reason"]) == ("graded", 0, "")
    assert parse_utc(ada_row["timestamp"]) == parse_utc(ada_submitted)
    assert parse_utc(ben_row["timestamp"]) == parse_utc(ben_submitted)
    assert ada_row["seconds_late"] == 0 and ben_row["seconds_late"] >= 1
    as_instructor(hub, "nbgrader", "release_feedback", "lab5")
    lap("release_feedback")

    hidden = hidden_test_lines("lab5")
    for page, member, expected in ((ada, ADA, (LAB5_AUTO_POINTS,) * 2), (ben, BEN, (0, LAB5_AUTO_POINTS))):
        text = open_feedback(page, "lab5")
        shot(page, f"{member.name.split('-')[-1]}-feedback")
        assert autograded_points(text) == expected
        assert not [line for line in hidden if line in text], "the feedback shows hidden test lines"
        assert not [line for line in hidden if line in
                    next((member.home / "lab5" / "feedback").glob("*/lab5.html")).read_text()]
    lap("feedback")

    targets = audit.targets(ADA.name, MEMBERS, hub.folder)
    assert len(targets) >= 20, "too little of Ada's work to try"
    assert any(path.startswith("/proc/") for _, path in targets), "Ada's server is not running"
    as_unix_user = audit.run_probe(BEN, targets, hub.folder)
    assert not [a for a in as_unix_user if a[2] == "allowed"], as_unix_user
    own = [("read", str(BEN.home / "lab5" / "lab5.ipynb"))]
    probe = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        audit.PROBE + f"\nprint(json.dumps(probe({json.dumps(own + targets)})))")])
    probe.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    write_as(BEN, BEN.home / "probe.ipynb", probe)
    in_kernel = run_probe_notebook(ben, hub)
    shot(ben, "ben-probe")
    assert in_kernel[0][2] == "allowed", "the kernel's probe could not even read Ben's own lab"
    assert [a for a in in_kernel[1:] if a[2] == "allowed"] == [] and len(in_kernel) == len(targets) + 1
    mine = ben.request.get(f"{hub.url}/user/{BEN.name}/api/contents/lab5/lab5.ipynb")
    assert mine.status == 200 and mine.json()["content"]
    for path in (f"api/contents/{quote(f'../{ADA.name}/lab5/lab5.ipynb', safe='')}",
                 f"files/{quote(f'../{ADA.name}/lab5/lab5.ipynb', safe='')}",
                 f"api/contents/{quote(f'../{TEACHER.name}/{COURSE_ROOT}/gradebook.db', safe='')}"):
        answer = ben.request.get(f"{hub.url}/user/{BEN.name}/{path}")
        assert answer.status in (403, 404) and "nbformat" not in answer.text(), path
    for path in ("api/contents/lab5/lab5.ipynb", "files/lab5/lab5.ipynb", "lab/tree/lab5/lab5.ipynb"):
        answer = ben.request.get(f"{hub.url}/user/{ADA.name}/{path}")
        assert answer.status == 403 and "nbformat" not in answer.text(), (path, answer.status)
    lap("probes")

    teacher = log_in(browser, hub, TEACHER.name)
    assert {"Assignment List", "Course List", "Formgrader"} <= set(nbgrader_menu(teacher))
    teacher.goto(f"{hub.url}/user/{TEACHER.name}/formgrader")
    lab5 = teacher.locator("tr", has_text="lab5")
    lab5.wait_for(timeout=30_000)
    assert "released" in lab5.inner_text()
    shot(teacher, "teacher-formgrader")
    lap("instructor")
