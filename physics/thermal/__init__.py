"""The machine thermal twin: the lumped model and its filter (:mod:`.model`), the offline
study on a sensor log (:mod:`.study`) and the run ``twin run`` drives (:mod:`.run`)."""

from twin.physics.thermal.model import Innovation, ThermalModel, ThermalState, ThermalTwin, fit_thermal

__all__ = ["Innovation", "ThermalModel", "ThermalState", "ThermalTwin", "fit_thermal"]
