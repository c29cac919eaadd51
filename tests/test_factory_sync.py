"""Live sync through a real Mosquitto broker: replay, assimilate, publish; logins, ACL and TLS (the shipped
``examples/mosquitto`` configuration); poison messages; bursts and broker restarts that lose nothing."""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
from mqtt_broker import USERS, Broker, SecureBroker, free_port, make_certificates
from shared_data import DATA, need

pytestmark = [pytest.mark.data, pytest.mark.broker]  # needs ../shared/data and the Mosquitto binary

pytest.importorskip("paho.mqtt")
from twin.physics.thermal import ThermalModel  # noqa: E402

from twin.app.cli import add_endpoint_arguments, main  # noqa: E402
from twin.app.sync import (  # noqa: E402
    EXIT_LOST,
    MAX_PAYLOAD_BYTES,
    Endpoint,
    MachineSpec,
    Sync,
    _client,
    _connect,
    endpoint_from,
    parse_reading,
    replay,
    sync_client_id,
)
from twin.errors import InputError  # noqa: E402

LOG = DATA / "factory" / "machine_temperature_system_failure.csv"
MODEL = ThermalModel(tau=1840.0, q_T=0.0, q_u=0.0072, r=0.456, ambient=2.08)
"""The fit on the NAB log's probationary rows (rounded): fixed here so the test does not refit."""
FAST_BURST = 10_000
"""Readings in the burst of the quick suite; the slow one sends 100,000."""


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path)
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def secure(tmp_path, certs):
    """The shipped configuration (TLS, logins, ACL, persistence, queue limits) on 127.0.0.1."""
    b = SecureBroker(tmp_path / "broker", certs)
    b.start()
    try:
        yield b
    finally:
        b.stop()


def login(b, user: str, certs, **kw) -> Endpoint:
    return Endpoint("127.0.0.1", b.port, user, USERS.get(user, "?"), True, str(certs / "ca.crt"), **kw)


def open_broker(b) -> Endpoint:
    return Endpoint("127.0.0.1", b.port)


def collect(endpoint: Endpoint, topic: str) -> tuple[object, list]:
    """A subscriber and the messages it gets on ``topic`` (filled by its thread)."""
    got: list = []
    c = _client(broker=endpoint)
    c.on_message = lambda client, userdata, msg: got.append(json.loads(msg.payload))
    c.on_connect = lambda client, userdata, flags, rc, props: client.subscribe(topic, qos=1)
    _connect(c, endpoint)
    return c, got


def close(*clients) -> None:
    for c in clients:
        c.disconnect()
        c.loop_stop()


def until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def synthetic_log(path, n: int):
    """A log of ``n`` readings at 300 s (the NAB log's values, repeated), for bursts longer than the NAB log."""
    y = np.resize(np.loadtxt(need(LOG), delimiter=",", skiprows=1, usecols=1, max_rows=5000), n)
    t = np.datetime64("2014-01-01T00:00:00") + np.arange(n) * np.timedelta64(300, "s")
    path.write_text("timestamp,value\n" + "".join(f"{a},{b}\n" for a, b in zip(t.astype(str), y)))
    return path


def test_replay_drives_the_twin_and_bad_messages_are_refused(broker, capsys):
    spec = MachineSpec("test machine", MODEL, threshold=4.0, holdoff=3600.0)
    sync = Sync(spec, open_broker(broker), "plant/m1", client_id="sync-test-1")
    sync.start()
    client, predictions = collect(open_broker(broker), "plant/m1/twin")
    bad = _client(broker=open_broker(broker))
    _connect(bad, open_broker(broker))
    for payload in (b"not json", b'{"seq": 1}', b'{"seq": 2, "time": "2014-01-01T00:00:00Z", "value": "hot"}',
                    b'{"seq": 3, "time": "yesterday", "value": 1.0}'):
        bad.publish("plant/m1", payload, qos=1).wait_for_publish(5)
    sent = replay(need(LOG), open_broker(broker), "plant/m1", speed=1e7, start=100, count=200, progress=False)
    sync.wait(count=200, idle=10.0)
    until(lambda: len(predictions) >= 200)
    sync.stop()
    close(client, bad)
    assert sent == {"sent": 200, "published": 200, "acknowledged": 200, "refused": 0, "unsent": 0}
    assert len(sync.rows) == 200 and sync.counts["malformed"] == 4 and sync.lost == 0
    assert sorted(r["seq"] for r in sync.rows) == list(range(100, 300))
    assert len(predictions) == 200 and all(np.isfinite(p["predicted"]) for p in predictions)
    err = capsys.readouterr().err
    assert "topic plant/m1: message refused: not JSON" in err and "value 'hot' is not a finite number" in err
    assert "time 'yesterday' is not an ISO 8601 timestamp" in err and "missing time, value" in err


