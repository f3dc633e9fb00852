"""What one student can reach of another's work through nbgrader's exchange, with nbgrader's
defaults and with the course hub's permissions (no browser, no JupyterHub: nbgrader's commands
run as the roster's Unix users, tests/hub_roster.csv).

In both setups: the instructor releases lab5, two students fetch and submit it, the instructor
collects it and releases feedback (a stand-in page; grading is the browser test's), the first
student fetches hers. Then hub.audit tries, as the second student, to list, read, write into
and rename everything of the first student's (her home, labs, nbgrader cache, fetched
feedback, submission in the inbound folder, released feedback, what the instructor collected).
  - nbgrader's defaults (homes 0755 as Debian's useradd makes them, a 0777 exchange root,
    nbgrader's own submit and release_feedback): the probes get in, which is what the hub must
    prevent and shows that they can see it;
  - the course hub (hub.launch.prepare: homes 0700, hub/exchange.py, hub/plugins.py): every
    probe is denied, and each student still reaches her own work.
Needs root for the accounts.
"""

import os
import pwd
import shutil
from pathlib import Path

import pytest

from hub import audit, launch
from hub.as_user import run
from hub.exchange import course_id
from hub.roster import COURSE_ROOT, EXCHANGE, INSTRUCTORS
from tests.hub_accounts import MEMBERS, ROSTER, is_root, new_hub_dir, remove_accounts, remove_hub_dir

TEACHER, ADA, BEN = MEMBERS
NBGRADER_DEFAULTS = """
c = get_config()  # noqa: F821  (this test: nbgrader's own exchange classes)
c.ExchangeFactory.submit = "nbgrader.exchange.default.ExchangeSubmit"
c.ExchangeFactory.release_feedback = "nbgrader.exchange.default.ExchangeReleaseFeedback"
"""

needs_root = pytest.mark.skipif(not is_root(), reason="creates Unix accounts: run as root")


def test_make_hub_without_root_says_why_and_stops(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert launch.main(["--hub-dir", str(tmp_path), "--roster", str(ROSTER)]) == 2
    assert "must run as root" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.fixture
def hub_dir():
    remove_accounts()            # what an interrupted run left
    folder = new_hub_dir()
    launch.prepare(folder, ROSTER)
    yield folder
    remove_accounts()
    remove_hub_dir(folder)


def nbgrader(member, *args, hub_dir: Path) -> None:
    result = run(member, ["nbgrader", *args], hub_dir, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def use_nbgrader_defaults(hub_dir: Path) -> None:
    """Undo the hub's permissions: Debian's home mode, nbgrader's exchange modes and classes (in
    the config of the folder each user's commands run in, which nbgrader reads last)."""
    for member in MEMBERS:
        member.home.chmod(0o755)
        config = member.home / (f"{COURSE_ROOT}/nbgrader_config.py" if member.role == "instructor" else
                                "nbgrader_config.py")
        config.write_text((config.read_text() if config.exists() else "") + NBGRADER_DEFAULTS)
        account = pwd.getpwnam(member.name)
        os.chown(config, account.pw_uid, account.pw_gid)
    (hub_dir / EXCHANGE).chmod(0o777)
    (hub_dir / EXCHANGE / course_id() / "inbound").chmod(0o2733)


def release_and_submit(hub_dir: Path) -> None:
    nbgrader(TEACHER, "release_assignment", "lab5", hub_dir=hub_dir)
    for student in (ADA, BEN):
        nbgrader(student, "fetch_assignment", "lab5", hub_dir=hub_dir)
        nbgrader(student, "submit", "lab5", hub_dir=hub_dir)
    nbgrader(TEACHER, "collect", "lab5", hub_dir=hub_dir)
    root, teacher = TEACHER.home / COURSE_ROOT, pwd.getpwnam(TEACHER.name)
    for student in (ADA, BEN):   # what the grading command leaves: the page and the receipts
        feedback = root / "feedback" / student.name / "lab5"
        feedback.mkdir(parents=True)
        (feedback / "lab5.html").write_text(f"<html><body>feedback for {student.name}</body></html>")
        for name in ("timestamp.txt", "submission_secret.txt"):
            shutil.copyfile(root / "submitted" / student.name / "lab5" / name, feedback / name)
        for path in [feedback.parent.parent, feedback.parent, feedback, *feedback.iterdir()]:
            os.chown(path, teacher.pw_uid, teacher.pw_gid)
    nbgrader(TEACHER, "release_feedback", "lab5", hub_dir=hub_dir)
    nbgrader(ADA, "fetch_feedback", "lab5", hub_dir=hub_dir)


def allowed(answers: list) -> set[str]:
    return {f"{operation} {path}" for operation, path, answer in answers if answer == "allowed"}


@needs_root
@pytest.mark.slow
def test_with_nbgrader_defaults_a_student_reads_another_students_work(hub_dir):
    use_nbgrader_defaults(hub_dir)
    release_and_submit(hub_dir)
    found = audit.targets(ADA.name, MEMBERS, hub_dir)
    answers = audit.run_probe(BEN, found, hub_dir)
    print("\n".join(f"{answer:28} {operation:6} {path}" for operation, path, answer in answers))
    course = hub_dir / EXCHANGE / course_id()
    submission = next((course / "inbound").glob(f"{ADA.name}+lab5+*"))
    released = {f"read {path}" for operation, path in found if Path(path).parent == course / "feedback"}
    cached = {f"read {path}" for operation, path in found if "nbgrader_cache" in path}
    root = TEACHER.home / COURSE_ROOT
    expected = {f"list {ADA.home}", f"read {ADA.home / 'lab5' / 'lab5.ipynb'}", *cached, *released,
                f"list {submission}", f"read {submission / 'lab5.ipynb'}", f"write {submission}",
                f"rename {submission}", f"rename {course}", f"read {root / 'gradebook.db'}",
                f"read {root / 'submitted' / ADA.name / 'lab5' / 'lab5.ipynb'}"}
    assert released and cached
    assert expected <= allowed(answers)


@needs_root
@pytest.mark.slow
def test_on_the_course_hub_a_student_reaches_only_her_own_work(hub_dir):
    release_and_submit(hub_dir)
    answers = audit.run_probe(BEN, audit.targets(ADA.name, MEMBERS, hub_dir), hub_dir)
    print("\n".join(f"{answer:28} {operation:6} {path}" for operation, path, answer in answers))
    assert len(answers) >= 20, "the audit found too little of Ada's work to try"
    assert not allowed(answers)
    own = allowed(audit.run_probe(ADA, audit.targets(ADA.name, MEMBERS, hub_dir), hub_dir))
    assert f"read {ADA.home / 'lab5' / 'lab5.ipynb'}" in own and any("submission_secret.txt" in a for a in own)
    course = hub_dir / EXCHANGE / course_id()
    feedback = list((course / "feedback").glob("*.html"))
    assert {p.group() for p in feedback} == {ADA.name, BEN.name} and all(p.stat().st_mode & 0o777 == 0o640
                                                                        for p in feedback)
    assert all(p.group() == INSTRUCTORS for p in (course / "inbound").iterdir())
