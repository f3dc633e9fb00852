"""The per-submission limits kill a whole process tree, whatever it does with signals."""

import sys
import textwrap
import time

import psutil

from autograder.limits import Limits, one_thread_env, run_limited


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def test_a_finished_command_reports_ok_time_and_memory():
    code = "import numpy, time; a = numpy.ones(20_000_000); time.sleep(0.5); print('done', a.sum())"
    outcome = run_limited(python(code), Limits(seconds=60, memory_mb=2000))
    assert outcome.status == "ok" and outcome.returncode == 0
    assert "done 20000000.0" in outcome.output
    assert outcome.peak_mb > 100          # the 160 MB array was seen


def test_a_failing_command_is_failed_not_killed():
    outcome = run_limited(python("raise SystemExit(3)"), Limits(seconds=60))
    assert (outcome.status, outcome.returncode) == ("failed", 3)


def test_a_loop_that_ignores_sigint_in_a_separate_session_is_killed_at_the_wall_clock_limit():
    code = """
        import signal, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c",
            "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)\\nwhile True: pass"],
            start_new_session=True)
        print(child.pid, flush=True)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        while True:
            time.sleep(0.1)
    """
    started = time.monotonic()
    outcome = run_limited(python(code), Limits(seconds=2, memory_mb=2000))
    assert outcome.status == "timed out" and outcome.returncode is None
    assert time.monotonic() - started < 10
    grandchild = int(outcome.output.split()[0])
    time.sleep(0.3)
    assert not psutil.pid_exists(grandchild) or psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE


def test_a_memory_hog_is_killed_at_the_memory_limit_long_before_it_stops_by_itself():
    code = """
        import time
        blocks = []
        for _ in range(40):                      # stops by itself at 2 GB
            blocks.append(bytearray(50 * 2**20))  # bytearray touches (zeroes) its pages
            time.sleep(0.05)
        print("survived")
    """
    outcome = run_limited(python(code), Limits(seconds=60, memory_mb=300))
    assert outcome.status == "out of memory" and "survived" not in outcome.output
    assert 300 < outcome.peak_mb < 600


def test_one_thread_env_sets_every_thread_knob():
    env = one_thread_env({"PATH": "/bin"})
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "1" and env["PATH"] == "/bin"
