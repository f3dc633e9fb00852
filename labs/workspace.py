"""A student's work folder: copies of the released labs plus the settings JupyterLab's nbgrader needs.

    python -m labs.workspace work     # what `make lab` runs before it starts JupyterLab on work/

Labs already in the folder are left as they are (your work is never overwritten). The folder
gets an nbgrader_config.py that loads the course settings (the Validate button then allows a
training cell the same 300 s the grader does) and an exchange folder of its own, so the Nbgrader
menu's Assignment List opens without "exchange directory does not exist" (it lists nothing:
locally there is no instructor to release to you).
"""

import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIG = """c = get_config()  # noqa: F821  (written by python -m labs.workspace)
load_subconfig({settings!r})  # noqa: F821
c.Exchange.root = {exchange!r}
"""


def prepare(folder: Path, release: Path = REPO / "release") -> list[Path]:
    """Copy each release/<lab>/ that `folder` lacks; write the config; return the lab folders."""
    if not release.is_dir():
        raise FileNotFoundError(f"{release} not found: run this from a clone of the course repository")
    folder.mkdir(parents=True, exist_ok=True)
    labs = []
    for lab in sorted(p for p in release.iterdir() if p.is_dir()):
        if not (folder / lab.name).exists():
            shutil.copytree(lab, folder / lab.name)
        labs.append(folder / lab.name)
    exchange = folder.resolve() / ".exchange"
    exchange.mkdir(exist_ok=True)
    exchange.chmod(0o777)
    settings = REPO / "autograder" / "nbgrader_settings.py"
    (folder / "nbgrader_config.py").write_text(CONFIG.format(settings=str(settings), exchange=str(exchange)))
    return labs


if __name__ == "__main__":
    for path in prepare(Path(sys.argv[1] if len(sys.argv) > 1 else "work")):
        print(f"ready: {path}")
