"""The trusted scorer: it decides every autograded point, outside the student's kernel.

For each graded cell, the cell's hidden test connects (labs.hidden.respond) and the scorer asks
the kernel what it needs (autograder/questions.py), checks every answer itself and runs the
exported programs in a sandboxed evaluator (autograder/checks.py), then records one Verdict per
cell: the first request for a cell counts, a cell it never heard from scores 0. The grader
writes these verdicts into the gradebook; nothing the kernel prints or returns is read as a
score.

    Session(lab, hidden, socket_path)   one submission's scorer, on a Unix socket that only
                                        that submission's sandbox can see (autograder/job.py)
    serve_stdio()                       the same over stdin/stdout, for an instructor who runs
                                        a source notebook by hand (labs.hidden starts it)
"""

import math
import socketserver
import sys
import threading
from pathlib import Path

from autograder import sandbox
from autograder.checks import CELLS, HIDDEN, POINTS, Hidden, Scorer  # noqa: F401  (HIDDEN: for the grader)
from autograder.questions import EvaluatorError, Fail, Kernel, KernelError, Verdict
from labs import wire


def judge(scorer: Scorer, cell: str, kernel: Kernel) -> Verdict:
    """Run cell `cell`'s checks: full points unless a check fails (or partial points measured)."""
    points, rule, check = CELLS[cell]
    try:
        measured = check(scorer, kernel)
    except Fail as failure:
        return Verdict(cell, 0.0, points, str(failure), failure.measurements, rule)
    except (KernelError, EvaluatorError) as error:
        return Verdict(cell, 0.0, points, str(error), {}, rule)
    earned = measured.pop("points", points)
    earned = 0.0 if not math.isfinite(earned) else float(min(max(earned, 0.0), points))
    message = "passed" if earned == points else "partial credit" if earned > 0 else "no points"
    return Verdict(cell, earned, points, message, measured, rule)


class Session:
    """One submission's scorer. Kernels connect to `socket_path`; each connection asks for one
    graded cell; the first request for a cell is the one that counts."""

    def __init__(self, lab: str, hidden: Hidden, socket_path: Path | None = None, sandboxed: bool = True,
                 timeout: float = 600.0):
        self.scorer = Scorer(lab, hidden, sandboxed)
        self.verdicts: dict[str, Verdict] = {}
        self.lock = threading.Lock()
        self.timeout = timeout
        self.server = None
        if socket_path is not None:
            session = self

            class Handler(socketserver.StreamRequestHandler):
                def handle(self):
                    self.connection.settimeout(session.timeout)
                    session.converse(self.rfile, self.wfile)

            self.server = socketserver.ThreadingUnixStreamServer(str(socket_path), Handler)
            self.server.daemon_threads = True
            threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def converse(self, reader, writer, request: dict | None = None) -> None:
        """Serve one kernel connection: its first message names the cell."""
        try:
            if request is None:
                request, _ = wire.receive(reader, max_bytes=0)
            cell = str(request.get("cell"))
            with self.lock:
                verdict = self._verdict(cell, Kernel(reader, writer))
            wire.send(writer, {"kind": "verdict", "points": verdict.points, "max_points": verdict.max_points,
                               "message": verdict.message[:2000]})
        except (ConnectionError, OSError, wire.WireError, ValueError):
            pass                                   # a kernel that went away: its verdict (if any) stands

    def _verdict(self, cell: str, kernel: Kernel) -> Verdict:
        if cell not in CELLS or not cell.startswith(self.scorer.lab):
            return Verdict(cell, 0.0, 0.0, f"the scorer does not score {cell[:60]!r}")
        if cell in self.verdicts:
            previous = self.verdicts[cell]
            return Verdict(cell, previous.points, previous.max_points, "scored already: the first request counts")
        self.verdicts[cell] = Verdict(cell, 0.0, POINTS[cell], "the hidden tests did not finish")
        self.verdicts[cell] = judge(self.scorer, cell, kernel)
        return self.verdicts[cell]

    def verdict(self, cell: str) -> Verdict:
        """The recorded verdict, or 0 points when the cell's hidden tests never asked."""
        with self.lock:
            return self.verdicts.get(cell) or Verdict(cell, 0.0, POINTS.get(cell, 0.0),
                                                      "the hidden tests of this cell did not run", {}, "")

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        self.scorer.close()


def serve_stdio() -> None:
    """Requests over stdin/stdout until it closes (labs.hidden starts this outside the grader,
    one process per kernel, so that programs stay pinned across cells as under the grader)."""
    reader, writer = sys.stdin.buffer, sys.stdout.buffer
    try:
        sandbox.probe()
        sandboxed = True
    except sandbox.SandboxUnavailable:
        sandboxed = False                          # an instructor's own notebook: no student code
    session = None
    try:
        while True:
            try:
                request, _ = wire.receive(reader, max_bytes=0)
            except ConnectionError:
                return
            if session is None:
                session = Session(str(request.get("cell")).split("_")[0], Hidden(), None, sandboxed)
            session.converse(reader, writer, request)
    except KeyboardInterrupt:
        return                                     # the kernel was interrupted or shut down: nothing to report
    finally:
        if session is not None:
            session.close()
