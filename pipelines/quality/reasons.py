"""The data-quality reason codes of the pipeline contract, in plain words for field teams."""

from __future__ import annotations

from dataclasses import dataclass

QUARANTINE = "quarantine"
WARNING = "warning"


@dataclass(frozen=True)
class Reason:
    code: str
    kind: str  # quarantine | warning
    meaning: str  # plain words, for the field team
    action: str  # what the runner or supervisor should do


REASONS: dict[str, Reason] = {r.code: r for r in [
    Reason("missing_required", QUARANTINE, "A required question was left blank.",
           "Open the submission, answer the blank question and re-send it."),
    Reason("bad_value", QUARANTINE, "An answer has the wrong type, is out of range, or is not one of the allowed choices.",
           "Correct the answer (check the unit, the stove model or the species code) and re-send."),
    Reason("wrong_project", QUARANTINE, "The submission names a different project than the one it was uploaded to.",
           "Upload it to its own project, or correct project_id if it was mistyped."),
    Reason("no_gps", QUARANTINE, "The submission has no usable GPS coordinates.",
           "Revisit and capture the location with GPS switched on."),
    Reason("outside_boundary", QUARANTINE, "The GPS point lies outside the project boundary (by more than its accuracy).",
           "Check the household or tree is in the project area; re-capture the location on site."),
    Reason("future_date", QUARANTINE, "A date or time is after the upload, or the form ends before it starts.",
           "Check the phone's date and time settings and correct the date."),
    Reason("unknown_stove", QUARANTINE, "A usage visit for a stove serial with no accepted distribution record in the project.",
           "Check the serial on the stove label; make sure its distribution record is uploaded and accepted first."),
    Reason("unknown_tree", QUARANTINE, "A survival visit for a tree with no accepted planting record in the project.",
           "Check the tag number; make sure the tree's planting record is uploaded and accepted first."),
    Reason("duplicate_stove", QUARANTINE, "This stove serial is already registered (in this or another project).",
           "Check the serial: one stove can be handed over only once. Report a genuine replacement to the supervisor."),
    Reason("duplicate_tree", QUARANTINE, "This tree tag is already registered in the project.",
           "Check the tag number; a tree is planted once. Use a new tag for a replanted tree."),
    Reason("low_gps_accuracy", WARNING, "The GPS accuracy was worse than 30 m.",
           "Next time wait for a GPS fix under 30 m before saving."),
    Reason("short_interview", WARNING, "The form was filled in less than 60 seconds.",
           "Supervisor: back-check this household; a real visit takes longer."),
    Reason("runner_too_fast", WARNING, "The runner's consecutive submissions imply travel faster than 80 km/h.",
           "Supervisor: check the runner's route and the phone's clock."),
    Reason("photo_reused", WARNING, "The same photo file appears in another submission.",
           "Take a new photo at each visit; supervisor to check both submissions."),
    Reason("repeat_visit", WARNING, "The same stove or tree was visited more than once in the monitoring period (the latest visit is used).",
           "No action needed unless the visits disagree; avoid duplicate visits."),
    Reason("outside_plot", WARNING, "The tree's GPS point lies outside its plot (by more than its accuracy).",
           "Check the plot_id and re-capture the tree's location."),
    Reason("density_above_limit", WARNING, "The plot holds more than 50 planting units per hectare (VM0047 census approach limit).",
           "Supervisor: check the plot boundary and the planting records of this plot."),
]}


def reason(code: str) -> Reason:
    return REASONS[code]