def test_cli_replay_and_sync_one_line_errors(capsys, tmp_path, monkeypatch):
    assert main(["replay", str(need(LOG)), "--mqtt", "localhost", "--topic", "t"]) == 2
    assert "--mqtt: expected HOST:PORT, got 'localhost'" in capsys.readouterr().err
    common = ["replay", str(LOG), "--mqtt", "127.0.0.1:1", "--topic", "t"]
    empty = tmp_path / "empty"
    empty.write_text("")
    for extra, says in ((["--password-file", str(tmp_path / "p")], "--password-file: a password needs --username"),
                        (["--username", "u", "--password-file", str(tmp_path)], "--password-file: no such file (or not a regular file)"),
                        (["--username", "u", "--password-file", str(empty)], "empty: no password in its first line"),
                        (["--cafile", str(LOG)], "--cafile: needs --tls"),
                        (["--tls", "--keyfile", str(LOG)], "--keyfile: needs --certfile"),
                        (["--tls", "--cafile", str(tmp_path / "none.crt")], "none.crt: --cafile: no such file"),
                        (["--tls", "--cafile", str(LOG)], "mqtts://127.0.0.1:1: TLS files refused")):
        assert main(common + extra) == 2, extra
        err = capsys.readouterr().err
        assert says in err and len(err.strip().splitlines()) == 1, err
    parser = argparse.ArgumentParser()
    add_endpoint_arguments(parser)
    readable = tmp_path / "readable"
    readable.write_text("secret\n")
    readable.chmod(0o644)
    with pytest.warns(UserWarning, match="other users may read this password file"):
        endpoint_from(parser.parse_args(["--mqtt", "127.0.0.1:1", "--username", "u", "--password-file", str(readable)]))
    with pytest.warns(UserWarning, match="the password goes to broker.example:1883 unencrypted; use --tls"):
        monkeypatch.setenv("TWIN_MQTT_PASSWORD", "secret")
        assert endpoint_from(parser.parse_args(["--mqtt", "broker.example:1883", "--username", "u"])).password == "secret"
    # no way to give the password on the command line (not even as an abbreviation of --password-file)
    assert main(common + ["--username", "u", "--password", "secret"]) == 2
    assert "unrecognized arguments: --password secret" in capsys.readouterr().err
    assert main(["sync", "scenes/machine_thermal.py", "--mqtt", "127.0.0.1:1", "--topic", "factory/#"]) == 2
    assert "'factory/#' is not a topic name or a filter of whole '+' levels" in capsys.readouterr().err
    assert main(common[:4] + ["--topic", "factory/+"]) == 2
    assert "'factory/+': readings are published on a topic name, not a filter" in capsys.readouterr().err
    monkeypatch.setattr("twin.app.sync.CONNECT_TIMEOUT_S", 1.0)
    port = free_port()  # nobody listens there
    assert main(["replay", str(LOG), "--mqtt", f"127.0.0.1:{port}", "--topic", "t"]) == 2
    assert capsys.readouterr().err == f"twin: mqtt://127.0.0.1:{port}: no broker answered within 1 s (Connection refused)\n"


