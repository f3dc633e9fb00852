"""The grader as an ordinary user (the usual case on a laptop or a JupyterHub): the same sandbox.

When the suite runs as root it creates a user (useradd) and runs the grader under it, with a
Python environment that user can execute: the system's Python 3.11 and the project's installed
packages (the venv's own interpreter may live in root's home). Otherwise it runs as the user it
is. A subset of the attack submissions is graded; the sample-class harness then checks the
canaries (in that user's home too) and that no process of the batch is left.
"""

import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

from autograder.report import read_grades_csv

REPO = Path(__file__).resolve().parent.parent
USER = "rnnlabs-grader"
STUDENTS = ["reference-solution", "attack-write-outside", "attack-steal-network", "attack-daemon",
            "attack-other-students", "attack-fill-memory", "attack-symlink", "cheat-fake-scores-lab5"]

pytestmark = pytest.mark.slow


def ordinary_user(tmp: Path) -> tuple[dict, Path]:
    """Popen arguments that run as an ordinary user, and that user's Python."""
    if os.geteuid() != 0:
        return {}, Path(sys.executable)
    if subprocess.run(["id", USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", USER], check=True)
    account = pwd.getpwnam(USER)
    system_python = shutil.which("python3.11", path="/usr/bin:/usr/local/bin")
    assert system_python, "the system's python3.11 is needed to run the grader as an ordinary user"
    venv = tmp / "venv"
    subprocess.run([system_python, "-m", "venv", "--without-pip", str(venv)], check=True)
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.check_output([venv / "bin" / "python", "-c", where], text=True).strip())
    (site / "rnn-labs.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    (venv / "bin" / "alembic").write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom alembic.config import "
                                          "main\nsys.exit(main())\n")
    (venv / "bin" / "alembic").chmod(0o755)
    for path in [tmp, *tmp.rglob("*")]:
        os.chown(path, account.pw_uid, account.pw_gid, follow_symlinks=False)
    env = {"HOME": account.pw_dir, "USER": USER, "LOGNAME": USER}
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": [], "env_extra": env}, \
        venv / "bin" / "python"


@pytest.fixture
def shared_tmp():
    """A temporary folder the ordinary user can reach (pytest's own is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="rnn-labs-user-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_attack_subset_graded_as_an_ordinary_user(shared_tmp):
    tmp_path = shared_tmp
    popen, python = ordinary_user(tmp_path)
    env = {**os.environ, **popen.pop("env_extra", {}), "PATH": f"{python.parent}:/usr/bin:/bin", "LABS_QUIET": "1"}
    out = tmp_path / "course"
    command = [str(python), "-m", "autograder.grade", "--out", str(out), "--students", *STUDENTS]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=1500, **popen)
    print(result.stdout[-4000:])
    assert "sandbox on" in result.stdout
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = read_grades_csv(out / "grades.csv")
    assert rows[("reference-solution", "lab5")]["auto_score"] == 14
    assert rows[("attack-symlink", "lab5")]["status"] == "refused"
