"""A case's events as the API hands them to a reader (``EventOut``: the stored data, payer
identifiers masked or not by the API's own rule), labelled in Chinese for the inspection and
print pages. Nothing is unmasked here: what the API masked stays masked."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec

from api.cases.event_records import EventOut
from console.labels import EVENT_LABELS, FIELD_LABELS, Labels, assignment_text, local_time
from ledger.domain.codes import (
    Category,
    Channel,
    Classification,
    DecisionOutcome,
    LinkRelation,
    PayerKind,
    Satisfaction,
)

# The fields shown, in this order; the payer only as the API gave it (masked by role).
SHOWN = (
    "payer",
    "employer",
    "category",
    "classification",
    "route",
    "to_unit",
    "to_jurisdiction",
    "approved",
    "outcome",
    "finding",
    "amount",
    "units",
    "until",
    "document_number",
    "served_at",
    "court",
    "channel",
    "content",
    "satisfaction",
    "relation",
    "other_case_id",
    "correction",
    "position",
    "summary",
    "note",
    "reason",
    "assignment",
)
LABELS = {
    **FIELD_LABELS,
    "payer": "缴费人",
    "employer": "用人单位",
    "category": "争议事项类别",
    "approved": "审批结果",
    "document_number": "文书号",
    "served_at": "送达时间",
    "other_case_id": "关联案件",
}
_ENUMS: dict[str, type[StrEnum]] = {
    "category": Category,
    "classification": Classification,
    "channel": Channel,
    "satisfaction": Satisfaction,
    "relation": LinkRelation,
    "outcome": DecisionOutcome,  # a consultation's or a court's outcome is free text
}
DECISIONS = frozenset(
    {
        "ledger.Decided",
        "ledger.Consulted",
        "ledger.ReclassificationDecided",
        "ledger.ExtensionDecided",
        "ledger.CourtOutcomeRecorded",
    }
)
FEEDBACK = frozenset({"ledger.FeedbackGiven", "ledger.FollowUpVisited", "ledger.FollowUpResolved"})


@dataclass(frozen=True)
class Entry:
    event: EventOut
    label: str
    who: str
    unit: str
    details: list[tuple[str, str]]
    proving: bool = False

    @property
    def position(self) -> int:
        return self.event.position

    @property
    def topic(self) -> str:
        return self.event.topic


def entries(events: Iterable[EventOut], labels: Labels, proving: Iterable[int] = ()) -> list[Entry]:
    marked = set(proving)
    out = []
    for event in events:
        actor = event.data.get("actor")
        actor = actor if isinstance(actor, dict) else {}
        name, staff_id = actor.get("name"), actor.get("staff_id")
        out.append(
            Entry(
                event=event,
                label=EVENT_LABELS.get(event.topic, event.topic.removeprefix("ledger.")),
                who=f"{name}（{staff_id}）" if name else "—",
                unit=labels.unit(actor.get("unit")) if actor else "—",
                details=[
                    (LABELS.get(key, key), shown)
                    for key in SHOWN
                    if (shown := _shown(key, event.data.get(key), labels))
                ],
                proving=event.position in marked,
            )
        )
    return out


def _shown(key: str, value: Any, labels: Labels) -> str:
    if value is None or value == "" or value == []:
        return ""
    if key in ("payer", "employer") and isinstance(value, dict):
        kind = value.get("kind")
        parts = [_enum(PayerKind, kind) if kind else "", value.get("name") or ""]
        parts += [value.get(k) or "" for k in ("identifier", "credit_code", "phone")]
        return " · ".join(p for p in parts if p)
    if key == "to_unit":
        return labels.unit(value)
    if key == "to_jurisdiction":
        return labels.jurisdiction(value)
    if key == "units" and isinstance(value, list):
        return "、".join(labels.unit(u) for u in value)
    if key == "assignment" and isinstance(value, dict):
        return assignment_text(
            str(value.get("body") or ""),
            str(value.get("body_name") or ""),
            str(value.get("reference") or ""),
            str(value.get("reply_due") or ""),
        )
    if key == "approved":
        return "批准" if value else "不批准"
    if key == "other_case_id":
        return str(value)
    if key in _ENUMS and isinstance(value, str):
        return _enum(_ENUMS[key], value)
    if key in ("served_at",) and isinstance(value, str):
        return _moment(value)
    if isinstance(value, dict | list):
        return msgspec.json.encode(value).decode()
    return str(value)


def _enum(kind: type[StrEnum], value: str) -> str:
    try:
        return str(getattr(kind(value), "label", value))
    except ValueError:
        return value


def _moment(text: str) -> str:
    try:
        return local_time(msgspec.convert(text, datetime))
    except msgspec.ValidationError:
        return text


def business_time(event: EventOut) -> datetime:
    """When it happened (the event's ``occurred_at``), else when it was recorded."""
    return event.occurred_at or event.recorded_at


def case_number(events: list[EventOut]) -> str | None:
    number = events[0].data.get("case_number") if events else None
    return number if isinstance(number, str) else None


def parse_positions(text: str) -> list[int]:
    """``12,15,20`` → [12, 15, 20]; anything else is left out (at most 200 positions)."""
    found = []
    for part in text.split(",")[:200]:
        part = part.strip()
        if part.isdigit() and len(part) <= 12:
            found.append(int(part))
    return sorted(set(found))