def test_wrong_login_is_refused_in_one_line(secure, certs, tmp_path, monkeypatch, capsys):
    """A wrong password, no login, no --tls, no CA: each one line naming the broker and the reason, exit 2."""
    url = f"mqtts://127.0.0.1:{secure.port}"
    wrong = tmp_path / "password"
    wrong.write_text("not-the-password\n")
    wrong.chmod(0o600)
    base = ["replay", str(need(LOG)), "--mqtt", f"127.0.0.1:{secure.port}", "--topic", "factory/m0", "--quiet"]
    tls = ["--tls", "--cafile", str(certs / "ca.crt")]
    cases = ((["--username", "twin-feed", "--password-file", str(wrong)] + tls,
              f"{url}: the broker refused the connection: Not authorized (CONNACK reason code 135)"),
             (tls, f"{url}: the broker refused the connection: Not authorized (CONNACK reason code 135)"),
             (["--username", "twin-feed", "--password-file", str(wrong)],
              f"mqtt://127.0.0.1:{secure.port}: the broker closed the connection without a CONNACK"),
             (["--username", "twin-feed", "--password-file", str(wrong), "--tls"],
              f"{url}: TLS handshake failed (CERTIFICATE_VERIFY_FAILED)"))
    for extra, says in cases:
        assert main(base + extra) == 2, extra
        err = capsys.readouterr().err
        assert err.strip() == f"twin: {says}" or (says in err and len(err.strip().splitlines()) == 1), err
    sync = Sync(MachineSpec("test machine", MODEL), Endpoint("127.0.0.1", secure.port, "twin-sync", "wrong", True,
                                                            str(certs / "ca.crt")), "factory/m0")
    with pytest.raises(InputError, match=f"^{url}: the broker refused the connection: Not authorized"):
        sync.start()  # what `twin sync` prints after `twin: `
    monkeypatch.setenv("TWIN_MQTT_PASSWORD", USERS["twin-feed"])  # the right password, a client certificate too
    assert main(base + ["--username", "twin-feed", *tls, "--certfile", str(certs / "client.crt"),
                        "--keyfile", str(certs / "client.key"), "--count", "5"]) == 0


def test_a_client_without_rights_cannot_inject(secure, certs, capsys, monkeypatch):
    """The shipped ACL: a dashboard login cannot publish readings, the feed cannot publish predictions,
    and a login without read rights gets nothing."""
    sync = Sync(MachineSpec("test machine", MODEL), login(secure, "twin-sync", certs), "factory/m2")
    sync.start()
    spoof, spoofed = collect(login(secure, "twin-view", certs), "factory/m2/twin")
    monkeypatch.setenv("TWIN_MQTT_PASSWORD", USERS["twin-view"])
    assert main(["replay", str(need(LOG)), "--mqtt", f"127.0.0.1:{secure.port}", "--topic", "factory/m2", "--username",
                 "twin-view", "--tls", "--cafile", str(certs / "ca.crt"), "--count", "20", "--speed", "1e9", "--quiet"]) == EXIT_LOST
    out, err = capsys.readouterr()
    assert "20 readings refused by the broker (Not authorized)" in err and "0 accepted, 20 refused" in out
    fake = replay(need(LOG), login(secure, "twin-feed", certs), "factory/m2/twin", speed=1e9, count=20, progress=False)
    assert fake == {"sent": 20, "published": 20, "acknowledged": 20, "refused": 20, "unsent": 0}
    feed = replay(need(LOG), login(secure, "twin-feed", certs), "factory/m2", speed=1e9, start=500, count=50, progress=False)
    sync.wait(count=50, idle=5.0)
    until(lambda: len(spoofed) >= 50, 5.0)
    sync.stop()
    close(spoof)
    assert feed["refused"] == 0 and [r["seq"] for r in sync.rows] == list(range(500, 550))
    assert len(spoofed) == 50 and {p["seq"] for p in spoofed} == set(range(500, 550))  # the twin's own, none fake
    # a login without read rights (Mosquitto 2.0 grants the subscription and then delivers nothing; a broker
    # that refuses it in its SUBACK makes start() raise a one-line error)
    eavesdropper = Sync(MachineSpec("test machine", MODEL), login(secure, "twin-feed", certs), "factory/m2")
    eavesdropper.start()
    replay(need(LOG), login(secure, "twin-feed", certs), "factory/m2", speed=1e9, start=600, count=10, progress=False)
    eavesdropper.wait(idle=1.0)
    eavesdropper.stop()
    assert eavesdropper.rows == [] and eavesdropper.refused == 0


