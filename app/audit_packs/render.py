"""The audit pack as a printable document: print-ready HTML with an SVG timeline of the case.

HTML rather than PDF: it needs no rendering engine on the server, any browser prints it to paper or to
PDF (A4, with repeated table headers), a screen reader reads it, and the timeline stays a vector
drawing. The template escapes every value; the SVG is built with ElementTree, which escapes too.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from app.audit_packs.schemas import AuditPack, PackDeadline, PackReport
from app.context import UK, uk_today

WIDTH = 1000
LABEL_WIDTH = 190
ROW = 18
LANE_GAP = 14
AXIS_HEIGHT = 34
#: Deadlines that are not a duty to act on (the date records may go) are named under the drawing.
_NOT_DRAWN = frozenset({"record_retention"})
#: An open deadline further than this past the case's last event is drawn as an arrow at the edge.
_LOOK_AHEAD = timedelta(days=180)
_STATE_COLOURS = {
    "awaiting_licence": "#c7d2e0",
    "draft": "#d9e2ec",
    "cos_requested": "#a9c6ea",
    "cos_granted": "#8fb5e6",
    "cos_assigned": "#6f9fdc",
    "visa_applied": "#9b8fd6",
    "visa_granted": "#7f6fcf",
    "rtw_verified": "#5fb3a8",
    "employed": "#5aa469",
    "sponsorship_ended": "#b6b6b6",
    "closed": "#8c8c8c",
    "withdrawn": "#e3a869",
    "refused": "#d9786a",
    "expired": "#d99a6a",
}
_OUTCOME = {"met": "#2e7d32", "breached": "#c62828", "cancelled": "#8c8c8c", "pending": "#1f5fa8", "warned": "#e08e0b"}


def _humane(name: str) -> str:
    return name.replace("_", " ")


def _at(day: date) -> datetime:
    """A date drawn at midday UK time."""
    return datetime.combine(day, time(12), tzinfo=UK).astimezone(UTC)


@dataclass
class _Axis:
    start: datetime
    end: datetime

    def x(self, when: datetime) -> float:
        span = (self.end - self.start).total_seconds() or 1.0
        share = (when - self.start).total_seconds() / span
        return LABEL_WIDTH + min(max(share, 0.0), 1.0) * (WIDTH - LABEL_WIDTH - 10)

    def beyond(self, when: datetime) -> bool:
        return when > self.end

    def ticks(self) -> list[tuple[datetime, str]]:
        months = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month
        step = 1 if months <= 18 else 3 if months <= 60 else 12
        day = date(self.start.year, self.start.month, 1)
        found = []
        while _at(day) <= self.end:
            if _at(day) >= self.start and (day.month - 1) % step == 0:
                found.append((_at(day), day.strftime("%b %Y")))
            year, month = divmod(day.month, 12)
            day = date(day.year + year, month + 1, 1)
        return found


def _axis(pack: AuditPack) -> _Axis:
    times = [e.occurred_at for e in pack.events]
    start = min(times) if times else pack.generated_at
    last = max(times) if times else pack.generated_at
    ends = [last]
    ends += [d.settled_at for d in pack.deadlines if d.settled_at and d.kind not in _NOT_DRAWN]
    ends += [d.due_at for d in pack.deadlines if d.kind not in _NOT_DRAWN and d.due_at <= last + _LOOK_AHEAD]
    ends += [_at(r.due_on) for r in pack.reports if _at(r.due_on) <= last + _LOOK_AHEAD]
    end = max(ends)
    pad = max((end - start) * 0.03, timedelta(days=2))
    return _Axis(start - pad, end + pad)


class _Drawing:
    def __init__(self, axis: _Axis) -> None:
        self.axis = axis
        self.root = ET.Element("svg", xmlns="http://www.w3.org/2000/svg", role="img")
        self.body = ET.SubElement(self.root, "g")
        self.y = AXIS_HEIGHT

    def add(self, tag: str, title: str | None = None, text: str | None = None, **attrs: Any) -> ET.Element:
        element = ET.SubElement(self.body, tag, {k.rstrip("_").replace("_", "-"): str(v) for k, v in attrs.items()})
        if title:
            ET.SubElement(element, "title").text = title
        if text is not None:
            element.text = text
        return element

    def lane(self, name: str) -> None:
        self.y += LANE_GAP
        self.add("text", x=6, y=self.y + 4, text=name, class_="lane")
        self.add("line", x1=0, x2=WIDTH, y1=self.y + 8, y2=self.y + 8, class_="rule")
        self.y += ROW - 4

    def label(self, text: str) -> None:
        self.add("text", x=14, y=self.y + 13, text=text, class_="label")

    def marker(self, when: datetime, shape: str, colour: str, title: str, *, hollow: bool = False) -> None:
        x, y = self.axis.x(when), self.y + ROW / 2
        if self.axis.beyond(when):
            self.add("path", title, d=f"M{x - 6},{y - 5} L{x},{y} L{x - 6},{y + 5} Z", fill=colour)
            self.add("text", x=x - 10, y=y + 4, text=f"due {when.date().isoformat()}", class_="edge")
        else:
            self.shape(x, shape, colour, title, hollow=hollow)

    def shape(self, x: float, shape: str, colour: str, title: str, *, hollow: bool = False) -> None:
        y, fill = self.y + ROW / 2, "white" if hollow else colour
        if shape == "circle":
            self.add("circle", title, cx=f"{x:.1f}", cy=y, r=5, fill=fill, stroke=colour, stroke_width=2)
        elif shape == "cross":
            self.add(
                "path",
                title,
                d=f"M{x - 5},{y - 5} L{x + 5},{y + 5} M{x - 5},{y + 5} L{x + 5},{y - 5}",
                stroke=colour,
                stroke_width=3,
            )
        elif shape == "diamond":
            self.add(
                "path", title, d=f"M{x},{y - 6} L{x + 6},{y} L{x},{y + 6} L{x - 6},{y} Z", fill=fill, stroke=colour
            )
        elif shape == "triangle":
            self.add("path", title, d=f"M{x},{y - 6} L{x + 6},{y + 5} L{x - 6},{y + 5} Z", fill=fill, stroke=colour)
        else:
            self.add("rect", title, x=f"{x - 5:.1f}", y=y - 5, width=10, height=10, fill=fill, stroke=colour)

    def span(self, start: datetime, end: datetime, colour: str, title: str, *, height: float = 6) -> None:
        x1, x2 = self.axis.x(start), self.axis.x(end)
        self.add(
            "rect",
            title,
            x=f"{x1:.1f}",
            y=f"{self.y + (ROW - height) / 2:.1f}",
            width=f"{max(x2 - x1, 1.5):.1f}",
            height=height,
            fill=colour,
            rx=2,
        )

    def next_row(self) -> None:
        self.y += ROW


def _states(pack: AuditPack, drawing: _Drawing) -> None:
    changes = [(e.occurred_at, e.to_state) for e in pack.events if e.subject_type == "hire" and e.to_state]
    changes = [c for i, c in enumerate(changes) if i == 0 or c[1] != changes[i - 1][1]]
    drawing.lane("Case state")
    drawing.label("state")
    for i, (when, state) in enumerate(changes):
        until = changes[i + 1][0] if i + 1 < len(changes) else drawing.axis.end
        assert state is not None
        drawing.span(
            when, until, _STATE_COLOURS.get(state, "#cccccc"), f"{_humane(state)} from {when:%Y-%m-%d}", height=14
        )
        x1, x2 = drawing.axis.x(when), drawing.axis.x(until)
        if x2 - x1 > 7 * len(state):
            drawing.add("text", x=f"{x1 + 3:.1f}", y=drawing.y + 13, text=_humane(state), class_="inband")
    drawing.next_row()


def _deadline(drawing: _Drawing, d: PackDeadline) -> None:
    drawing.label(_humane(d.kind))
    end = d.settled_at or d.due_at
    drawing.span(d.armed_at, min(end, drawing.axis.end), "#d6dde6", f"armed {d.armed_at:%Y-%m-%d}: {d.basis}", height=4)
    title = f"{_humane(d.kind)}: due {d.due_at:%Y-%m-%d}, {d.status}"
    colour = _OUTCOME.get(d.status, "#555555")
    if d.status == "met" and d.settled_at:
        drawing.marker(d.settled_at, "circle", colour, title + f" on {d.settled_at:%Y-%m-%d}")
    elif d.status == "breached":
        drawing.marker(d.due_at, "cross", colour, title)
    elif d.status == "cancelled" and d.settled_at:
        drawing.marker(d.settled_at, "square", colour, title + f" on {d.settled_at:%Y-%m-%d}")
    else:
        drawing.marker(d.due_at, "circle", colour, title, hollow=True)
    drawing.next_row()


def _report(drawing: _Drawing, r: PackReport) -> None:
    drawing.label(_humane(r.kind))
    drawing.span(
        _at(r.trigger_date), _at(r.due_on), "#f1dcc0", f"{_humane(r.kind)}: report due by {r.due_on}", height=6
    )
    if r.status == "reported" and r.reported_on:
        late = " (late)" if r.late else ""
        colour = _OUTCOME["breached"] if r.late else _OUTCOME["met"]
        drawing.marker(_at(r.reported_on), "circle", colour, f"reported {r.reported_on}{late}: {r.sms_reference}")
    elif r.status == "waived" and r.settled_at:
        drawing.marker(r.settled_at, "diamond", _OUTCOME["cancelled"], f"waived {r.settled_at:%Y-%m-%d}")
    else:
        colour = _OUTCOME["breached"] if r.status == "overdue" else _OUTCOME["pending"]
        drawing.marker(_at(r.due_on), "circle", colour, f"{r.status}: due {r.due_on}", hollow=True)
    drawing.next_row()


def _milestones(pack: AuditPack, drawing: _Drawing) -> None:
    drawing.lane("Checks, absences and changes")
    drawing.label("right-to-work checks")
    for check in pack.rtw_checks:
        when = _at(check.check_date) if check.check_date else check.recorded_at
        drawing.marker(when, "triangle", "#1f5fa8", f"{_humane(check.kind)} check ({check.method}) on {when:%Y-%m-%d}")
    drawing.next_row()
    drawing.label("absences")
    for absence in pack.absences:
        start = _at(absence.start_date) if absence.start_date else absence.recorded_at
        end = _at(absence.end_date) if absence.end_date else start + timedelta(days=1)
        drawing.span(start, end, "#e08e0b", f"{_humane(absence.kind)} from {start:%Y-%m-%d}", height=10)
    drawing.next_row()
    drawing.label("salary, job, location")
    for change in [*pack.salary_history, *pack.job_history, *pack.location_history]:
        if change.action in ("created", "corrected"):
            continue
        when = _at(change.effective_date) if change.effective_date else change.recorded_at
        summary = ", ".join(f"{k} {v}" for k, v in change.values.items())
        drawing.marker(when, "diamond", "#7b3fa0", f"{_humane(change.action)} {when:%Y-%m-%d}: {summary}")
    drawing.next_row()


def _legend(drawing: _Drawing) -> None:
    drawing.y += LANE_GAP
    x = 20.0
    for shape, colour, hollow, text in (
        ("circle", _OUTCOME["met"], False, "met / reported on time"),
        ("cross", _OUTCOME["breached"], False, "breached"),
        ("circle", _OUTCOME["breached"], False, "reported late"),
        ("square", _OUTCOME["cancelled"], False, "cancelled"),
        ("circle", _OUTCOME["pending"], True, "open"),
        ("triangle", "#1f5fa8", False, "right-to-work check"),
        ("diamond", "#7b3fa0", False, "change"),
    ):
        drawing.shape(x, shape, colour, text, hollow=hollow)
        drawing.add("text", x=x + 10, y=drawing.y + 13, text=text, class_="label")
        x += 22 + 6.2 * len(text)
    drawing.next_row()


def timeline_svg(pack: AuditPack) -> str:
    """The case drawn along time: its states, each deadline and SMS report with its outcome, and the
    right-to-work checks, absences and changes."""
    axis = _axis(pack)
    drawing = _Drawing(axis)
    _states(pack, drawing)
    drawn = [d for d in pack.deadlines if d.kind not in _NOT_DRAWN and d.subject_type == "hire"]
    if drawn:
        drawing.lane("Deadlines")
        for d in drawn:
            _deadline(drawing, d)
    if pack.reports:
        drawing.lane("SMS reports")
        for r in pack.reports:
            _report(drawing, r)
    _milestones(pack, drawing)
    bottom = drawing.y
    _legend(drawing)
    height = drawing.y + 8
    grid = ET.Element("g")  # drawn first, under the lanes
    for when, text in axis.ticks():
        x = f"{axis.x(when):.1f}"
        ET.SubElement(grid, "line", {"x1": x, "x2": x, "y1": str(AXIS_HEIGHT - 6), "y2": str(bottom), "class": "tick"})
        ET.SubElement(grid, "text", {"x": x, "y": str(AXIS_HEIGHT - 10), "class": "axis"}).text = text
    drawing.root.insert(0, grid)
    drawing.root.set("viewBox", f"0 0 {WIDTH} {height:.0f}")
    drawing.root.set("aria-label", f"Timeline of case {pack.hire_id}")
    ET.SubElement(drawing.root, "style").text = _SVG_STYLE
    return ET.tostring(drawing.root, encoding="unicode")


_SVG_STYLE = """
text { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 11px; fill: #222; }
text.lane { font-weight: bold; font-size: 12px; }
text.axis { font-size: 10px; text-anchor: middle; fill: #555; }
text.inband { font-size: 10px; fill: #102030; }
text.edge { font-size: 9px; text-anchor: end; fill: #555; }
line.rule { stroke: #ccc; stroke-width: 1; }
line.tick { stroke: #e6e6e6; stroke-width: 1; }
"""


@cache
def _environment() -> Environment:
    env = Environment(loader=PackageLoader("app.audit_packs", "templates"), autoescape=select_autoescape(["html"]))
    env.filters["humane"] = _humane
    env.filters["when"] = lambda v: v.strftime("%Y-%m-%d %H:%M UTC") if isinstance(v, datetime) else (v or "")
    env.filters["ukdate"] = lambda v: uk_today(v).isoformat() if isinstance(v, datetime) else (v or "")
    env.filters["compact"] = lambda d: "; ".join(f"{k}: {v}" for k, v in d.items()) if isinstance(d, dict) else d
    return env


def render_html(pack: AuditPack) -> str:
    return _environment().get_template("audit_pack.html").render(pack=pack, timeline=timeline_svg(pack))
