"""Sensor logs, the machine thermal twin and NAB scoring."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from shared_data import DATA, need

from twin.anomaly import alarms, nab_score, probationary_length, rolling_zscore, scaled_sigmoid
from twin.app.cli import main
from twin.errors import InputError
from twin.io.sensor_log import read_nab_labels, read_sensor_log, window_rows

pytestmark = pytest.mark.data  # needs ../shared/data

LOG = DATA / "factory" / "machine_temperature_system_failure.csv"
LABELS = DATA / "factory" / "machine_temperature_system_failure.labels.json"


@pytest.fixture(scope="module")
def log():
    return read_sensor_log(need(LOG), units={"value": "degF"})


def test_nab_log_clock(log):
    assert log.rows == 22695 and log.interval == 300.0 and log.units == {"value": "degF"}
    assert log.gaps == []
    assert len(log.clock_steps) == 1
    step = log.clock_steps[0]
    assert (str(step.before), str(step.after), step.seconds) == ("2014-01-07T02:55:00", "2014-01-07T02:00:00", 3300.0)
    assert len(log.duplicates) == 12 and str(log.duplicates[0]) == "2014-01-07T02:00:00"
    assert len(log.monotonic()) == 22683
    assert (str(log.span[0]), str(log.span[1])) == ("2013-12-02T21:15:00", "2014-02-19T15:25:00")


def test_time_zones_gaps_and_units(tmp_path):
    p = tmp_path / "log.csv"
    p.write_text("time,temp [degC],load (kW)\n"
                 "2024-07-01T12:50:00+02:00,20.5,3\n2024-07-01 12:00:00,21,3\n2024-07-01 12:10:00,21.5,3\n"
                 "2024-07-01 11:40:00Z,22,4\n")
    log = read_sensor_log(p, timezone="Europe/London")  # British Summer Time in July: UTC+1
    assert log.units == {"temp": "degC", "load": "kW"}
    assert [str(t) for t in log.time] == ["2024-07-01T10:50:00", "2024-07-01T11:00:00", "2024-07-01T11:10:00", "2024-07-01T11:40:00"]
    assert log.interval == 600.0  # steps of 10, 10 and 30 min
    assert [(g.row, g.missing) for g in log.gaps] == [(3, 2)]
    with pytest.raises(InputError, match="not an IANA time zone"):
        read_sensor_log(p, timezone="Mars/Olympus")


@pytest.mark.parametrize("text, where, what", [
    ("timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,abc\n", "line 3, column value", "'abc' is not a finite number"),
    ("timestamp,value\n2014-01-01 00:00:00,1\nyesterday,2\n", "line 3, column timestamp", "'yesterday' is not an ISO 8601 timestamp"),
    ("x,y\n0,0\n1,0\n0,1\n", None, None),
])
def test_bad_logs_are_one_line(tmp_path, capsys, text, where, what):
    p = tmp_path / "log.csv"
    p.write_text(text)
    if where is None:  # not a log: inspect reads it as a polygon instead
        assert main(["inspect", str(p)]) == 0
        return
    with pytest.raises(InputError, match=what):
        read_sensor_log(p)
    assert main(["inspect", str(p), "--json"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"{p}: {where}: {what}" in err


def test_inspect_log_json(capsys):
    assert main(["inspect", str(need(LOG)), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kind"] == "sensor-log" and d["rows"] == 22695 and d["sampling_interval_s"] == 300.0
    assert d["clock_steps"][0]["from"] == "2014-01-07T02:55:00Z" and len(d["duplicated_timestamps"]) == 12
    assert d["time_span"] == ["2013-12-02T21:15:00Z", "2014-02-19T15:25:00Z"] and d["gaps"] == []


def test_nab_scoring_on_a_hand_checked_example():
    """100 rows, windows rows 40-49 and 70-79; probation = floor(0.15 * 100) = 15 rows.

    Detection at 10: probationary, not scored. At 20: before any window, A_FP * -1 = -0.11.
    At 45: y = -(49 - 45 + 1) / 10 = -0.5, sigma(-0.5) = 2 / (1 + e^-2.5) - 1 = 0.848284, divided by
    sigma(-1) = 2 / (1 + e^-5) - 1 = 0.986614: +0.859793. At 47: same window, not counted again.
    At 52: y = |49 - 52| / (10 - 1) = 1/3, sigma = 2 / (1 + e^(5/3)) - 1 = -0.682262, times 0.11: -0.075049.
    Window 70-79 missed: -1. S = -0.11 + 0.859793 - 0.075049 - 1 = -0.325256; null -2, perfect +2;
    normalised 100 (S + 2) / 4 = 41.8686."""
    s = nab_score(100, [(40, 49), (70, 79)], np.array([10, 20, 45, 47, 52]))
    assert probationary_length(100) == 15 and probationary_length(22683) == 750
    assert scaled_sigmoid(-1.0) == pytest.approx(0.986614, abs=1e-6) and scaled_sigmoid(3.5) == -1.0
    assert (s.tp, s.fp, s.fn, s.first) == (1, 2, 1, (45, -1))
    assert s.raw == pytest.approx(-0.325256, abs=1e-6)
    assert (s.null, s.perfect) == (-2.0, 2.0)
    assert s.normalised == pytest.approx(41.8686, abs=1e-4)
    assert nab_score(100, [(40, 49), (70, 79)], np.array([40, 70])).normalised == pytest.approx(100.0)
    assert nab_score(100, [(40, 49), (70, 79)], np.array([], int)).normalised == 0.0


def test_alarm_rule_and_rolling_zscore():
    assert alarms(np.array([0, 5, 6, 0, 0, 7, 0, 9]), 4.0, 3).tolist() == [1, 5]
    y = np.array([1.0, 2.0, 3.0, 10.0])
    z = rolling_zscore(y, 3)
    assert z[:3].tolist() == [0, 0, 0] and z[3] == pytest.approx(8.0 / math.sqrt(2.0 / 3.0))


def test_thermal_twin_recovers_a_simulated_machine():
    """Readings from the model itself: tau = 1800 s, the load switching between 80 and 60 every 200
    readings, reading noise sd 0.5. The fit finds tau within 10 % and the noise within 20 %. Away from the
    switches the innovations are N(0, 1)-like (P(|z| > 4.5) = 7e-6: none expected among 2000 readings);
    each switch is a change the model did not expect: |z| > 3 (p = 0.27 % under the model) within 3 readings."""
    from twin.physics.thermal import ThermalTwin, fit_thermal

    rng = np.random.default_rng(3)
    dt, tau, n = 300.0, 1800.0, 2000
    u = np.where((np.arange(n) // 200) % 2 == 0, 80.0, 60.0)
    T = np.empty(n)
    T[0] = 70.0
    a = math.exp(-dt / tau)
    for k in range(1, n):
        T[k] = a * T[k - 1] + (1 - a) * u[k - 1]
    y = T + rng.normal(0, 0.5, n)
    t = np.arange(n) * dt
    m = fit_thermal(t[:750], y[:750])
    assert m.tau == pytest.approx(tau, rel=0.1) and math.sqrt(m.r) == pytest.approx(0.5, rel=0.2)
    twin = ThermalTwin(m, y[0], t[0])
    z = np.abs([0.0] + [twin.assimilate(tk, yk).z for tk, yk in zip(t[1:], y[1:])])
    switch = np.arange(201, n, 200)  # T first moves at the reading after u switches
    near = np.zeros(n, bool)
    for k in switch:
        near[k:k + 10] = True
        assert z[k:k + 3].max() > 3.0
    assert z[~near].max() < 4.5 and 0.8 < np.sqrt(np.mean(z[~near] ** 2)) < 1.2


def test_twin_beats_the_rolling_zscore_on_the_nab_machine(log):
    """The closing figures: NAB standard-profile scores of both detectors, at 4 sigma and at NAB-tuned thresholds."""
    from twin.physics.thermal.study import evaluate_log

    labels, windows = read_nab_labels(need(LABELS))
    assert len(window_rows(log.time[log.monotonic()], windows)) == 4
    r = evaluate_log(log, "value", windows, labels, threshold=4.0)
    twin, z = r["fixed"]["twin"], r["fixed"]["zscore"]
    assert twin.score.tp == 4 and twin.score.normalised > z.score.normalised
    assert r["tuned"]["twin"].score.normalised > r["tuned"]["zscore"].score.normalised
    assert twin.score.normalised == pytest.approx(68.7, abs=0.1)