def poison(seq_base: int) -> list[bytes]:
    """Messages that are not readings: deep nesting, too big, NaN and infinities, a spoofed huge seq, the year 9999,
    not UTF-8, the wrong types."""
    ok = {"time": "2014-01-01T00:00:00Z", "value": 70.0}
    return [b"[" * 4000 + b"]" * 4000, b"[" * 3000, b'{"a":' * 600 + b"1" + b"}" * 600, b" " * 60_000,
            json.dumps({"seq": seq_base, **ok, "pad": "x" * MAX_PAYLOAD_BYTES}).encode(),
            b'{"seq": 7, "time": "2014-01-01T00:00:00Z", "value": NaN}', b'{"seq": 7, "time": "2014-01-01T00:00:00Z", "value": 1e400}',
            b'{"seq": 7, "time": "2014-01-01T00:00:00Z", "value": -Infinity}', b'{"seq": 7, "time": "2014-01-01T00:00:00Z", "value": 1, "sent": NaN}',
            json.dumps({"seq": 10**15, **ok}).encode(), json.dumps({"seq": 2**60, **ok}).encode(),
            json.dumps({"seq": seq_base, "time": "9999-12-31T23:59:59Z", "value": 70.0}).encode(),
            json.dumps({"seq": "1" * 5000, **ok}).encode()[:MAX_PAYLOAD_BYTES], b"\xff\xfe\x00garbage",
            json.dumps({"seq": True, **ok}).encode(), json.dumps({"seq": 1.5, **ok}).encode(), json.dumps([1, 2]).encode(),
            json.dumps({"seq": 8, "time": 12, "value": 70.0}).encode(), json.dumps({str(k): k for k in range(40)}).encode()]


def test_poison_messages_are_survived(secure, certs, capsys):
    """Poison before the twin starts and in mid-stream: each refused in one line, counted, acknowledged;
    the network thread lives, a spoofed seq or time does not make real readings duplicates or old,
    and nothing is redelivered to the next sync of the same session."""
    sync = Sync(MachineSpec("test machine", MODEL), login(secure, "twin-sync", certs), "factory/m3", client_id="poison")
    sync.start()
    bad = _client(broker=login(secure, "twin-feed", certs))
    _connect(bad, login(secure, "twin-feed", certs))

    def inject(seq_base: int) -> None:
        for payload in poison(seq_base):
            bad.publish("factory/m3", payload, qos=1).wait_for_publish(5)

    inject(0)
    feed = login(secure, "twin-feed", certs)
    replay(need(LOG), feed, "factory/m3", speed=1e9, start=1000, count=100, progress=False)
    sync.wait(count=100, idle=5.0)
    inject(1100)
    bad.publish("factory/m3", json.dumps({"seq": 1100, "time": "2016-06-01T00:00:00Z", "value": 1.0}), qos=1).wait_for_publish(5)
    replay(need(LOG), feed, "factory/m3", speed=1e9, start=1100, count=100, progress=False)
    sync.wait(count=200, idle=5.0)
    sync.stop()
    close(bad)
    assert [r["seq"] for r in sync.rows] == list(range(1000, 1200))
    assert sync.lost == 0 and sync.counts["duplicate"] == 0 and sync.counts["old"] == 0
    n = len(poison(0))  # one of them, seq 10**15, is a well-formed reading: refused as out of bounds
    assert sync.counts["malformed"] == 2 * (n - 1) and sync.counts["out_of_bounds"] == 3, sync.counts
    err = capsys.readouterr().err
    for says in ("not JSON (nested too deeply)", f"bytes, more than {MAX_PAYLOAD_BYTES}", "not JSON (NaN is not a finite number)",
                 "value 'inf' is not a finite number", "seq 1000000000000000 is", "days ahead of this computer's clock",
                 "not taken to start the twin", "more than 366 days after the twin's"):
        assert says in err, says
    again = Sync(MachineSpec("test machine", MODEL), login(secure, "twin-sync", certs), "factory/m3", client_id="poison")
    again.start()
    again.wait(idle=1.0)
    again.stop()
    assert again.rows == [] and again.refused == 0  # all were acknowledged: nothing comes back


