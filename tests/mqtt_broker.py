"""A real Mosquitto broker for tests: 127.0.0.1, a free port, persistence on, stopped by its PID."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """``start()`` / ``stop()`` a Mosquitto on 127.0.0.1:``port`` whose queue persists in ``folder`` across restarts."""

    def __init__(self, folder: Path):
        if MOSQUITTO is None:
            pytest.skip("mosquitto is not installed (the Makefile installs it: apt-get install mosquitto)")
        self.folder, self.port, self.proc = folder, free_port(), None
        self.conf = folder / "mosquitto.conf"
        # started as root, mosquitto drops to its own user, who may not write into a test's folder: stay
        # (loopback only, for the test's lifetime)
        stay = "user root\n" if os.geteuid() == 0 else ""
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                             f"persistence_location {folder}/\nautosave_interval 1\nmax_queued_messages 0\nset_tcp_nodelay true\n{stay}")

    def start(self, timeout: float = 10.0) -> None:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not open port {self.port} within {timeout} s")

    def stop(self) -> None:
        """SIGTERM to our broker's PID (it saves its queue), then wait for it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
