"""Live sync through an MQTT broker: replay a log as a feed, run the machine twin beside it.

    twin replay LOG.csv --mqtt HOST:PORT --topic T [--speed 1000] [--channel NAME] [--start ROW] [--count N]
                [--confirm] [LOGIN]
    twin sync SCENE --mqtt HOST:PORT [--topic T] [--out DIR] [--count N] [--idle S] [LOGIN]

    LOGIN: [--username NAME [--password-file FILE]] [--tls [--cafile FILE] [--certfile FILE [--keyfile FILE]]]

The password comes from ``--password-file`` or the ``TWIN_MQTT_PASSWORD`` environment variable,
never from the command line (where other users of the machine would see it). A broker that
refuses the login is one line naming the broker and its CONNACK reason, exit 2.

A reading is one MQTT 5 message on topic ``T``, QoS 1, a JSON object of at most
:data:`MAX_PAYLOAD_BYTES` bytes::

    {"seq": 17, "time": "2013-12-03T02:40:00Z", "value": 74.2, "sent": 1764080000.123}

(``seq``: the reading's row in the log; ``time``: its timestamp; the channel's
name as key; ``sent``: the publisher's wall clock [s], for latency). The sync
assimilates it into the twin (:class:`twin.physics.thermal.ThermalTwin`) and publishes,
QoS 1, ``{"seq", "time", "predicted", "sigma", "z", "heat", "sent"}`` on ``T/twin``
and, when the alarm rule of :func:`twin.anomaly.alarms` fires, the same on ``T/alarm``.

Nothing is lost silently. Both clients use QoS 1 with bounded in-flight windows; the
sync keeps a persistent session (a client id derived from the scene, ``--out`` and the
topic; clean start off, a session expiry of :data:`SESSION_EXPIRY_S`); the broker
persists its queue (``examples/mosquitto/mosquitto.conf``); both clients reconnect by
themselves; a reading delivered twice (QoS 1 is at least once) is assimilated once (by
``seq``, and answered again). A broker's acknowledgement is not the end: Mosquitto loses what
it acknowledged after its last save when it is killed, so ``twin replay --confirm`` waits for
the twin's answer to each reading and publishes again what has none (nothing lost, end to
end). A message that is not a reading is refused: it is counted, logged in one
line, acknowledged and dropped (it never stops the network thread). Readings that
never came (a gap in ``seq``) are counted as lost, and then both commands exit with
:data:`EXIT_LOST`.

The SCENE of ``twin sync`` is a script whose ``setup(p)`` returns a :class:`MachineSpec`
(see ``scenes/machine_thermal.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import math
import os
import socket
import ssl
import sys
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from twin.errors import InputError
from twin.physics.simulation import write_text
from twin.physics.thermal import ThermalModel, ThermalTwin
from twin.physics.thermal.run import MachineRun

__all__ = ["EXIT_LOST", "Endpoint", "MachineSpec", "Sync", "cmd_replay", "cmd_sync", "parse_reading", "replay",
           "sync_client_id"]

EXIT_LOST = 3
"""Exit status of ``twin sync`` and ``twin replay`` when readings were lost (or, for ``replay``, refused by the broker)."""
CONNECT_TIMEOUT_S = 10.0
"""How long a client waits for the broker at start [s]."""
REORDER_WAIT_S = 2.0
"""How long the twin waits, making no progress, for a reading missing in ``seq`` before giving it up [s]."""
SESSION_EXPIRY_S = 7 * 86400
"""How long the broker keeps a sync's session (its subscription and queued readings) while it is away [s]."""
KEEPALIVE_S = 30
"""MQTT keep-alive [s]: the broker drops a client silent for 1.5 times this (10 s dropped a sync in a 100,000
burst on a loaded machine while Mosquitto saved a large queue; each drop costs a reconnect and redeliveries)."""
IN_FLIGHT = 100
"""Unacknowledged QoS 1 messages per direction and client (MQTT 5 Receive Maximum, paho's max in-flight)."""
MAX_UNACKNOWLEDGED = 10 * IN_FLIGHT
"""Readings ``twin replay`` lets wait for the broker's acknowledgement before it waits too (flow control; paho's
message ids wrap at 65,536, so an unbounded queue of a long burst loses readings)."""
RESEND_AFTER_S = 2.0
"""``twin replay --confirm`` publishes a reading again when the twin has not answered it for this long
while connected [s] (a broker that died without saving it, a sync that lost its session)."""
ANSWERS_KEPT = 4 * MAX_UNACKNOWLEDGED
"""The last answers a sync keeps to publish again for a reading delivered twice (a ``--confirm`` replay
waits for at most :data:`MAX_UNACKNOWLEDGED` answers, the latest ones)."""
MAX_PAYLOAD_BYTES = 4096
"""The largest reading message accepted [bytes] (a reading is about 100)."""
MAX_KEYS = 16
"""The most keys a reading's JSON object may have."""
MAX_SEQ_JUMP = 10_000
"""How far a reading's ``seq`` may run ahead of the next one the twin expects."""
MAX_TIME_JUMP_S = 366 * 86400
"""How far a reading's time may run ahead of the twin's [s]."""
MAX_CLOCK_AHEAD_S = 86400
"""How far a reading's time may be ahead of this computer's clock [s] (no reading comes from the future)."""
MAX_LOGGED = 100
"""Refused messages logged one line each; later ones are only counted."""
REFUSED = ("malformed", "wrong_topic", "out_of_bounds", "old")
"""Kinds of refused messages, as counted in :attr:`Sync.counts` and the summary."""


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
        """The model's parameters (see :class:`twin.physics.thermal.ThermalModel`)."""
        return asdict(self.model)