def test_a_message_that_breaks_the_reader_is_counted_not_fatal():
    sync = Sync(MachineSpec("test machine", MODEL), Endpoint("127.0.0.1", 1), "plant/+")
    sync._on_message(sync.client, None, SimpleNamespace(topic="plant/a", payload=object()))  # len() raises TypeError
    sync._on_message(sync.client, None, SimpleNamespace(topic="plant/a/b", payload=b"{}"))
    sync._on_message(sync.client, None, SimpleNamespace(topic="other", payload=b"{}"))
    assert sync.counts["malformed"] == 1 and sync.counts["wrong_topic"] == 2
    with pytest.raises(ValueError, match="not JSON"):
        parse_reading(b"[" * 4000, "value")


def test_client_ids_resume_a_session_and_never_collide(tmp_path):
    a = sync_client_id("scenes/machine_thermal.py", tmp_path / "a", "factory/m1")
    assert a == sync_client_id("scenes/../scenes/machine_thermal.py", tmp_path / "x" / ".." / "a", "factory/m1")
    others = {sync_client_id("scenes/machine_thermal.py", tmp_path / "b", "factory/m1"),
              sync_client_id("scenes/machine_thermal.py", tmp_path / "a", "factory/m2"),
              sync_client_id("scenes/other.py", tmp_path / "a", "factory/m1"), sync_client_id("scenes/machine_thermal.py", None, "factory/m1")}
    assert a not in others and len(others) == 4 and all(len(c) <= 23 for c in others | {a})


def test_a_filter_topic_takes_its_machines_and_answers_each(secure, certs):
    sync = Sync(MachineSpec("test machine", MODEL), login(secure, "twin-sync", certs), "factory/+")
    sync.start()
    view, predictions = collect(login(secure, "twin-view", certs), "factory/+/twin")
    replay(need(LOG), login(secure, "twin-feed", certs), "factory/m7", speed=1e9, count=30, progress=False)
    sync.wait(count=30, idle=5.0)
    until(lambda: len(predictions) >= 30, 5.0)
    sync.stop()
    close(view)
    assert len(sync.rows) == 30 and len(predictions) == 30 and sync.refused == 0


