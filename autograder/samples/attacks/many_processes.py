# ATTACK: start 300 processes (each a `sleep` that would linger for a minute). The sandbox's
# process limit stops it well before 300 (had it not, the watchdog would kill the job at 256);
# then it ends its children, and the job is graded as usual.
import os
import signal

started, stopped = [], ""
try:
    for _ in range(300):
        pid = os.fork()
        if pid == 0:
            os.execv("/bin/sleep", ["sleep", "60"])
        started.append(pid)
except OSError as error:
    stopped = f"stopped after {len(started)} processes: {error}"
for pid in started:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
print("processes started:", len(started), stopped if len(started) < 300 else "")
