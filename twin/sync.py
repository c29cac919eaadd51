"""Live sync through an MQTT broker: replay a log as a feed, run the machine twin beside it.

    twin replay LOG.csv --mqtt HOST:PORT --topic T [--speed 1000] [--channel NAME] [--start ROW] [--count N]
    twin sync SCENE --mqtt HOST:PORT [--topic T] [--out DIR] [--count N] [--idle S]

A reading is one MQTT message on topic ``T``, QoS 1, a JSON object::

    {"seq": 17, "time": "2013-12-03T02:40:00Z", "value": 74.2, "sent": 1764080000.123}

(``seq``: the reading's row in the log; ``time``: its timestamp; the channel's
name as key; ``sent``: the publisher's wall clock [s], for latency). The sync
assimilates it into the twin (:class:`physics.thermal.ThermalTwin`) and publishes,
QoS 1, ``{"seq", "time", "predicted", "sigma", "z", "heat", "sent"}`` on ``T/twin``
and, when the alarm rule of :func:`twin.anomaly.alarms` fires, the same on ``T/alarm``.

No reading is lost when the broker stops and restarts: both clients use QoS 1,
the sync keeps a persistent session (fixed client id, clean session off), the
broker persists its queue (Mosquitto ``persistence true``), both clients
reconnect by themselves, and a reading delivered twice (QoS 1 is at least once)
is assimilated once (by ``seq``); a reading older than the twin's time is skipped.
A malformed message is logged on stderr as one line naming the topic and what is
wrong, and skipped: it never stops the twin.

The SCENE of ``twin sync`` is a script whose ``setup(p)`` returns a :class:`MachineSpec`
(see ``scenes/machine_thermal.py``).
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from physics.simulation import write_text
from physics.thermal import ThermalModel, ThermalTwin
from physics.thermal.run import MachineRun
from twin.errors import InputError

__all__ = ["MachineSpec", "Sync", "cmd_replay", "cmd_sync", "parse_reading", "replay"]

CONNECT_TIMEOUT_S = 10.0
"""How long a client waits for the broker at start [s]."""
REORDER_WAIT_S = 2.0
"""How long a reading waits for an earlier one (by ``seq``) that has not arrived yet [s]."""


@dataclass(frozen=True)
class MachineSpec:
    """What ``twin sync`` runs: the fitted model, which channel, the alarm rule.

    Attributes:
        name: the machine's name; model: the fitted thermal model.
        channel: key of the reading in a message; topic: default topic.
        threshold: alarm threshold on |z| [standard deviations]; holdoff: quiet time after an alarm [s].
    """

    name: str
    model: ThermalModel
    channel: str = "value"
    topic: str = "factory/machine"
    threshold: float = 4.0
    holdoff: float = 86400.0

    def fitted(self) -> dict[str, float]:
        """The model's parameters (see :class:`physics.thermal.ThermalModel`)."""
        return asdict(self.model)


