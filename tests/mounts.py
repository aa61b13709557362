"""A tmpfs the test mounts (CI runs as root): for full-disk and read-only-root cases."""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from pathlib import Path
from typing import Iterator

import pytest


@contextlib.contextmanager
def tmpfs(parent: Path, options: str) -> Iterator[Path]:
    """A fresh tmpfs mounted under ``parent`` with ``options`` (e.g. ``size=3m``), unmounted after.

    Only a test run without root privileges skips; as root a failed mount fails the test.
    """
    mount = parent / f"tmpfs-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        if os.geteuid() != 0:
            pytest.skip(f"mounting a tmpfs needs root ({done.stderr.decode().strip()})")
        raise AssertionError(f"mount -t tmpfs -o {options} failed as root: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)
