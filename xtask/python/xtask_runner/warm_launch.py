"""An xdist worker of a session `cargo xtask watch` forked (`warm`), as xdist starts it: run by path
with `python -S -E` (the standard library only, in a few milliseconds) and the parent's socket, in
place of `python -u -c BOOTSTRAP`. It sends the warm parent its stdin, stdout and stderr, its arguments, environment,
directory and process group, waits for the worker the parent forks to end, and ends with its code.
When the parent cannot be reached, it becomes the interpreter xdist asked for, cold.
"""
import json
import os
import socket
import sys


def main():
    path, argv = sys.argv[1], sys.argv[2:]
    request = {"argv": argv, "env": dict(os.environ), "cwd": os.getcwd(), "pgid": os.getpgrp()}
    try:
        parent = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        parent.connect(path)
        socket.send_fds(parent, [json.dumps(request).encode()], [0, 1, 2])
    except OSError:
        os.execv(sys.executable, [sys.executable, *argv])
    code = 1
    while True:
        message = parent.recv(1 << 16)
        if not message:
            break
        answer = json.loads(message)
        if "code" in answer:
            code = answer["code"]
            break
        if "signal" in answer:
            code = 128 + answer["signal"]
            break
    os._exit(code)


if __name__ == "__main__":
    main()
