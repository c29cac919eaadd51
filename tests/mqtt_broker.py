"""A real Mosquitto broker for tests: 127.0.0.1, a free port, persistence on, stopped by its PID.

:class:`Broker` is an open one (anonymous, no TLS); :class:`SecureBroker` runs the shipped
``examples/mosquitto/mosquitto.conf`` and ``acl`` as they are, with only the port and the
paths rewritten, a password file made by ``mosquitto_passwd`` and certificates made by
``openssl`` at test time (:func:`make_certificates`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mosquitto"
USERS = {"twin-feed": "feed-secret", "twin-sync": "sync-secret", "twin-view": "view-secret"}
"""The shipped ACL's logins and the passwords the tests give them."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stay() -> str:
    # started as root, mosquitto drops to its own user, who may not write into a test's folder: stay
    # (loopback only, for the test's lifetime)
    return "user root\n" if os.geteuid() == 0 else ""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def make_certificates(folder: Path) -> Path:
    """A CA, a server certificate for 127.0.0.1 and localhost, and a client certificate (P-256 keys,
    a day's validity), in ``folder``: ca.crt, server.crt/.key, client.crt/.key."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=twin test CA", cwd=folder)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"), ("client", "extendedKeyUsage=clientAuth")):
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN=twin-{name}", cwd=folder)
        (folder / f"{name}.ext").write_text(ext + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.crt", "-days", "1", "-extfile", f"{name}.ext", cwd=folder)
    return folder


class Broker:
    """``start()`` / ``stop()`` a Mosquitto on 127.0.0.1:``port`` whose queue persists in ``folder`` across restarts."""

    def __init__(self, folder: Path):
        if MOSQUITTO is None:
            pytest.skip("mosquitto is not installed (the Makefile installs it: apt-get install mosquitto)")
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.port, self.proc = folder, free_port(), None
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                             f"persistence_location {folder}/\nautosave_interval 1\nmax_queued_messages 0\nset_tcp_nodelay true\n{_stay()}")

    def start(self, timeout: float = 10.0) -> None:
        with open(self.folder / "mosquitto.log", "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        log = (self.folder / "mosquitto.log").read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"mosquitto did not open port {self.port} within {timeout} s:\n{log}")

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM to our broker's PID (it saves its queue), or SIGKILL (``kill``: it saves nothing); then wait for it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill() if kill else self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


class SecureBroker(Broker):
    """The shipped ``examples/mosquitto`` configuration on 127.0.0.1:``port``: TLS with ``certs``
    (from :func:`make_certificates`), the logins of :data:`USERS`, the shipped ACL."""

    def __init__(self, folder: Path, certs: Path):
        super().__init__(folder)
        if shutil.which("mosquitto_passwd") is None:
            pytest.skip("mosquitto_passwd is not installed (Debian package mosquitto)")
        passwd = folder / "passwd"
        passwd.touch(mode=0o600)
        for user, password in USERS.items():
            subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True, capture_output=True, timeout=30)
        shutil.copy(EXAMPLE / "acl", folder / "acl")
        paths = {"listener": f"{self.port} 127.0.0.1", "cafile": certs / "ca.crt", "certfile": certs / "server.crt",
                 "keyfile": certs / "server.key", "password_file": passwd, "acl_file": folder / "acl",
                 "persistence_location": f"{folder}/"}
        lines = []
        for line in (EXAMPLE / "mosquitto.conf").read_text().splitlines():
            key = line.split(" ", 1)[0]
            lines.append(f"{key} {paths[key]}" if key in paths else line)
        self.conf.write_text("\n".join(lines) + "\n" + _stay())