def burst(secure, certs, tmp_path, n: int, *, restart: str | None = None, confirm: bool = False) -> tuple[Sync, dict]:
    """``n`` readings replayed flat out through the shipped broker into a sync; ``restart``: the broker is
    stopped by its PID ("term" or "kill") after a third of them and started again a second later
    (before a "kill", the burst waits for the broker's autosave of the sync's session); ``confirm``: the
    replay waits for the twin's answers (``twin replay --confirm``)."""
    log = synthetic_log(tmp_path / "burst.csv", n)
    sync = Sync(MachineSpec("test machine", MODEL), login(secure, "twin-sync", certs), "factory/burst", client_id="burst")
    sync.start()
    if restart == "kill":  # `autosave_interval 10`: a session younger than the last save is lost (and counted)
        subscribed, db = time.time(), secure.folder / "mosquitto.db"
        until(lambda: db.exists() and db.stat().st_mtime > subscribed, 15)
    done: dict = {}
    feed = threading.Thread(target=lambda: done.update(replay(log, login(secure, "twin-feed", certs), "factory/burst",
                                                              speed=1e12, progress=False, timeout=120, confirm=confirm)))
    feed.start()
    if restart:
        until(lambda: len(sync.rows) > n // 3, 120)
        secure.stop(kill=restart == "kill")
        time.sleep(1.0)
        secure.start()
    feed.join(timeout=300)
    sync.wait(count=n, idle=5.0 if restart == "kill" and not confirm else 15.0)  # readings lost may never come
    sync.stop()
    return sync, done


def check_none_lost(sync: Sync, done: dict, n: int) -> None:
    assert done["sent"] == n and done["acknowledged"] == done["published"] >= n, done
    assert done["refused"] == done["unsent"] == 0 and done.get("confirmed", n) == n, done
    assert [r["seq"] for r in sync.rows] == list(range(n)), sync.counts
    assert sync.lost == 0 and sync.refused == 0 and sync.sessions_lost == 0


def test_a_burst_loses_nothing(secure, certs, tmp_path):
    """FAST_BURST readings as fast as the publisher goes (QoS 1, 100 in flight, the shipped queue limits)."""
    sync, done = burst(secure, certs, tmp_path, FAST_BURST)
    check_none_lost(sync, done, FAST_BURST)
    assert done["published"] == FAST_BURST


@pytest.mark.slow
def test_a_burst_of_100000_loses_nothing(secure, certs, tmp_path):
    sync, done = burst(secure, certs, tmp_path, 100_000)
    check_none_lost(sync, done, 100_000)


def test_a_broker_stopped_mid_burst_loses_no_reading(secure, certs, tmp_path):
    """SIGTERM to the broker's PID a third into a burst, restarted a second later: every reading, once."""
    sync, done = burst(secure, certs, tmp_path, 5000, restart="term")
    check_none_lost(sync, done, 5000)


def test_a_broker_killed_mid_burst_loses_nothing_with_confirm(secure, certs, tmp_path):
    """SIGKILL to the broker's PID a third into a burst: Mosquitto loses what it acknowledged after its
    last save; `twin replay --confirm` publishes again what the twin has not answered, so every reading
    is assimilated, once, in order."""
    sync, done = burst(secure, certs, tmp_path, 5000, restart="kill", confirm=True)
    check_none_lost(sync, done, 5000)


def test_replay_confirm_waits_for_the_twins_answers(secure, certs, capsys, monkeypatch):
    """`twin replay --confirm`: with a twin, every reading answered (exit 0); with none, it gives up after
    --timeout without an answer (the broker's acknowledgements of readings sent again are no progress) and
    says how many went unanswered (exit 3)."""
    monkeypatch.setenv("TWIN_MQTT_PASSWORD", USERS["twin-feed"])
    cmd = ["replay", str(need(LOG)), "--mqtt", f"127.0.0.1:{secure.port}", "--username", "twin-feed", "--tls",
           "--cafile", str(certs / "ca.crt"), "--speed", "1e9", "--count", "20", "--confirm", "--quiet"]
    sync = Sync(MachineSpec("test machine", MODEL), login(secure, "twin-sync", certs), "factory/m4")
    sync.start()
    assert main(cmd + ["--topic", "factory/m4"]) == 0
    sync.stop()
    out = capsys.readouterr().out
    assert "20 readings published to factory/m4" in out and "20 answered by the twin (0 sent again)" in out, out
    assert [r["seq"] for r in sync.rows] == list(range(20))
    started = time.monotonic()
    assert main(cmd + ["--topic", "factory/m5", "--timeout", "3"]) == EXIT_LOST  # nobody answers on factory/m5/twin
    out = capsys.readouterr().out
    assert time.monotonic() - started < 30 and "0 answered by the twin" in out and "20 not answered" in out, out


def test_a_broker_killed_mid_burst_loses_nothing_silently(secure, certs, tmp_path):
    """SIGKILL without --confirm: what the broker acknowledged after its last save is gone; the sync
    counts it (a gap in seq) or saw the broker forget its session; both make `twin sync` exit non-zero."""
    sync, done = burst(secure, certs, tmp_path, 5000, restart="kill")
    assert done["sent"] == 5000 and done["acknowledged"] == done["published"], done
    seqs = [r["seq"] for r in sync.rows]
    assert seqs == sorted(set(seqs)) and len(seqs) + sync.lost <= 5000
    assert len(seqs) == 5000 or sync.lost > 0 or sync.sessions_lost > 0, sync.summary()


def test_twin_sync_command_runs_the_machine_scene(secure, certs, tmp_path, capsys, monkeypatch):
    """`twin sync scenes/machine_thermal.py` (fitting on the log's probationary rows) fed by `twin replay`,
    both logged in over TLS (a password file, TWIN_MQTT_PASSWORD); a gap in the feed is lost readings: exit 3."""
    port, tls = str(secure.port), ["--tls", "--cafile", str(certs / "ca.crt")]
    password = tmp_path / "sync-password"
    password.write_text(USERS["twin-sync"] + "\n")
    password.chmod(0o600)
    monkeypatch.setenv("TWIN_MQTT_PASSWORD", USERS["twin-feed"])
    out, code = tmp_path / "machine", {}
    sync = threading.Thread(target=lambda: code.setdefault("sync", main(
        ["sync", "scenes/machine_thermal.py", "--mqtt", f"127.0.0.1:{port}", "--topic", "factory/m9",
         "--username", "twin-sync", "--password-file", str(password), *tls, "--count", "400", "--idle", "20",
         "--out", str(out)])))
    sync.start()
    seen = []
    until(lambda: seen.append(capsys.readouterr().err) or "listening on factory/m9" in "".join(seen), 60)
    for start, count in ((3000, 300), (3350, 100)):  # 3300-3349 never sent
        assert main(["replay", str(need(LOG)), "--mqtt", f"127.0.0.1:{port}", "--topic", "factory/m9",
                     "--username", "twin-feed", *tls, "--speed", "1e7", "--start", str(start), "--count", str(count),
                     "--quiet"]) == 0
    sync.join(timeout=120)
    assert code.get("sync") == EXIT_LOST
    summary = json.loads((out / "summary.json").read_text())
    assert summary["client_id"] == sync_client_id("scenes/machine_thermal.py", out, "factory/m9")
    assert summary["lost"] == 50 and summary["assimilated"] == 400 and summary["sessions_lost"] == 0
    rows = (out / "sync.csv").read_text().splitlines()
    assert rows[0] == "seq,time,reading,predicted,sigma,z,heat,alarm" and len(rows) == 401
    assert (out / "sync.png").stat().st_size > 10_000
    assert re.search(r"twin: 400 readings assimilated, \d+ alarms; 50 lost; refused: malformed 0", capsys.readouterr().out)


def test_readings_are_assimilated_in_seq_order_once():
    """Out-of-order and repeated deliveries (QoS 1 after a reconnect): each reading once, in seq order;
    a reading that never comes is given up when the feed goes quiet."""
    sync = Sync(MachineSpec("test machine", MODEL), Endpoint("127.0.0.1", 1), "plant/m4")
    sync._publish = lambda messages: None  # no broker here

    def deliver(seq: int) -> None:
        minute = 5 * seq
        payload = json.dumps({"seq": seq, "time": f"2014-01-01T{minute // 60:02d}:{minute % 60:02d}:00Z", "value": 70.0 + seq})
        sync._on_message(sync.client, None, SimpleNamespace(topic="plant/m4", payload=payload.encode()))

    for seq in (0, 1, 3, 2, 2, 1, 4, 6):
        deliver(seq)
    assert [r["seq"] for r in sync.rows] == [0, 1, 2, 3, 4] and sync.counts["duplicate"] == 2
    sync.wait(idle=0.3)  # 5 never comes
    assert [r["seq"] for r in sync.rows] == [0, 1, 2, 3, 4, 6] and sync.lost == 1


def test_live_view_follows_the_rows(monkeypatch):
    pytest.importorskip("matplotlib")
    from twin.viewer.machine import LiveMachinePlot

    spec = MachineSpec("test machine", MODEL)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(InputError, match="needs a display"):
        LiveMachinePlot(spec)
    view = LiveMachinePlot(spec, backend="Agg", window=50, fps=1e6)
    rows = [{"seq": k, "reading": 70.0 + k % 3, "predicted": 70.0, "sigma": 0.7, "alarm": k == 30} for k in range(80)]
    view(rows)
    assert view.drawn == 1 and len(view.reading.get_xdata()) == 50
    assert view.alarms.get_offsets().tolist() == [[30.0, 70.0]]
