"""A forking launcher of the real HTTP server, so that a test can SIGKILL and restart it many times quickly.

Importing the app and loading the dictionaries costs seconds; a crash test that restarts the server twenty
times cannot pay that each time. This launcher pays it once, then forks a fresh child per start: the child
opens the database and the index from scratch and serves through uvicorn on loopback, exactly as a new
process would (nothing database- or index-related exists in the launcher before the fork).

Protocol on stdin/stdout, one line each: `start PORT` -> the child's pid; `exit` -> the launcher ends.
"""

from __future__ import annotations

import os
import sys


def _serve(port: int) -> None:
    import uvicorn

    uvicorn.run("app.main:create_app", factory=True, host="127.0.0.1", port=port, log_level="warning",
                access_log=False)


def _reap() -> None:
    """Collect killed children so they do not linger as zombies."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def main() -> None:
    import app.main  # noqa: F401 - the costly imports, paid once before any fork
    from dedup.decide.verify import warm_up

    warm_up()
    print("ready", flush=True)
    for line in sys.stdin:
        command = line.split()
        _reap()
        if not command or command[0] == "exit":
            break
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _serve(int(command[1]))
            except BaseException:  # noqa: BLE001 - a child must never return into the launcher loop
                code = 1
            os._exit(code)
        print(pid, flush=True)


if __name__ == "__main__":
    main()