@dataclass(frozen=True)
class Endpoint:
    """A broker and how to log in to it (``--mqtt``, ``--username``, the password, ``--tls`` and its files)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def broker_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` as (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError("--mqtt", "", f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def endpoint_from(args: argparse.Namespace) -> Endpoint:
    """The :class:`Endpoint` of parsed broker options (:func:`twin.app.cli.add_endpoint_arguments`) (files checked, password read)."""
    host, port = broker_address(args.mqtt)
    password = None
    if args.password_file is not None:
        if args.username is None:
            raise InputError("--password-file", "", "a password needs --username")
        if not args.password_file.is_file():
            raise InputError(args.password_file, "", "--password-file: no such file (or not a regular file)")
        try:
            password = (args.password_file.read_text(encoding="utf-8").splitlines() or [""])[0]
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(args.password_file, "", f"cannot read the password ({e.__class__.__name__})") from None
        if not password:
            raise InputError(args.password_file, "", "no password in its first line")
        if args.password_file.stat().st_mode & 0o077:
            warnings.warn(f"{args.password_file}: other users may read this password file (chmod 600 it)", stacklevel=2)
    elif args.username is not None:
        password = os.environ.get("TWIN_MQTT_PASSWORD")
    files = {"--cafile": args.cafile, "--certfile": args.certfile, "--keyfile": args.keyfile}
    for option, path in files.items():
        if path is not None and not args.tls:
            raise InputError(option, "", "needs --tls")
        if path is not None and not path.is_file():
            raise InputError(path, "", f"{option}: no such file")
    if args.keyfile is not None and args.certfile is None:
        raise InputError("--keyfile", "", "needs --certfile")
    if password and not args.tls and not _loopback(host):
        warnings.warn(f"the password goes to {host}:{port} unencrypted; use --tls", stacklevel=2)
    return Endpoint(host, port, args.username, password, args.tls, *(None if f is None else str(f) for f in files.values()))


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sync_client_id(scene: str | Path, out: str | Path | None, topic: str) -> str:
    """The persistent session's client id: the same for the same scene, ``--out`` and topic, so that a
    restarted sync resumes its session, and different otherwise, so that no two syncs share one."""
    key = "\n".join((str(Path(scene).resolve()), "" if out is None else str(Path(out).resolve()), topic))
    return "twin-sync-" + hashlib.sha256(key.encode()).hexdigest()[:13]  # 23 characters, MQTT 3.1's limit


def check_topic(topic: str) -> str:
    """``topic`` if it can carry readings: a topic name or a filter with ``+`` levels (``#`` would take in
    the twin's own ``T/twin`` and ``T/alarm``)."""
    levels = topic.split("/")
    if not topic or "#" in topic or "\0" in topic or any("+" in level and level != "+" for level in levels):
        raise InputError("--topic", "", f"{topic!r} is not a topic name or a filter of whole '+' levels ('#' is not allowed)")
    return topic


def _client(client_id: str = "", broker: Endpoint | None = None):
    """An MQTT 5 paho client with twin's flow control (QoS 1, :data:`IN_FLIGHT`), login and TLS."""
    import paho.mqtt.client as mqtt

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.reconnect_delay_set(min_delay=1, max_delay=2)
    c.max_inflight_messages_set(IN_FLIGHT)
    c.max_queued_messages_set(0)  # unlimited: readings wait while the broker is away
    if broker is not None and broker.username is not None:
        c.username_pw_set(broker.username, broker.password)
    if broker is not None and broker.tls:
        try:
            c.tls_set(ca_certs=broker.cafile, certfile=broker.certfile, keyfile=broker.keyfile)
        except (ssl.SSLError, OSError, ValueError) as e:
            raise InputError(broker.url, "", f"TLS files refused ({e})") from None
    return c


def _connect(client, broker: Endpoint, *, persistent: bool = False) -> None:
    """Connect, start the network thread (which then reconnects by itself) and wait for the CONNACK.

    ``persistent``: clean start off, the session kept :data:`SESSION_EXPIRY_S` (readings queue while away).

    Raises:
        InputError: one line naming the broker: nobody answered, the TLS handshake failed, or the broker
            refused the connection (with its CONNACK reason: a wrong password, no rights).
    """
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    answered, answer = threading.Event(), {}
    previous = client.on_connect

    def on_connect(c, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            answer.setdefault("refused", reason_code)
        else:
            sock = c.socket()
            if sock is not None:  # small messages go out at once (no Nagle delay behind an unacknowledged one)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        answered.set()
        if previous is not None and not reason_code.is_failure:
            previous(c, userdata, flags, reason_code, properties)

    def on_disconnect(c, userdata, flags, reason_code, properties):
        if not answered.is_set():  # closed before any CONNACK: a TLS listener spoken to in plain text, a missing certificate
            answer.setdefault("closed", reason_code)
            answered.set()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    properties = Properties(PacketTypes.CONNECT)
    if persistent:
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        properties.ReceiveMaximum = IN_FLIGHT
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while True:
        try:
            client.connect(broker.host, broker.port, keepalive=KEEPALIVE_S, clean_start=not persistent,
                           properties=properties)
            break
        except ssl.SSLError as e:  # before OSError: it is one
            raise InputError(broker.url, "", f"TLS handshake failed ({e.reason or e})") from None
        except socket.gaierror as e:
            raise InputError(broker.url, "", f"unknown host ({e.strerror})") from None
        except ValueError as e:
            raise InputError(broker.url, "", f"cannot connect ({e})") from None
        except OSError as e:  # nobody listening (yet): try again until the deadline
            if time.monotonic() > deadline:
                raise InputError(broker.url, "", f"no broker answered within {CONNECT_TIMEOUT_S:.0f} s "
                                 f"({e.strerror or e})") from None
            time.sleep(0.2)
    client.loop_start()
    if not answered.wait(max(deadline - time.monotonic(), 1.0)):
        client.loop_stop()
        raise InputError(broker.url, "", f"no CONNACK within {CONNECT_TIMEOUT_S:.0f} s")
    if "closed" in answer:
        _close(client, 0.0)
        raise InputError(broker.url, "", f"the broker closed the connection without a CONNACK ({answer['closed']}): "
                         "does it want --tls, or a client certificate?")
    if "refused" in answer:
        _close(client, 0.0)
        rc = answer["refused"]
        raise InputError(broker.url, "", f"the broker refused the connection: {rc} (CONNACK reason code {rc.value})")


def _close(client, timeout: float = 5.0) -> None:
    """Disconnect once what is queued (acknowledgements of received readings, outputs) is written, at most
    ``timeout`` [s]; then stop the network thread. (paho's loop_stop right after disconnect can drop them:
    the broker would deliver those readings again.)"""
    gone = threading.Event()
    previous = client.on_disconnect

    def on_disconnect(*args):
        gone.set()
        if previous is not None:
            previous(*args)

    client.on_disconnect = on_disconnect
    if client.disconnect() == 0:  # MQTT_ERR_SUCCESS: connected, DISCONNECT queued after the rest
        gone.wait(timeout)
    client.loop_stop()


class _Confirmations:
    """What ``twin replay --confirm`` waits for: readings published and not yet answered by the twin on
    ``T/twin`` (seq -> [payload, when last published (monotonic s)])."""

    def __init__(self):
        self.waiting: dict[int, list] = {}
        self.answered = 0
        self.resent = 0
        self._highest = -1  # the highest seq answered
        self._last_answer = time.monotonic()
        self._lock = threading.Lock()
        self.subscribed, self.suback = threading.Event(), []

    def on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self.suback[:] = reason_codes
        self.subscribed.set()

    def on_message(self, client, userdata, msg) -> None:
        """paho's callback for ``T/twin``: an answer confirms its reading; anything else is ignored (never raises)."""
        try:
            seq = json.loads(msg.payload)["seq"]
            with self._lock:
                if self.waiting.pop(seq, None) is not None:
                    self.answered += 1
                    self._highest = max(self._highest, seq)
                    self._last_answer = time.monotonic()
        except Exception:  # noqa: BLE001 (not an answer: the network thread must live)
            return

    def add(self, seq: int, payload: str) -> None:
        with self._lock:
            self.waiting[seq] = [payload, time.monotonic()]

    def overdue(self) -> list[tuple[int, str]]:
        """The readings to publish again, in seq order, stamped as published now: those unanswered for
        :data:`RESEND_AFTER_S` while a later one was answered (the twin answers in seq order: it never got
        them, or their answer was lost), or while no answer came at all (a twin that lost its session)."""
        now = time.monotonic()
        with self._lock:
            stalled = now - self._last_answer > RESEND_AFTER_S
            due = [(seq, w[0]) for seq, w in self.waiting.items()
                   if now - w[1] > RESEND_AFTER_S and (stalled or seq < self._highest)]
            for seq, _ in due:
                self.waiting[seq][1] = now
        return sorted(due)


def replay(log_path: str | Path, broker: Endpoint, topic: str, *, speed: float = 1000.0, channel: str | None = None,
           start: int = 0, count: int | None = None, progress: bool = True, timeout: float = 60.0,
           confirm: bool = False) -> dict[str, int]:
    """Publish a sensor log as a live feed (QoS 1), ``speed`` times faster than its clock.

    At most :data:`MAX_UNACKNOWLEDGED` readings wait for the broker's acknowledgement (flow control); the replay
    waits while the broker is away, and gives up after ``timeout`` [s] without an acknowledgement. At the end
    it waits (the same way) until the broker has acknowledged every reading.

    ``confirm``: end to end. A reading is done only when the twin's answer with its seq comes back on
    ``T/twin`` (the login needs read rights there); at most :data:`MAX_UNACKNOWLEDGED` wait for one, and a
    reading unanswered for :data:`RESEND_AFTER_S` while connected is published again (the sync takes it once
    and answers again). So a broker killed without saving what it had acknowledged loses nothing. A reading
    the broker refuses is never answered: then the replay stops waiting for answers.

    Returns:
        {"sent", "published", "acknowledged", "refused", "unsent"}: readings sent, publications (with those
        sent again), of those acknowledged by the broker and refused by it (an MQTT 5 PUBACK reason such as
        "Not authorized": the ACL denies the topic), readings not sent (given up); with ``confirm`` also
        "confirmed" (answered by the twin) and "resent" (publications sent again).
    """
    from tqdm import tqdm

    from twin.io.sensor_log import read_sensor_log

    check_topic(topic)
    if "+" in topic:
        raise InputError("--topic", "", f"{topic!r}: readings are published on a topic name, not a filter")
    log = read_sensor_log(log_path)
    channel = channel or next(iter(log.channels))
    if channel not in log.channels:
        raise InputError(log_path, "", f"no channel {channel!r}; it has {', '.join(log.channels)}")
    if not speed > 0:
        raise InputError("--speed", "", f"must be > 0, got {speed}")
    rows = range(start, log.rows if count is None else min(log.rows, start + count))
    secs = log.seconds()
    client = _client(broker=broker)
    counts = {"sent": 0, "published": 0, "acknowledged": 0, "refused": 0}
    why: list[str] = []
    answers = _Confirmations() if confirm else None

    def on_publish(c, userdata, mid, reason_code, properties):  # a reading queued while the broker is away is acked later
        counts["acknowledged"] += 1
        if reason_code.is_failure:
            counts["refused"] += 1
            why[:] = [str(reason_code)]

    client.on_publish = on_publish
    if answers is not None:
        client.on_message = answers.on_message
        client.on_subscribe = answers.on_subscribe
        client.on_connect = lambda c, *args: c.subscribe(f"{topic}/twin", qos=1)  # again at each reconnection
    _connect(client, broker)
    if answers is not None and (not answers.subscribed.wait(CONNECT_TIMEOUT_S)
                                or any(rc.is_failure for rc in answers.suback)):
        _close(client, 0.0)
        refused = ", ".join(map(str, answers.suback)) or f"no answer within {CONNECT_TIMEOUT_S:.0f} s"
        raise InputError(broker.url, "", f"the broker refused the subscription to {topic}/twin that --confirm "
                                         f"needs ({refused})")

    def publish(payload: str) -> None:
        client.publish(topic, payload, qos=1)
        counts["published"] += 1

    def confirming() -> bool:
        return answers is not None and not counts["refused"]

    def waiting() -> int:
        unacknowledged = counts["published"] - counts["acknowledged"]
        return max(unacknowledged, len(answers.waiting)) if confirming() else unacknowledged

    def settled(limit: int) -> bool:
        """Wait until at most ``limit`` readings wait (for the broker, and with ``confirm`` for the twin), publishing
        overdue ones again while connected; False after ``timeout`` [s] without an acknowledgement (with
        ``confirm``: without an answer; the broker's acknowledgements of readings sent again are no progress)."""
        last, since = None, time.monotonic()
        while waiting() > limit:
            if confirming() and client.is_connected():
                for _, payload in answers.overdue():
                    publish(payload)
                    answers.resent += 1
            now = answers.answered if confirming() else counts["acknowledged"]
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since > timeout:
                return False
            time.sleep(0.001)
        return True

    t_wall0, t_log0 = time.monotonic(), secs[rows.start] if len(rows) else 0.0
    try:
        for k in tqdm(rows, unit="reading", file=sys.stderr, disable=not progress, desc=f"replay to {topic}"):
            wait = (secs[k] - t_log0) / speed - (time.monotonic() - t_wall0)
            if wait > 0:
                time.sleep(wait)
            if not settled(MAX_UNACKNOWLEDGED - 1):  # the broker (or the twin) is away for longer than `timeout`
                break
            payload = json.dumps({"seq": k, "time": f"{log.time[k]}Z", channel: float(log.channels[channel][k]),
                                  "sent": time.time()})
            if answers is not None:
                answers.add(k, payload)
            publish(payload)
            counts["sent"] += 1
        settled(0)
    finally:
        _close(client)
    counts["unsent"] = len(rows) - counts["sent"]
    if answers is not None:
        counts.update(confirmed=counts["sent"] - len(answers.waiting), resent=answers.resent)
    if counts["refused"]:
        print(f"twin replay: {broker.url}: {counts['refused']} readings refused by the broker ({why[0]})", file=sys.stderr)
    return counts


def _finite(x, what: str, *, optional: bool = False) -> float | None:
    if x is None and optional:
        return None
    try:
        if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(float(x)):
            return float(x)
    except OverflowError:  # an integer beyond float
        pass
    raise ValueError(f"{what} {str(x)[:40]!r} is not a finite number")


def _epoch(t: np.datetime64) -> int:
    """A datetime64[s] as seconds since 1970 (cheaper than numpy arithmetic on scalars)."""
    return int(t.astype(np.int64))


def _no_constant(name: str):
    raise ValueError(f"{name} is not a finite number")


def parse_reading(payload: bytes, channel: str, *, now: float | None = None) -> tuple[int, np.datetime64, float, float | None]:
    """(seq, time, value, sent) of a reading message, checked against the schema (see the module docstring).

    ``now``: this computer's clock [s since 1970] (default: read it); a reading may not be more than
    :data:`MAX_CLOCK_AHEAD_S` ahead of it.

    Raises:
        ValueError: with what is wrong (too big, not JSON, nested too deeply, a missing key, a bad number or time).
    """
    from twin.io.sensor_log import parse_timestamp

    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"{len(payload)} bytes, more than {MAX_PAYLOAD_BYTES}")
    try:
        d = json.loads(payload, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("not JSON (nested too deeply)") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, a NaN, an integer of too many digits
        raise ValueError(f"not JSON ({str(e)[:80]})") from None
    if not isinstance(d, dict):
        raise ValueError("not a JSON object")
    if len(d) > MAX_KEYS:
        raise ValueError(f"{len(d)} keys, more than {MAX_KEYS}")
    missing = [k for k in ("seq", "time", channel) if k not in d]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    seq = d["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**53:
        raise ValueError(f"seq {str(seq)[:40]!r} is not an integer in [0, 2**53)")
    value = _finite(d[channel], channel)
    sent = _finite(d.get("sent"), "sent", optional=True)
    try:
        if not isinstance(d["time"], str) or len(d["time"]) > 64:
            raise ValueError
        t = parse_timestamp(d["time"])
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"time {str(d['time'])[:40]!r} is not an ISO 8601 timestamp") from None
    ahead = _epoch(t) - (time.time() if now is None else now)
    if ahead > MAX_CLOCK_AHEAD_S:
        raise ValueError(f"time {d['time']!r} is {ahead / 86400:.0f} days ahead of this computer's clock")
    return seq, t, value, sent


@dataclass
class Sync:
    """The twin fed by a topic: what ``twin sync`` runs (also usable from Python and tests).

    Attributes:
        spec: the machine; broker: where and how to connect; topic: readings (a name, or a filter with ``+``).
        client_id: the persistent session's id (default: :func:`sync_client_id` of no scene, no ``--out``, the topic).
        rows: one dict per assimilated reading (seq, time, reading, predicted, sigma, z, heat, alarm).
        counts: ``duplicate`` (delivered again: not a loss), the refused kinds of :data:`REFUSED`
            (``malformed``, ``wrong_topic``, ``out_of_bounds``: a jump in ``seq`` or time, ``old``: before
            the twin's time, a clock step) and ``never_came`` (lost: a gap in ``seq``).
    """

    spec: MachineSpec
    broker: Endpoint
    topic: str
    client_id: str = ""
    rows: list = field(default_factory=list)
    counts: dict = field(default_factory=lambda: dict.fromkeys(("duplicate", *REFUSED, "never_came"), 0))

    def __post_init__(self):
        check_topic(self.topic)
        self.client_id = self.client_id or sync_client_id("", None, self.topic)
        self._twin: ThermalTwin | None = None
        self._t0: np.datetime64 | None = None
        self._last_t: np.datetime64 | None = None  # the last assimilated reading's time
        self._next: int | None = None  # the seq the twin takes next
        self._pending: dict[int, tuple] = {}  # seq -> (time, value, sent, arrival [monotonic s], topic)
        self._answers: dict[int, tuple[str, str]] = {}  # seq -> the last ANSWERS_KEPT (topic, answer) published
        self._progress = time.monotonic()  # when the twin last took (or gave up) a reading
        self._last_alarm = -math.inf
        self._logged = 0
        self._connected_before = False
        self.sessions_lost = 0  # reconnections the broker had forgotten the session at (readings may be lost unseen)
        self._outputs = [0, 0]  # outputs published, acknowledged by the broker
        self._subscribed, self._suback = threading.Event(), []
        self._lock = threading.Lock()
        self._new = threading.Condition(self._lock)
        self.client = _client(self.client_id, self.broker)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish

    @property
    def lost(self) -> int:
        """Readings that never came (gaps in ``seq``)."""
        return self.counts["never_came"]

    @property
    def refused(self) -> int:
        """Messages refused (malformed, on another topic, out of bounds, older than the twin)."""
        return sum(self.counts[k] for k in REFUSED)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        from paho.mqtt.subscribeoptions import SubscribeOptions

        if self._connected_before and not flags.session_present:
            self.sessions_lost += 1
            print(f"twin sync: {self.broker.url} lost this sync's session (restarted without its saved state?): "
                  "readings published before it is subscribed again are lost", file=sys.stderr)
        self._connected_before = True
        with self._lock:  # a reading missing while the broker was away may come now: wait for it from here
            self._progress = time.monotonic()
        client.subscribe(self.topic, options=SubscribeOptions(qos=1, noLocal=True))

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        self._suback[:] = reason_codes
        self._subscribed.set()

    def _refuse(self, kind: str, topic: str, why: str) -> None:
        """Count a refused message and log it in one line (the first :data:`MAX_LOGGED`); called holding the lock."""
        self.counts[kind] += 1
        self._logged += 1
        if self._logged <= MAX_LOGGED:
            more = "; later refusals are only counted" if self._logged == MAX_LOGGED else ""
            print(f"twin sync: topic {topic[:100]}: message refused: {why}{more}", file=sys.stderr)

    def _on_message(self, client, userdata, msg):
        """paho's callback: whatever the message, it never raises (an exception would end the network thread)."""
        try:
            self._take(msg)
        except Exception as e:  # noqa: BLE001 (the thread must live; the message is counted and logged)
            with self._lock:
                self._refuse("malformed", "?", f"{e.__class__.__name__}: {str(e)[:80]}")

    def _take(self, msg) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            topic = None
        from paho.mqtt.client import topic_matches_sub

        if topic is None or (topic != self.topic and ("+" not in self.topic or not topic_matches_sub(self.topic, topic))):
            with self._lock:
                self._refuse("wrong_topic", repr(topic), f"not {self.topic}")
            return
        try:
            seq, t, value, sent = parse_reading(msg.payload, self.spec.channel)
        except ValueError as e:
            with self._lock:
                self._refuse("malformed", topic, str(e))
            return
        with self._lock:
            if seq in self._pending or (self._twin is not None and seq < self._next):
                self.counts["duplicate"] += 1
                out = [self._answers[seq]] if seq in self._answers else []  # its publisher may wait for the answer
                self._outputs[0] += len(out)
            else:
                why = self._jump(seq, t)
                if why:
                    self._refuse("out_of_bounds", topic, why)
                    return
                self._pending[seq] = (t, value, sent, time.monotonic(), topic)
                out = self._drain()
        self._publish(out)

    def _jump(self, seq: int, t: np.datetime64) -> str | None:
        """Why a reading is out of bounds of the twin's ``seq`` and time (None: it is not).

        Before the twin starts, the readings waiting to start it are checked against the new one: when
        they disagree, the new one wins (a feed goes on; a stray reading does not), and they are refused.
        """
        if self._twin is not None:
            if seq - self._next > MAX_SEQ_JUMP:
                return f"seq {seq} is {seq - self._next} ahead of the next reading {self._next} (at most {MAX_SEQ_JUMP})"
            if _epoch(t) - _epoch(self._last_t) > MAX_TIME_JUMP_S:
                return f"time {t} is more than {MAX_TIME_JUMP_S / 86400:.0f} days after the twin's {self._last_t}"
            return None
        for s, (ts, *_, topic) in list(self._pending.items()):
            if abs(seq - s) > MAX_SEQ_JUMP or abs(_epoch(t) - _epoch(ts)) > MAX_TIME_JUMP_S:
                del self._pending[s]
                self._refuse("out_of_bounds", topic, f"seq {s} at {ts} disagrees with the readings after it "
                             f"(seq {seq} at {t}): not taken to start the twin")
        return None

    def _drain(self, *, force: bool = False) -> list[tuple[str, str]]:
        """Assimilate the pending readings in ``seq`` order (called holding the lock); return what to publish.

        The twin starts once two readings agree (one alone could be a stray), or at ``force``. A missing
        reading is waited for while the twin makes no progress, at most :data:`REORDER_WAIT_S` (QoS 1
        redelivery after a reconnect can come out of order); then it is given up and counted as lost.
        """
        out: list[tuple[str, str]] = []
        if self._twin is None:
            if not self._pending or (len(self._pending) < 2 and not force):
                return out
            self._next = min(self._pending)
        while self._pending:
            if self._next not in self._pending:
                waited = time.monotonic() - max(self._progress, min(a for *_, a, _ in self._pending.values()))
                if not force and waited < REORDER_WAIT_S:
                    break
                first = min(self._pending)
                self.counts["never_came"] += first - self._next
                self._next = first
            seq = self._next
            t, value, sent, _, topic = self._pending.pop(seq)
            self._next += 1
            self._progress = time.monotonic()
            if self._twin is None:
                self._t0 = t
                self._twin = ThermalTwin(self.spec.model, value, 0.0)
            secs = float(_epoch(t) - _epoch(self._t0))
            if self.rows and secs < self._twin.state.t:
                self._refuse("old", topic, f"seq {seq}: time {t} is before the twin's {self._last_t} (a clock step)")
                continue
            self._last_t = t
            i = self._twin.assimilate(secs, value)
            alarm = bool(abs(i.z) > self.spec.threshold and secs > self._last_alarm + self.spec.holdoff)
            if alarm:
                self._last_alarm = secs
            self.rows.append({"seq": seq, "time": str(t), "reading": value, "predicted": i.predicted, "sigma": i.sigma,
                              "z": i.z, "heat": i.heat, "alarm": alarm})
            message = json.dumps({"seq": seq, "time": f"{t}Z", "predicted": i.predicted, "sigma": i.sigma, "z": i.z,
                                  "heat": i.heat, "sent": sent})
            out.append((f"{topic}/twin", message))
            self._answers[seq] = out[-1]
            if len(self._answers) > ANSWERS_KEPT:
                del self._answers[next(iter(self._answers))]
            if alarm:
                out.append((f"{topic}/alarm", message))
        self._outputs[0] += len(out)
        self._new.notify_all()
        return out

    def _publish(self, messages: list[tuple[str, str]]) -> None:
        for topic, message in messages:
            self.client.publish(topic, message, qos=1)

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        self._outputs[1] += 1

    def start(self) -> None:
        """Connect and subscribe (the network thread reconnects by itself after a broker restart).

        Raises:
            InputError: the broker cannot be reached or refuses the login or the subscription.
        """
        _connect(self.client, self.broker, persistent=True)
        if not self._subscribed.wait(CONNECT_TIMEOUT_S) or any(rc.is_failure for rc in self._suback):
            self.stop()
            why = ", ".join(map(str, self._suback)) or f"no answer within {CONNECT_TIMEOUT_S:.0f} s"
            raise InputError(self.broker.url, "", f"the broker refused the subscription to {self.topic} ({why})")

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

    def stop(self, timeout: float = 10.0) -> None:
        """Wait (at most ``timeout`` [s]) until the broker has acknowledged the outputs, then disconnect."""
        deadline = time.monotonic() + timeout
        while self._outputs[1] < self._outputs[0] and time.monotonic() < deadline and self.client.is_connected():
            time.sleep(0.01)
        _close(self.client)

    def summary(self) -> dict:
        """Counts for ``summary.json`` and the last line of ``twin sync``."""
        with self._lock:
            return {"assimilated": len(self.rows), "alarms": sum(r["alarm"] for r in self.rows),
                    "duplicates": self.counts["duplicate"], "refused": {k: self.counts[k] for k in REFUSED},
                    "lost": self.lost, "sessions_lost": self.sessions_lost, "topic": self.topic, "broker": self.broker.url, "client_id": self.client_id}

    def write(self, path: str | Path) -> Path:
        """The assimilated readings as CSV (written atomically)."""
        path = Path(path)
        keys = ("seq", "time", "reading", "predicted", "sigma", "z", "heat", "alarm")
        with self._lock:
            lines = [",".join(keys)] + [",".join(str(r[k]) for k in keys) for r in self.rows]
        write_text(path, "\n".join(lines) + "\n")
        return path


def cmd_replay(args) -> int:
    """``twin replay LOG --mqtt HOST:PORT --topic T ...`` (options: :func:`twin.app.cli.build_parser`)."""
    broker = endpoint_from(args)
    n = replay(args.log, broker, args.topic, speed=args.speed, channel=args.channel, start=args.start, count=args.count,
               progress=not args.quiet, timeout=args.timeout, confirm=args.confirm)
    missing = n["published"] - n["acknowledged"]
    unanswered = n["sent"] - n.get("confirmed", n["sent"])
    given_up = missing or n["unsent"] or unanswered
    confirmed = f", {n['confirmed']} answered by the twin ({n['resent']} sent again)" if args.confirm else ""
    print(f"twin: {n['sent']} readings published to {args.topic} on {broker.url}, {n['acknowledged'] - n['refused']} "
          f"accepted, {n['refused']} refused{confirmed}"
          + (f"; gave up after {args.timeout:g} s without progress: {missing} not acknowledged, {n['unsent']} not sent"
             + (f", {unanswered} not answered" if args.confirm else "") if given_up else ""))
    return EXIT_LOST if given_up or n["refused"] else 0


def cmd_sync(args) -> int:
    """``twin sync SCENE --mqtt HOST:PORT ...`` (options: :func:`twin.app.cli.build_parser`)."""
    from twin.script import load_script, parameters_of

    broker = endpoint_from(args)
    if args.topic is not None:
        check_topic(args.topic)  # before the scene, which may take a while to set up
    script = load_script(args.scene)
    spec = script.setup(parameters_of(script, args.scene, args.set))
    if not isinstance(spec, (MachineSpec, MachineRun)):
        raise InputError(args.scene, "setup()", "twin sync needs a machine scene (setup returns a MachineRun)")
    topic = check_topic(args.topic or spec.topic)
    view = None
    if args.view:
        from twin.viewer.machine import LiveMachinePlot

        view = LiveMachinePlot(spec)  # one-line InputError when there is no display
    sync = Sync(spec, broker, topic, client_id=args.client_id or sync_client_id(args.scene, args.out, topic))
    sync.start()
    print(f"twin: {spec.name} listening on {sync.topic} at {broker.url} (session {sync.client_id})", file=sys.stderr)
    code = 0
    try:
        sync.wait(count=args.count, idle=args.idle, on_tick=view)
    except KeyboardInterrupt:
        code = 130
    finally:
        sync.stop()
        s = sync.summary()
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            sync.write(args.out / "sync.csv")
            write_text(args.out / "summary.json", json.dumps(s, indent=2) + "\n")
            if sync.rows:
                from twin.viewer.machine import plot_sync

                plot_sync(sync.rows, spec, args.out / "sync.png")
    short = args.count is not None and s["assimilated"] < args.count
    refused = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in s["refused"].items())
    gone = f", the broker lost the session {s['sessions_lost']} times" if s["sessions_lost"] else ""
    print(f"twin: {s['assimilated']} readings assimilated, {s['alarms']} alarms; {s['lost']} lost"
          f"{f' (fewer than --count {args.count})' if short else ''}{gone}; refused: {refused}; duplicates {s['duplicates']}")
    return code or (EXIT_LOST if s["lost"] or s["sessions_lost"] or short else 0)
