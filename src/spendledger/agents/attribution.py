"""Who made a session's calls, and for which project.

The user is the `--user` option, else the git email configured for the session's
repository (`git config user.email` there: the repository's own, else the global one),
else the operating system's user. The project is the `--project` option, else the name
of the repository folder holding the session's working directory (its git top level; a
folder outside git, or one since deleted, is named as it is). Git is asked once per
working directory; without git, or when it fails, the fallbacks apply.
"""

from __future__ import annotations

import getpass
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath

from spendledger.ingest.model import RULES

GIT_TIMEOUT = 5.0  # seconds
LONGEST = int(RULES["user"]["max_length"])  # a dimension value's length

Git = Callable[[Sequence[str], Path | None], str | None]


def run_git(args: Sequence[str], cwd: Path | None) -> str | None:
    """`git *args` in `cwd`: its first line of output, or None when git fails or is absent."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT, check=False
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    lines = done.stdout.strip().splitlines()
    return lines[0].strip() if done.returncode == 0 and lines else None


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (a container without one): leave it blank
        return ""


def _folder(cwd: str) -> Path | None:
    """`cwd` when it is a folder on this machine (a log may come from another, or be garbled)."""
    try:
        return Path(cwd) if cwd and Path(cwd).is_dir() else None
    except (OSError, ValueError):
        return None


def _name(folder: str) -> str:
    """A folder's last part, whichever system wrote the path (a log copied from Windows)."""
    return (PureWindowsPath(folder) if "\\" in folder else PurePosixPath(folder)).name


class Attribution:
    """(user, project) per working directory, cached."""

    def __init__(self, *, user: str | None = None, project: str | None = None, git: Git = run_git) -> None:
        self.user = user
        self.project = project
        self._git = git
        self._known: dict[str, tuple[str, str]] = {}

    def of(self, cwd: str) -> tuple[str, str]:
        known = self._known.get(cwd)
        if known is None:
            known = self._known[cwd] = self._lookup(cwd)
        return known

    def _lookup(self, cwd: str) -> tuple[str, str]:
        here = _folder(cwd)
        user = self.user
        if user is None:
            user = self._git(["config", "user.email"], here) or os_user()
        project = self.project
        if project is None:
            top = self._git(["rev-parse", "--show-toplevel"], here) if here is not None else None
            project = _name(top) if top else _name(cwd)
        return user[:LONGEST], project[:LONGEST]
