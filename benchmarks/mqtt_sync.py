"""Live sync through the shipped, authenticated TLS Mosquitto on 127.0.0.1: burst throughput, losses, latency.

The broker runs ``examples/mosquitto/mosquitto.conf`` and ``acl`` as shipped (TLS, logins,
ACL, persistence, queue limits), with certificates made at start (``openssl``); both
clients log in over TLS (``twin-feed`` publishes, ``twin-sync`` runs the twin).

* Burst: ``--readings`` readings (a synthetic log at 300 s, the NAB values repeated)
  replayed as fast as the publisher goes (QoS 1); readings per second = readings
  assimilated over the time from the first publish to the last assimilation; lost =
  readings never assimilated (gaps in seq, or missing at the end), refused = messages
  the sync or the broker refused. Reference, same process: the same filter
  assimilating the same readings without a broker.
* Confirmed burst: the same with ``twin replay --confirm`` (each reading waits for the
  twin's answer; unanswered ones are published again), and the same again with the
  broker SIGKILLed by its PID a third of the way in (after its autosave of the sync's
  session) and restarted a second later: lost must be 0.
* Latency: readings published at ``--rate`` per second (paced, so the queue stays
  short), the alarm rule set to fire on every reading (threshold 0, no hold-off),
  each alarm's arrival at a subscriber (``twin-view``) minus its reading's publish time
  (``sent``): p50 and p99. Reference, same process: a bare round trip, a message
  published and received by a plain subscriber through the same broker, same pacing.

    python benchmarks/mqtt_sync.py [--readings 100000] [--rate 100] [--json benchmarks/results/mqtt_sync.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this checkout first
from mqtt_broker import USERS, SecureBroker, make_certificates  # noqa: E402
from twin.physics.thermal import ThermalModel, ThermalTwin  # noqa: E402

from twin.app.sync import Endpoint, MachineSpec, Sync, _client, _close, _connect, replay  # noqa: E402
from twin.io.sensor_log import read_sensor_log  # noqa: E402

LOG = ROOT.parent / "shared" / "data" / "factory" / "machine_temperature_system_failure.csv"
MODEL = ThermalModel(tau=1840.0, q_T=0.0, q_u=0.0072, r=0.456, ambient=2.08)


def synthetic_log(path: Path, n: int) -> Path:
    """``n`` readings at 300 s from 2014-01-01 (the NAB log's first 5000 values, repeated)."""
    y = np.resize(np.loadtxt(LOG, delimiter=",", skiprows=1, usecols=1, max_rows=5000), n)
    t = np.datetime64("2014-01-01T00:00:00") + np.arange(n) * np.timedelta64(300, "s")
    path.write_text("timestamp,value\n" + "".join(f"{a},{b}\n" for a, b in zip(t.astype(str), y)))
    return path


def subscriber(broker: Endpoint, topic: str) -> tuple[object, list]:
    got: list = []
    c = _client(broker=broker)
    c.on_message = lambda client, userdata, msg: got.append((time.time(), json.loads(msg.payload)))
    c.on_connect = lambda client, userdata, flags, rc, props: client.subscribe(topic, qos=1)
    _connect(c, broker)
    time.sleep(0.2)
    return c, got


def wait_for(got: list, n: int, timeout: float = 60.0) -> None:
    """Until ``got`` holds ``n`` messages or ``timeout`` [s] passed."""
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        time.sleep(0.05)


def burst(login, folder: Path, n: int, *, confirm: bool = False, broker: SecureBroker | None = None) -> dict:
    """A burst of ``n`` readings; ``broker``: SIGKILL it by its PID a third of the way in, start it a second later."""
    import threading

    log = synthetic_log(folder / "burst.csv", n)
    name = f"bench-burst-{int(confirm)}{int(broker is not None)}"
    sync = Sync(MachineSpec("bench", MODEL), login("twin-sync"), f"factory/{name}", client_id=name)
    sync.start()
    if broker is not None:  # the broker saves every 10 s: a session younger than its last save is lost
        subscribed, db = time.time(), broker.folder / "mosquitto.db"
        while not (db.exists() and db.stat().st_mtime > subscribed):
            time.sleep(0.1)
    t0 = time.perf_counter()
    sent: dict = {}
    feed = threading.Thread(target=lambda: sent.update(replay(log, login("twin-feed"), f"factory/{name}", speed=1e12,
                                                              progress=False, timeout=300, confirm=confirm)))
    feed.start()
    if broker is not None:
        while len(sync.rows) <= n // 3:
            time.sleep(0.01)
        broker.stop(kill=True)
        time.sleep(1.0)
        broker.start()
    feed.join()
    sync.wait(count=n, idle=30.0)
    wall = time.perf_counter() - t0
    sync.stop()
    s = sync.summary()
    seqs = [r["seq"] for r in sync.rows]
    lost = n - len(set(seqs))
    logged = read_sensor_log(log)
    t, y = logged.seconds(), logged.channels["value"]
    ref_t0 = time.perf_counter()
    twin = ThermalTwin(MODEL, y[0], t[0])
    for tk, yk in zip(t, y):
        twin.assimilate(tk, yk)
    ref = time.perf_counter() - ref_t0
    return {"readings": n, "confirm": confirm, "broker_killed": broker is not None, "published": sent["published"],
            "resent": sent.get("resent", 0), "acknowledged": sent["acknowledged"], "confirmed": sent.get("confirmed"),
            "assimilated": len(seqs), "in_order_once": seqs == list(range(n)), "lost": lost,
            "lost_counted_by_sync": s["lost"], "sessions_lost": s["sessions_lost"], "refused_by_broker": sent["refused"],
            "refused_by_sync": sum(s["refused"].values()), "duplicates": s["duplicates"], "seconds": wall,
            "readings_per_s": len(seqs) / wall, "filter_alone_readings_per_s": n / ref,
            "ratio_broker_to_filter": (len(seqs) / wall) / (n / ref)}


def latency(login, n: int, rate: float) -> dict:
    sync = Sync(MachineSpec("bench", MODEL, threshold=0.0, holdoff=0.0), login("twin-sync"), "factory/lat",
                client_id="bench-lat")
    sync.start()
    client, alarms = subscriber(login("twin-view"), "factory/lat/alarm")
    replay(LOG, login("twin-feed"), "factory/lat", speed=rate * 300.0, count=n, progress=False)
    wait_for(alarms, n - 1)  # the first reading starts the twin: no alarm
    sync.stop()
    _close(client)
    lat = np.array([(t - d["sent"]) * 1e3 for t, d in alarms])
    # reference: bare round trip through the broker (publish -> plain subscriber), same pacing
    echo, got = subscriber(login("twin-view"), "factory/echo")
    pub = _client(broker=login("twin-feed"))
    _connect(pub, login("twin-feed"))
    for _ in range(n):
        pub.publish("factory/echo", json.dumps({"sent": time.time()}), qos=1)
        time.sleep(1.0 / rate)
    wait_for(got, n)
    _close(pub)
    _close(echo)
    ref = np.array([(t - d["sent"]) * 1e3 for t, d in got])
    return {"alarms": len(lat), "rate_per_s": rate, "p50_ms": float(np.median(lat)), "p99_ms": float(np.percentile(lat, 99)),
            "round_trip_p50_ms": float(np.median(ref)), "round_trip_p99_ms": float(np.percentile(ref, 99)),
            "ratio_p50_to_round_trip": float(np.median(lat) / np.median(ref))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--readings", type=int, default=100_000)
    p.add_argument("--rate", type=float, default=100.0)
    p.add_argument("--latency-readings", type=int, default=1000)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="twin-bench-") as d:
        folder = Path(d)
        certs = make_certificates(folder / "certs")
        broker = SecureBroker(folder / "broker", certs)
        broker.start()

        def login(user: str) -> Endpoint:
            return Endpoint("127.0.0.1", broker.port, user, USERS[user], True, str(certs / "ca.crt"))

        try:
            result = {"broker": "examples/mosquitto (TLS 1.2+, password file, ACL, persistence)",
                      "cpus": os.cpu_count(), "load_average_at_start": list(os.getloadavg()),
                      "burst": burst(login, folder, args.readings),
                      "burst_confirmed": burst(login, folder, args.readings, confirm=True),
                      "burst_confirmed_broker_killed": burst(login, folder, args.readings, confirm=True, broker=broker),
                      "latency": latency(login, args.latency_readings, args.rate)}
        finally:
            broker.stop()
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
