"""Response times shown in Asia/Shanghai (R8): every datetime, however deep, and nothing else."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import msgspec

from api.localtime import _time_fields, shown
from ledger.domain.context import SHANGHAI
from ledger.projections.views import CaseView

NOON_UTC = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
NOON_SHANGHAI = datetime(2026, 3, 2, 12, 0, tzinfo=SHANGHAI)


class Leaf(msgspec.Struct):
    at: datetime
    label: str = "x"


class Mixed(msgspec.Struct):
    name: str
    count: int
    day: date
    at: datetime | None
    leaf: Leaf
    leaves: list[Leaf]
    pair: tuple[int, datetime]
    many: tuple[datetime, ...]
    by_name: dict[str, datetime]
    loose: Any
    labels: list[str]


class Node(msgspec.Struct):
    at: datetime
    child: Node | None = None


def _mixed(at: datetime) -> Mixed:
    return Mixed(
        name="n",
        count=1,
        day=date(2026, 3, 2),
        at=at,
        leaf=Leaf(at),
        leaves=[Leaf(at), Leaf(at)],
        pair=(1, at),
        many=(at, at),
        by_name={"a": at},
        loose={"deep": [at]},
        labels=["a"],
    )


def test_every_datetime_is_converted_wherever_it_is():
    out = shown(_mixed(NOON_UTC))
    assert out.at == NOON_UTC
    assert out.at.utcoffset() == timedelta(hours=8)
    assert out.leaf.at.utcoffset() == timedelta(hours=8)
    assert [leaf.at.utcoffset() for leaf in out.leaves] == [timedelta(hours=8)] * 2
    assert out.pair[1].utcoffset() == timedelta(hours=8)
    assert [t.utcoffset() for t in out.many] == [timedelta(hours=8)] * 2
    assert out.by_name["a"].utcoffset() == timedelta(hours=8)
    assert out.loose["deep"][0].utcoffset() == timedelta(hours=8)
    assert msgspec.json.encode(out.leaf) == b'{"at":"2026-03-02T12:00:00+08:00","label":"x"}'


def test_only_fields_that_can_hold_a_time_are_visited():
    assert _time_fields(Mixed) == ("at", "leaf", "leaves", "pair", "many", "by_name", "loose")
    assert "payer" not in _time_fields(CaseView)
    assert {"received_at", "registered_at", "closed_at"} <= set(_time_fields(CaseView))


def test_recursive_structs_are_walked_to_the_bottom():
    out = shown(Node(NOON_UTC, Node(NOON_UTC, Node(NOON_UTC))))
    assert out.child.child.at.utcoffset() == timedelta(hours=8)


def test_values_without_an_aware_time_come_back_as_the_same_object():
    naive = datetime(2026, 3, 2, 4, 0)
    value = _mixed(naive)
    assert shown(value) is value
    already = _mixed(NOON_SHANGHAI)
    converted = shown(already)
    assert converted.at == NOON_SHANGHAI
    other_zone = datetime(2026, 3, 2, 5, 0, tzinfo=timezone(timedelta(hours=1)))
    assert shown([other_zone])[0].utcoffset() == timedelta(hours=8)


def test_a_time_with_no_shanghai_equivalent_is_shown_as_stored():
    edge = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))
    assert shown(edge) is edge
