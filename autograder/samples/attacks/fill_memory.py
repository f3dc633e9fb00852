# ATTACK: write 3 GB of files into tmpfs (/dev/shm, /tmp, the home folder): files there are memory
# that no process holds. It stops by itself at 3 GB in all, should every limit fail. The files
# carry the attack marker: the harness looks for any left outside the sandbox.
import os

chunk, written = b"\0" * (256 * 2**20), {}
for folder in ("/dev/shm", "/tmp", os.path.expanduser("~")):
    written[folder] = 0
    try:
        with open(os.path.join(folder, "rnn-labs-attack-ballast"), "wb") as handle:
            while sum(written.values()) < 3 * 2**30:
                handle.write(chunk)
                handle.flush()
                written[folder] += len(chunk)
    except OSError as error:
        print(folder, "full:", error.strerror)
print({folder: f"{size / 2**20:.0f} MB" for folder, size in written.items()})