def broker_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` as (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError("--mqtt", "", f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def _client(client_id: str = "", persistent: bool = False):
    import paho.mqtt.client as mqtt

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=not persistent)
    c.reconnect_delay_set(min_delay=1, max_delay=2)
    c.max_inflight_messages_set(100)
    c.max_queued_messages_set(0)  # unlimited: readings wait while the broker is away
    return c


def _connect(client, host: str, port: int) -> None:
    """Connect and start the network thread (which reconnects by itself); wait for the first CONNACK."""
    connected = threading.Event()
    previous = client.on_connect

    def on_connect(c, userdata, flags, reason_code, properties):
        if not reason_code.is_failure:
            sock = c.socket()
            if sock is not None:  # small messages go out at once (no Nagle delay behind an unacknowledged one)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connected.set()
        if previous is not None:
            previous(c, userdata, flags, reason_code, properties)

    client.on_connect = on_connect
    try:
        client.connect_async(host, port, keepalive=10)
    except (OSError, ValueError) as e:
        raise InputError(f"mqtt://{host}:{port}", "", f"cannot connect ({e})") from None
    client.loop_start()
    if not connected.wait(CONNECT_TIMEOUT_S):
        client.loop_stop()
        raise InputError(f"mqtt://{host}:{port}", "", f"no broker answered within {CONNECT_TIMEOUT_S:.0f} s")


def replay(log_path: str | Path, host: str, port: int, topic: str, *, speed: float = 1000.0, channel: str | None = None,
           start: int = 0, count: int | None = None, progress: bool = True, timeout: float = 60.0) -> int:
    """Publish a sensor log as a live feed (QoS 1), ``speed`` times faster than its clock; return readings sent.

    Waits (at most ``timeout`` [s] after the last one) until the broker has acknowledged every reading.
    """
    from tqdm import tqdm

    from twin.io.sensor_log import read_sensor_log

    log = read_sensor_log(log_path)
    channel = channel or next(iter(log.channels))
    if channel not in log.channels:
        raise InputError(log_path, "", f"no channel {channel!r}; it has {', '.join(log.channels)}")
    if not speed > 0:
        raise InputError("--speed", "", f"must be > 0, got {speed}")
    rows = range(start, log.rows if count is None else min(log.rows, start + count))
    secs = log.seconds()
    client = _client()
    acked = [0]  # PUBACKs received (a reading queued while the broker is away is sent and acknowledged later)
    client.on_publish = lambda c, userdata, mid, reason_code, properties: acked.__setitem__(0, acked[0] + 1)
    _connect(client, host, port)
    sent = 0
    t_wall0, t_log0 = time.monotonic(), secs[rows.start] if len(rows) else 0.0
    try:
        for k in tqdm(rows, unit="reading", file=sys.stderr, disable=not progress, desc=f"replay to {topic}"):
            wait = (secs[k] - t_log0) / speed - (time.monotonic() - t_wall0)
            if wait > 0:
                time.sleep(wait)
            payload = {"seq": k, "time": f"{log.time[k]}Z", channel: float(log.channels[channel][k]), "sent": time.time()}
            client.publish(topic, json.dumps(payload), qos=1)
            sent += 1
        deadline = time.monotonic() + timeout
        while acked[0] < sent:
            if time.monotonic() > deadline:
                raise InputError(f"mqtt://{host}:{port}", topic, f"{sent - acked[0]} readings not acknowledged within {timeout:.0f} s")
            time.sleep(0.01)
    finally:
        client.disconnect()
        client.loop_stop()
    return sent


def parse_reading(payload: bytes, channel: str) -> tuple[int, np.datetime64, float, float | None]:
    """(seq, time, value, sent) of a reading message.

    Raises:
        ValueError: with what is wrong (not JSON, a missing key, a bad number or time).
    """
    from twin.io.sensor_log import parse_timestamp

    try:
        d = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"not JSON ({e})") from None
    if not isinstance(d, dict):
        raise ValueError("not a JSON object")
    missing = [k for k in ("seq", "time", channel) if k not in d]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    seq, value = d["seq"], d[channel]
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise ValueError(f"seq {seq!r} is not an integer")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{channel} {value!r} is not a finite number")
    try:
        t = parse_timestamp(str(d["time"]))
    except ValueError:
        raise ValueError(f"time {d['time']!r} is not an ISO 8601 timestamp") from None
    sent = d.get("sent")
    return seq, t, float(value), float(sent) if isinstance(sent, (int, float)) else None


@dataclass
class Sync:
    """The twin fed by a topic: what ``twin sync`` runs (also usable from Python and tests).

    Attributes:
        spec: the machine; host, port: the broker; topic: readings.
        client_id: the persistent session's id.
        rows: one dict per assimilated reading (seq, time, reading, predicted, sigma, z, heat, alarm).
        skipped: counts of malformed messages, duplicates, readings older than the twin's time
            (a clock step) and readings that never came (``never_came``: a gap in ``seq``).
    """

    spec: MachineSpec
    host: str
    port: int
    topic: str
    client_id: str = "twin-sync"
    rows: list = field(default_factory=list)
    skipped: dict = field(default_factory=lambda: {"malformed": 0, "duplicate": 0, "old": 0, "never_came": 0})

    def __post_init__(self):
        self._twin: ThermalTwin | None = None
        self._t0: np.datetime64 | None = None
        self._next: int | None = None  # the seq the twin takes next
        self._pending: dict[int, tuple] = {}  # seq -> (time, value, sent, arrival [monotonic s])
        self._last_alarm = -math.inf
        self._lock = threading.Lock()
        self._new = threading.Condition(self._lock)
        self.client = _client(self.client_id, persistent=True)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if not reason_code.is_failure:
            client.subscribe(self.topic, qos=1)

    def _on_message(self, client, userdata, msg):
        try:
            seq, t, value, sent = parse_reading(msg.payload, self.spec.channel)
        except ValueError as e:
            self.skipped["malformed"] += 1
            print(f"twin sync: topic {msg.topic}: message skipped: {e}", file=sys.stderr)
            return
        with self._lock:
            if seq in self._pending or (self._next is not None and seq < self._next):
                self.skipped["duplicate"] += 1
                return
            self._pending[seq] = (t, value, sent, time.monotonic())
            if self._next is None:
                self._next = seq
            out = self._drain()
        self._publish(out)

    def _drain(self, *, force: bool = False) -> list[tuple[str, str]]:
        """Assimilate the pending readings in ``seq`` order (called holding the lock); return what to publish.

        A reading waits at most :data:`REORDER_WAIT_S` for an earlier one still missing (QoS 1
        redelivery after a reconnect can come out of order); then the missing ones are given up.
        """
        out: list[tuple[str, str]] = []
        while self._pending:
            if self._next not in self._pending:
                oldest = min(arrival for *_, arrival in self._pending.values())
                if not force and time.monotonic() - oldest < REORDER_WAIT_S:
                    break
                first = min(self._pending)
                self.skipped["never_came"] += first - self._next
                self._next = first
            seq = self._next
            t, value, sent, _ = self._pending.pop(seq)
            self._next += 1
            if self._twin is None:
                self._t0 = t
                self._twin = ThermalTwin(self.spec.model, value, 0.0)
            secs = float((t - self._t0) / np.timedelta64(1, "s"))
            if self.rows and secs < self._twin.state.t:
                self.skipped["old"] += 1
                continue
            i = self._twin.assimilate(secs, value)
            alarm = abs(i.z) > self.spec.threshold and secs > self._last_alarm + self.spec.holdoff
            if alarm:
                self._last_alarm = secs
            self.rows.append({"seq": seq, "time": str(t), "reading": value, "predicted": i.predicted, "sigma": i.sigma,
                              "z": i.z, "heat": i.heat, "alarm": alarm})
            message = json.dumps({"seq": seq, "time": f"{t}Z", "predicted": i.predicted, "sigma": i.sigma, "z": i.z,
                                  "heat": i.heat, "sent": sent})
            out.append((f"{self.topic}/twin", message))
            if alarm:
                out.append((f"{self.topic}/alarm", message))
        self._new.notify_all()
        return out

    def _publish(self, messages: list[tuple[str, str]]) -> None:
        for topic, message in messages:
            self.client.publish(topic, message, qos=1)

    def start(self) -> None:
        """Connect (the network thread reconnects by itself after a broker restart)."""
        _connect(self.client, self.host, self.port)

    def wait(self, *, count: int | None = None, idle: float | None = None, on_tick=None) -> None:
        """Block until ``count`` readings are assimilated or none came for ``idle`` [s] (both None: until Ctrl-C).

        ``on_tick(rows)``, if given, is called from this thread about 5 times a second (a live view).
        """
        last_n, last_change = -1, time.monotonic()
        while True:
            with self._lock:
                self._new.wait(timeout=0.2)
                out = self._drain()
                n = len(self.rows)
            self._publish(out)
            if on_tick is not None:
                on_tick(self.rows)
            if count is not None and n >= count:
                return
            now = time.monotonic()
            if n != last_n:
                last_n, last_change = n, now
            elif idle is not None and now - last_change > idle:
                with self._lock:
                    out = self._drain(force=True)  # what waits for a reading that will not come
                self._publish(out)
                return

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def write(self, path: str | Path) -> Path:
        """The assimilated readings as CSV (written atomically)."""
        path = Path(path)
        keys = ("seq", "time", "reading", "predicted", "sigma", "z", "heat", "alarm")
        with self._lock:
            lines = [",".join(keys)] + [",".join(str(r[k]) for k in keys) for r in self.rows]
        write_text(path, "\n".join(lines) + "\n")
        return path


def cmd_replay(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="twin replay", description="Publish a sensor log as a live MQTT feed (QoS 1).")
    p.add_argument("log", type=Path, help="the sensor log (CSV)")
    p.add_argument("--mqtt", required=True, metavar="HOST:PORT", help="the broker")
    p.add_argument("--topic", required=True, help="topic to publish the readings on")
    p.add_argument("--speed", type=float, default=1000.0, help="times faster than the log's clock (default 1000)")
    p.add_argument("--channel", help="which channel (default: the first)")
    p.add_argument("--start", type=int, default=0, help="first row to send")
    p.add_argument("--count", type=int, help="rows to send (default: to the end)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    host, port = broker_address(args.mqtt)
    n = replay(args.log, host, port, args.topic, speed=args.speed, channel=args.channel, start=args.start, count=args.count,
               progress=not args.quiet)
    print(f"twin: {n} readings published to {args.topic} on {host}:{port}, all acknowledged")
    return 0


def cmd_sync(argv: list[str]) -> int:
    from twin.script import load_script, parameters_of

    p = argparse.ArgumentParser(prog="twin sync", description="Run a machine twin on a live MQTT feed; publish predictions and alarms.")
    p.add_argument("scene", help="machine scene script (e.g. scenes/machine_thermal.py)")
    p.add_argument("--mqtt", required=True, metavar="HOST:PORT", help="the broker")
    p.add_argument("--topic", help="topic of the readings (default: the scene's)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="set a scene parameter (repeatable)")
    p.add_argument("--out", type=Path, help="write DIR/sync.csv (and DIR/sync.png) at the end")
    p.add_argument("--count", type=int, help="stop after this many readings")
    p.add_argument("--idle", type=float, help="stop after this many seconds without a reading")
    p.add_argument("--client-id", default="twin-sync", help="the persistent session's id")
    p.add_argument("--view", action="store_true", help="watch readings, prediction and alarms in a window (needs a display)")
    args = p.parse_args(argv)
    host, port = broker_address(args.mqtt)
    script = load_script(args.scene)
    spec = script.setup(parameters_of(script, args.scene, args.set))
    if not isinstance(spec, (MachineSpec, MachineRun)):
        raise InputError(args.scene, "setup()", "twin sync needs a machine scene (setup returns a MachineRun)")
    view = None
    if args.view:
        from viewer.machine import LiveMachinePlot

        view = LiveMachinePlot(spec)  # one-line InputError when there is no display
    sync = Sync(spec, host, port, args.topic or spec.topic, client_id=args.client_id)
    sync.start()
    print(f"twin: {spec.name} listening on {sync.topic} at {host}:{port}", file=sys.stderr)
    code = 0
    try:
        sync.wait(count=args.count, idle=args.idle, on_tick=view)
    except KeyboardInterrupt:
        code = 130
    finally:
        sync.stop()
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            sync.write(args.out / "sync.csv")
            if sync.rows:
                from viewer.machine import plot_sync

                plot_sync(sync.rows, spec, args.out / "sync.png")
    alarms = sum(r["alarm"] for r in sync.rows)
    print(f"twin: {len(sync.rows)} readings assimilated, {alarms} alarms, skipped {sync.skipped}")
    return code

