"""The machine thermal twin of the NAB industrial machine, for ``twin sync``.

The lumped thermal model (:mod:`twin.physics.thermal`) is fitted on the first rows of
the machine's log (NAB's probationary period: 750 readings, 2.6 days), then runs
beside the live feed (``twin sync``) or over the whole log (``twin run``): each reading is assimilated by the Kalman filter and an
alarm is raised when the reading leaves the twin's prediction by more than
``threshold`` standard deviations (then quiet for ``holdoff`` seconds).

    twin replay ../shared/data/factory/machine_temperature_system_failure.csv --mqtt 127.0.0.1:1883 --topic factory/machine &
    twin sync scenes/machine_thermal.py --mqtt 127.0.0.1:1883 --out out/machine --idle 30
    twin run scenes/machine_thermal.py --out out/machine_log
"""

from __future__ import annotations

from twin.physics.thermal.run import MachineRun
from twin.physics.thermal.study import fit_on_probation

from twin.data import data_file
from twin.io.sensor_log import read_sensor_log
from twin.params import Param

DEFAULT_LOG = data_file("factory", "machine_temperature_system_failure.csv")

PARAMETERS = [
    Param("log", DEFAULT_LOG, "", "sensor log the model is fitted on (its first rows)"),
    Param("channel", "value", "", "the temperature channel"),
    Param("unit", "degF", "", "the channel's unit (NAB does not state it; probably degF)"),
    Param("threshold", 4.0, "sigma", "alarm when |reading - prediction| exceeds this many standard deviations", positive=True),
    Param("holdoff", 86400.0, "s", "quiet time after an alarm", minimum=0.0),
    Param("topic", "factory/machine", "", "MQTT topic of the readings"),
]


def setup(p):
    log = read_sensor_log(p["log"], units={p["channel"]: p["unit"]})
    model, keep, _ = fit_on_probation(log, p["channel"])
    return MachineRun("NAB machine temperature", model, log.seconds()[keep], log.channels[p["channel"]][keep],
                      start=str(log.time[keep][0]), unit=p["unit"], channel=p["channel"], topic=p["topic"],
                      threshold=p["threshold"], holdoff=p["holdoff"])
