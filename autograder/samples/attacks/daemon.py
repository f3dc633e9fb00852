# ATTACK: a double-forked process that outlives the kernel (and the whole batch, if it could) and
# keeps probing for other kernels' sockets for ten minutes. The harness looks for it afterwards.
import os
import sys

LOOP = """
import glob, socket, sys, time
end = time.time() + 600
while time.time() < end:
    for path in glob.glob('/tmp/**/*', recursive=True) + glob.glob('/run/**/*', recursive=True):
        try:
            s = socket.socket(socket.AF_UNIX); s.settimeout(0.2); s.connect(path); s.close()
        except OSError:
            pass
    time.sleep(0.5)
"""
if os.fork() == 0:                      # child: a new session, then fork again and exit
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", LOOP, "rnn-labs-attack-daemon"])
    os._exit(0)
print("daemon started")
