# ATTACK: write where later trusted processes would read or run it: the grader's config and code,
# the course's gradebook and config, other students' folders, the home folder, the venv, git.
# Every attempt must fail (read-only or not there); the harness checks the canaries it plants.
import glob
import os
import subprocess

import labs

repo = os.path.dirname(os.path.dirname(os.path.abspath(labs.__file__)))
payload = "\nimport os; os.environ['RNN_LABS_PWNED'] = '1'  # rnn-labs attack\n"
targets = [os.path.join(repo, name) for name in ("nbgrader_config.py", "labs/hidden.py", "labs/rules.py",
                                                 "autograder/sandbox.py", "autograder/scorer.py",
                                                 "autograder/nbgrader_settings.py", ".git/config")]
targets += ["../../../nbgrader_config.py", "../../../gradebook.db", "../../../grades.csv",
            *glob.glob("/proc/*/cwd/../../../nbgrader_config.py"), *glob.glob("../../*/*/*.ipynb"),
            os.path.expanduser("~/.bashrc"), os.path.expanduser("~/../../root/.bashrc"),
            *glob.glob(os.path.join(repo, ".venv/lib/python*/site-packages/sitecustomize.py")),
            os.path.join(repo, "autograder", "runs", "samples", "nbgrader_config.py"),
            os.path.join(repo, "autograder", "runs", "samples", "canary.txt")]
written = []
for target in targets:
    try:
        with open(target, "a") as handle:
            handle.write(payload)
        written.append(target)
    except OSError:
        pass
try:
    subprocess.run(["git", "-C", repo, "commit", "--allow-empty", "-qm", "attack"], timeout=10, capture_output=True)
except (OSError, subprocess.SubprocessError):
    pass
print("written outside this kernel's folder:", [t for t in written if not os.path.abspath(t).startswith("/tmp")])
