"""The folder in a process of its own, as `serve` and `worker` run it.

A fold is CPU work (summing the journal, ten upserts); in a thread of the server it took
the interpreter lock from the API's ingest. Here a child interpreter folds (folder.py's
`run_forever`), and a thread of the parent watches it: it starts the child, starts
another if it dies (a killed fold rolled back: the next one takes the same journal
rows), and on `Running.stop()` asks it to stop and waits for its last fold.

The child never outlives its parent: it reads its settings (the database URL, so that no
password shows in `ps`, and the lease holder) from a pipe on its standard input and
stops when that pipe closes, which it does when the parent stops it, exits or is
killed. Every child of one parent folds under one holder name, so a child started after
one died takes the lease at once rather than after its expiry (the dead one's
transaction is gone with it). Ctrl+C reaches the parent only: the child ignores SIGINT
and stops through the pipe, after its fold.

    python -m spendledger.store.folder_process     # the child; settings on stdin
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from spendledger.store.folder import INTERVAL, Running, new_holder, run_forever

STOP_WAIT = 25.0  # seconds a stopping child may take to finish its fold before it is killed
RESTART_WAIT = (1.0, 30.0)  # the wait before restarting a child that died: first, longest

log = logging.getLogger(__name__)


def start(url: str, *, interval: float = INTERVAL) -> Running:
    """Start a folder in a child process, watched (restarted, stopped) by a daemon thread of
    this one; `.stop()` the returned handle to stop both."""
    stop = threading.Event()
    watcher = _Watcher(url, holder=new_holder(), interval=interval, stop=stop)
    thread = threading.Thread(target=watcher.run, daemon=True, name="spendledger-folder")
    thread.start()
    return Running(stop, thread)


class _Watcher:
    def __init__(self, url: str, *, holder: str, interval: float, stop: threading.Event) -> None:
        self.settings = json.dumps({"url": url, "holder": holder, "interval": interval}) + "\n"
        self.stop = stop

    def run(self) -> None:
        wait = RESTART_WAIT[0]
        while not self.stop.is_set():
            started = time.monotonic()
            child = self._spawn()
            try:
                while child.poll() is None and not self.stop.wait(0.2):
                    pass
            finally:
                _end(child)
            if self.stop.is_set():
                return
            if time.monotonic() - started > 60:  # it ran a while: a fresh failure
                wait = RESTART_WAIT[0]
            log.warning("the folder process exited (%s); starting another in %.0f s", child.returncode, wait)
            self.stop.wait(wait)
            wait = min(wait * 2, RESTART_WAIT[1])

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        here = str(Path(__file__).resolve().parents[2])  # this very package, whatever sys.path holds
        env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
        child = subprocess.Popen(
            [sys.executable, "-m", "spendledger.store.folder_process"], stdin=subprocess.PIPE, env=env
        )
        assert child.stdin is not None
        child.stdin.write(self.settings.encode())
        child.stdin.flush()
        return child


def _end(child: subprocess.Popen[bytes]) -> None:
    """Close the child's pipe (it stops after its fold, if it still runs), wait for it; kill
    it if it hangs."""
    assert child.stdin is not None
    with contextlib.suppress(OSError):  # it died already
        child.stdin.close()
    try:
        child.wait(STOP_WAIT)
    except subprocess.TimeoutExpired:
        log.warning("the rollups' folder process did not stop within %.0f s; killing it", STOP_WAIT)
        child.kill()  # its fold rolls back: the journal keeps the rows
        child.wait()


def main() -> None:
    """The child: fold until standard input closes (or SIGTERM)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C stops the parent, which stops us
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    line = b""
    while not line.endswith(b"\n"):
        chunk = os.read(0, 65536)  # the raw pipe, not sys.stdin: a thread blocks on it below
        if not chunk:
            return  # the parent went before telling us anything
        line += chunk
    settings = json.loads(line)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def parent_gone() -> None:
        while os.read(0, 65536):  # b"" at EOF: the parent closed the pipe, exited or died
            pass
        stop.set()

    threading.Thread(target=parent_gone, daemon=True).start()
    from spendledger.store.engine import make_engine

    engine = make_engine(settings["url"])
    try:
        run_forever(engine, stop=stop, interval=settings["interval"], holder=settings["holder"])
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
