"""Live sync through a real Mosquitto on 127.0.0.1: readings per second into the twin, publish-to-alarm latency.

* Throughput: ``--readings`` readings of the NAB machine log replayed as fast as the
  publisher goes (QoS 1); the rate is readings over the time from the first publish
  to the last assimilation. Reference, same process: the same filter assimilating
  the same readings without a broker.
* Latency: readings published at ``--rate`` per second (paced, so the queue stays
  short), the alarm rule set to fire on every reading (threshold 0, no hold-off),
  each alarm's arrival time at a subscriber minus its reading's publish time
  (``sent``). Reference, same process: a bare round trip, a message published and
  received by a plain subscriber through the same broker.

    python benchmarks/mqtt_sync.py [--readings 5000] [--rate 100] [--json benchmarks/results/mqtt_sync.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from mqtt_broker import Broker  # noqa: E402

from physics.thermal import ThermalModel, ThermalTwin  # noqa: E402
from twin.io.sensor_log import read_sensor_log  # noqa: E402
from twin.sync import MachineSpec, Sync, _client, _connect, replay  # noqa: E402

LOG = ROOT.parent / "shared" / "data" / "factory" / "machine_temperature_system_failure.csv"
MODEL = ThermalModel(tau=1840.0, q_T=0.0, q_u=0.0072, r=0.456, ambient=2.08)


def subscriber(port: int, topic: str) -> tuple[object, list]:
    got: list = []
    c = _client()
    c.on_message = lambda client, userdata, msg: got.append((time.time(), json.loads(msg.payload)))
    c.on_connect = lambda client, userdata, flags, rc, props: client.subscribe(topic, qos=1)
    _connect(c, "127.0.0.1", port)
    time.sleep(0.2)
    return c, got


def wait_for(got: list, n: int, timeout: float = 30.0) -> None:
    """Until ``got`` holds ``n`` messages or ``timeout`` [s] passed."""
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        time.sleep(0.05)


def close(*clients) -> None:
    for c in clients:
        c.disconnect()
        c.loop_stop()


def throughput(port: int, n: int) -> dict:
    sync = Sync(MachineSpec("bench", MODEL), "127.0.0.1", port, "bench/tp", client_id="bench-tp")
    sync.start()
    t0 = time.perf_counter()
    replay(LOG, "127.0.0.1", port, "bench/tp", speed=1e12, count=n, progress=False)
    sync.wait(count=n, idle=30.0)
    wall = time.perf_counter() - t0
    sync.stop()
    log = read_sensor_log(LOG)
    t, y = log.seconds()[:n], log.channels["value"][:n]
    ref_t0 = time.perf_counter()
    twin = ThermalTwin(MODEL, y[0], t[0])
    for tk, yk in zip(t, y):
        twin.assimilate(tk, yk)
    ref = time.perf_counter() - ref_t0
    return {"readings": len(sync.rows), "seconds": wall, "readings_per_s": len(sync.rows) / wall,
            "filter_alone_readings_per_s": n / ref, "ratio_broker_to_filter": (len(sync.rows) / wall) / (n / ref)}


def latency(port: int, n: int, rate: float) -> dict:
    sync = Sync(MachineSpec("bench", MODEL, threshold=0.0, holdoff=0.0), "127.0.0.1", port, "bench/lat", client_id="bench-lat")
    sync.start()
    client, alarms = subscriber(port, "bench/lat/alarm")
    replay(LOG, "127.0.0.1", port, "bench/lat", speed=rate * 300.0, count=n, progress=False)
    wait_for(alarms, n - 1)  # the first reading starts the twin: no alarm
    sync.stop()
    close(client)
    lat = np.array([(t - d["sent"]) * 1e3 for t, d in alarms])
    # reference: bare round trip through the broker (publish -> plain subscriber), same pacing
    echo, got = subscriber(port, "bench/echo")
    pub = _client()
    _connect(pub, "127.0.0.1", port)
    for k in range(n):
        pub.publish("bench/echo", json.dumps({"sent": time.time()}), qos=1)
        time.sleep(1.0 / rate)
    wait_for(got, n)
    close(pub, echo)
    ref = np.array([(t - d["sent"]) * 1e3 for t, d in got])
    return {"alarms": len(lat), "rate_per_s": rate, "median_ms": float(np.median(lat)), "p99_ms": float(np.percentile(lat, 99)),
            "round_trip_median_ms": float(np.median(ref)), "round_trip_p99_ms": float(np.percentile(ref, 99)),
            "ratio_median_to_round_trip": float(np.median(lat) / np.median(ref))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--readings", type=int, default=5000)
    p.add_argument("--rate", type=float, default=100.0)
    p.add_argument("--latency-readings", type=int, default=1000)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="twin-bench-") as d:
        broker = Broker(Path(d))
        broker.start()
        try:
            result = {"throughput": throughput(broker.port, args.readings),
                      "latency": latency(broker.port, args.latency_readings, args.rate)}
        finally:
            broker.stop()
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
