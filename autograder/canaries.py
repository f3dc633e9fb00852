"""What the sample class checks beyond scores: files outside the submissions, processes left.

Attack submissions (autograder/samples/attacks/) try to write into the grader's code, the
course and the home folder, to leave processes behind, and to fetch the hidden prices from a
server on this machine. While the sample class is graded:
    PriceServer    serves Lab 6's hidden closes on 127.0.0.1 (the worst case: a leak source
                   one hop away); a sandboxed kernel has no route to it
    Canaries       hashes every file an attack aims at, before the jobs and after them
    marked_files() files an attack wrote outside its sandbox (they carry its marker)
    leftovers()    the processes of the batch still alive afterwards (none may be)
"""

import hashlib
import http.server
import os
import threading
from pathlib import Path

import psutil

MARKER = "rnn-labs-attack"


class PriceServer:
    """An HTTP server on 127.0.0.1 that serves `csv` at /closes_2021.csv, in a thread."""

    def __init__(self, csv: Path, course: Path | None = None):
        """On a port derived from `course` when it is free (the attacks that use it then stay the
        same submission, and a re-run of the same course grades them again only if they changed),
        else on any free port."""
        body = csv.read_bytes()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        preferred = 20000 + int(hashlib.sha256(str(course).encode()).hexdigest(), 16) % 20000 if course else 0
        try:
            self.server = http.server.ThreadingHTTPServer(("127.0.0.1", preferred), Handler)
        except OSError:
            self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _files(root: Path, pattern: str = "**/*"):
    return [p for p in root.glob(pattern) if p.is_file() and "__pycache__" not in p.parts] if root.exists() else []


class Canaries:
    """Hashes of the files an attack would change: the repository's code, config, labs and git
    metadata, the venv's site-packages entries, the course's config and submissions, planted
    canary files in the course and the home folder."""

    def __init__(self, repo: Path, course: Path):
        self.repo, self.course = repo, course
        self.planted = [course / "canary.txt", Path.home() / ".rnn-labs-canary"]

    def paths(self) -> list[Path]:
        repo, course = self.repo, self.course
        site = sorted(Path(p) for p in (repo / ".venv" / "lib").glob("python*/site-packages"))
        return sorted({*_files(repo / "labs"), *_files(repo / "autograder", "**/*.py"), *_files(repo / "source"),
                       *_files(repo / "release"), repo / "nbgrader_config.py", repo / ".git" / "HEAD",
                       repo / ".git" / "config", course / "nbgrader_config.py", *_files(course / "submitted"),
                       *self.planted, *(p for s in site for p in s.glob("*.pth")),
                       *(s / "sitecustomize.py" for s in site), Path.home() / ".bashrc"})

    def snapshot(self) -> dict:
        for path in self.planted:
            path.write_text("a canary: no submission may change this file\n")
        return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else None for p in self.paths()}

    def changed(self, before: dict) -> list[str]:
        """Files that differ from `before` (changed, created or deleted)."""
        after = {str(p): hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else None for p in self.paths()}
        return sorted(path for path in set(before) | set(after) if before.get(path) != after.get(path))

    def remove(self) -> None:
        for path in self.planted:
            path.unlink(missing_ok=True)


def marked_files(course: Path) -> list[str]:
    """Files named with the attack marker outside any sandbox: /tmp, /dev/shm, the home folder, the course."""
    places = [Path("/tmp"), Path("/dev/shm"), Path.home(), course]
    return sorted(str(p) for place in places if place.exists() for p in place.iterdir() if MARKER in p.name)


def leftovers(course: Path) -> list[str]:
    """Processes still alive that belong to the batch: an attack's marker, or a kernel, sandbox
    or evaluator started for a job of `course`."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if process.pid != os.getpid() and (MARKER in command or (str(course) in command and (
                "ipykernel" in command or "bwrap" in command or "labs.portable" in command))):
            found.append(f"{process.pid}: {command[:120]}")
    return found
