"""The rollups' folder processes (folder_process.py) a process started and that still run,
read from /proc: a test asserts that none is left behind."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

MODULE = b"spendledger.store.folder_process"


def folder_children(parent: int | None = None) -> list[int]:
    """Pids of the live (not zombie) folder processes whose parent is `parent` (this one)."""
    parent = os.getpid() if parent is None else parent
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:  # it ended while we looked
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == parent and state != "Z" and MODULE in cmdline:
            found.append(int(proc.name))
    return found


def alive(pid: int) -> bool:
    """`pid` runs (exists and is not a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(condition: Callable[[], object], timeout: float = 20.0) -> None:
    """Poll `condition()` until it is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"still not true after {timeout} s: {condition}"
        time.sleep(0.05)
