"""Live sync through a real Mosquitto broker: replay, assimilate, publish, survive a broker restart."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from mqtt_broker import Broker
from shared_data import DATA, need

pytest.importorskip("paho.mqtt")
from physics.thermal import ThermalModel  # noqa: E402
from twin.app.cli import main  # noqa: E402
from twin.sync import MachineSpec, Sync, _client, _connect, replay  # noqa: E402

LOG = DATA / "factory" / "machine_temperature_system_failure.csv"
MODEL = ThermalModel(tau=1840.0, q_T=0.0, q_u=0.0072, r=0.456, ambient=2.08)
"""The fit on the NAB log's probationary rows (rounded): fixed here so the test does not refit."""


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


def collect(broker: Broker, topic: str) -> list:
    """Messages on ``topic`` (a list filled by a subscriber's thread)."""
    got: list = []
    c = _client()
    c.on_message = lambda client, userdata, msg: got.append(json.loads(msg.payload))
    c.on_connect = lambda client, userdata, flags, rc, props: client.subscribe(topic, qos=1)
    _connect(c, "127.0.0.1", broker.port)
    got.append(c)  # kept alive; removed by the caller
    return got


def test_replay_drives_the_twin_and_bad_messages_are_skipped(broker, capsys):
    spec = MachineSpec("test machine", MODEL, threshold=4.0, holdoff=3600.0)
    sync = Sync(spec, "127.0.0.1", broker.port, "plant/m1", client_id="sync-test-1")
    sync.start()
    predictions = collect(broker, "plant/m1/twin")
    client = predictions.pop()
    bad = _client()
    _connect(bad, "127.0.0.1", broker.port)
    for payload in (b"not json", b'{"seq": 1}', b'{"seq": 2, "time": "2014-01-01T00:00:00Z", "value": "hot"}',
                    b'{"seq": 3, "time": "yesterday", "value": 1.0}'):
        bad.publish("plant/m1", payload, qos=1).wait_for_publish(5)
    sent = replay(need(LOG), "127.0.0.1", broker.port, "plant/m1", speed=1e7, start=100, count=200, progress=False)
    sync.wait(count=200, idle=10.0)
    deadline = time.monotonic() + 10
    while len(predictions) < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    sync.stop()
    client.disconnect()
    bad.disconnect()
    assert sent == 200 and len(sync.rows) == 200 and sync.skipped["malformed"] == 4
    assert sorted(r["seq"] for r in sync.rows) == list(range(100, 300))
    assert len(predictions) == 200 and all(np.isfinite(p["predicted"]) for p in predictions)
    err = capsys.readouterr().err
    assert "topic plant/m1: message skipped: not JSON" in err and "value 'hot' is not a finite number" in err
    assert "time 'yesterday' is not an ISO 8601 timestamp" in err and "missing time, value" in err


def test_a_broker_restart_mid_stream_loses_no_reading(broker):
    """1000 readings over about 4 s; the broker is stopped for a second in the middle and restarted."""
    spec = MachineSpec("test machine", MODEL)
    sync = Sync(spec, "127.0.0.1", broker.port, "plant/m2", client_id="sync-test-2")
    sync.start()
    done = {}
    feed = threading.Thread(target=lambda: done.setdefault("n", replay(
        need(LOG), "127.0.0.1", broker.port, "plant/m2", speed=300 * 250, count=1000, progress=False, timeout=30)))
    feed.start()
    time.sleep(1.5)
    broker.stop()
    received_while_up = len(sync.rows)
    time.sleep(1.0)
    broker.start()
    feed.join(timeout=60)
    sync.wait(count=1000, idle=15.0)
    sync.stop()
    assert done.get("n") == 1000
    assert 0 < received_while_up < 1000
    assert sorted(r["seq"] for r in sync.rows) == list(range(1000)), sync.skipped


def test_cli_replay_and_sync_one_line_errors(capsys):
    assert main(["replay", str(need(LOG)), "--mqtt", "localhost", "--topic", "t"]) == 2
    assert "--mqtt: expected HOST:PORT, got 'localhost'" in capsys.readouterr().err


def test_twin_sync_command_runs_the_machine_scene(broker, tmp_path, capsys):
    """`twin sync scenes/machine_thermal.py` (fitting on the log's probationary rows) fed by `twin replay`."""
    out = tmp_path / "machine"
    code = {}
    sync = threading.Thread(target=lambda: code.setdefault("sync", main(
        ["sync", "scenes/machine_thermal.py", "--mqtt", f"127.0.0.1:{broker.port}", "--topic", "plant/m3",
         "--count", "300", "--idle", "20", "--out", str(out), "--client-id", "sync-cli"])))
    sync.start()
    deadline = time.monotonic() + 30
    while "listening on plant/m3" not in capsys.readouterr().err and time.monotonic() < deadline:
        time.sleep(0.1)
    assert main(["replay", str(need(LOG)), "--mqtt", f"127.0.0.1:{broker.port}", "--topic", "plant/m3",
                 "--speed", "1e7", "--start", "3000", "--count", "300", "--quiet"]) == 0
    sync.join(timeout=60)
    assert code.get("sync") == 0
    rows = (out / "sync.csv").read_text().splitlines()
    assert rows[0] == "seq,time,reading,predicted,sigma,z,heat,alarm" and len(rows) == 301
    assert (out / "sync.png").stat().st_size > 10_000


def test_readings_are_assimilated_in_seq_order_once():
    """Out-of-order and repeated deliveries (QoS 1 after a reconnect): each reading once, in seq order;
    a reading that never comes is given up when the feed goes quiet."""
    from types import SimpleNamespace

    sync = Sync(MachineSpec("test machine", MODEL), "127.0.0.1", 1, "plant/m4")
    sync._publish = lambda messages: None  # no broker here
    sent = []

    def deliver(seq: int) -> None:
        minute = 5 * seq
        payload = json.dumps({"seq": seq, "time": f"2014-01-01T{minute // 60:02d}:{minute % 60:02d}:00Z", "value": 70.0 + seq})
        sync._on_message(sync.client, None, SimpleNamespace(topic="plant/m4", payload=payload.encode()))
        sent.append(seq)

    for seq in (0, 1, 3, 2, 2, 1, 4, 6):
        deliver(seq)
    assert [r["seq"] for r in sync.rows] == [0, 1, 2, 3, 4] and sync.skipped["duplicate"] == 2
    sync.wait(idle=0.3)  # 5 never comes
    assert [r["seq"] for r in sync.rows] == [0, 1, 2, 3, 4, 6] and sync.skipped["never_came"] == 1


def test_live_view_follows_the_rows(monkeypatch):
    pytest.importorskip("matplotlib")
    from twin.errors import InputError
    from viewer.machine import LiveMachinePlot

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
