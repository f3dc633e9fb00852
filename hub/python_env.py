"""The Python that the hub's users run: DIR/python, a view of this project's environment.

The project's .venv is built on an interpreter that other users may not be able to execute
(pyenv in root's home, as on the course machines), and the system's python3 may be another
patch release (Debian 12's 3.11.2 mis-compiles regular expressions that nbconvert's HTML export
needs). So `make hub` copies the project's own interpreter into DIR/python-base (its binary,
libpython and standard library, without site-packages and tests; patchelf points the binary at
the copied libpython) and makes DIR/python a venv of that copy:
    - a .pth file adds the project's site-packages (and with it the editable `labs`);
    - share/jupyter and etc/jupyter link to the project's (JupyterLab's extensions and static
      files, nbconvert's templates, the server extensions' switches);
    - bin/ gets a script for each of the project's console scripts (nbgrader, jupyter,
      jupyterhub-singleuser, ...) that runs it on this interpreter.
Users' servers, kernels, terminals and the grader run on it; the hub itself (root) keeps .venv.
"""

import importlib.metadata
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

SCRIPT = """#!{python}
import sys
from {module} import {function}
sys.exit({call})
"""
LEFT_OUT = shutil.ignore_patterns("site-packages", "dist-packages", "test", "tests", "idlelib", "turtledemo")


def copy_interpreter(target: Path) -> Path:
    """A copy of this interpreter's installation (sys.base_prefix) in `target`; return its binary."""
    number = f"{sys.version_info.major}.{sys.version_info.minor}"
    version, base = f"python{number}", Path(sys.base_prefix)
    binary = target / "bin" / version
    if binary.exists():
        return binary
    if shutil.which("patchelf") is None:
        raise FileNotFoundError("make hub needs patchelf to copy the interpreter: apt-get install patchelf")
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "bin").mkdir(parents=True)
    shutil.copy2(base / "bin" / version, staging / "bin" / version)
    shutil.copytree(base / "lib" / version, staging / "lib" / version, ignore=LEFT_OUT, symlinks=True)
    for library in (base / "lib").glob(f"libpython{number}*.so*"):
        shutil.copy2(library, staging / "lib" / library.name, follow_symlinks=False)
    subprocess.run(["patchelf", "--set-rpath", "$ORIGIN/../lib", str(staging / "bin" / version)], check=True)
    staging.rename(target)
    return binary


def build(folder: Path, base: Path) -> Path:
    """Create or refresh the venv `folder` on a copy of this interpreter in `base`; return its python."""
    if not (folder / "bin" / "python").exists():
        subprocess.run([str(copy_interpreter(base)), "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.check_output([python, "-c", where], text=True).strip())
    project = sysconfig.get_paths()["purelib"]
    (site / "rnn-labs-project.pth").write_text(f"import site; site.addsitedir({project!r})\n")
    for shared in ("share/jupyter", "etc/jupyter"):
        link = folder / shared
        link.parent.mkdir(exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(Path(sys.prefix) / shared)
    for entry in importlib.metadata.entry_points(group="console_scripts"):
        script = folder / "bin" / entry.name
        script.write_text(SCRIPT.format(python=python, module=entry.module, function=entry.attr.split(".")[0],
                                        call=f"{entry.attr}()"))
        script.chmod(0o755)
    return python
