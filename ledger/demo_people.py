"""The people of the demo: staff of the three bureaus, and payers with valid identifiers."""

from __future__ import annotations

import random
import zlib
from datetime import date, timedelta
from decimal import Decimal

from ledger.domain.actor import Actor
from ledger.domain.codes import Department, PayerKind, Role
from ledger.domain.context import Context
from ledger.domain.identifiers import CREDIT_CODE_CHARSET, make_citizen_id, make_credit_code
from ledger.domain.payer import Payer
from ledger.domain.reference import UnitKind

_R = Role
# key: (staff id, name, unit, department, roles)
STAFF: dict[str, tuple[str, str, str, Department, tuple[Role, ...]]] = {
    "intake_hall": ("T1001", "王丽", "tax.hall", Department.TAX, (_R.INTAKE, _R.HANDLER)),
    "intake_branch": ("T2003", "李强", "tax.branch1", Department.TAX, (_R.INTAKE, _R.HANDLER)),
    "intake_medical": ("M1002", "陈静", "medical.window", Department.MEDICAL, (_R.INTAKE,)),
    "handler_hrss": ("H3001", "张伟", "hrss.window", Department.HRSS, (_R.HANDLER,)),
    "handler_medical": ("M2001", "刘洋", "medical.window", Department.MEDICAL, (_R.HANDLER,)),
    "office": ("T0001", "周建国", "tax.sif", Department.TAX, (_R.OFFICE, _R.HANDLER)),
    "enforcement": ("T4001", "孙磊", "tax.legal", Department.TAX, (_R.ENFORCEMENT,)),
}

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "秀英",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀兰",
    "霞",
    "平",
    "刚",
    "桂英",
    "建华",
    "文",
    "华",
    "红梅",
]
TRADES = [
    "建筑工程",
    "农业科技",
    "水产养殖",
    "机械制造",
    "商贸",
    "物流",
    "石化设备",
    "纺织",
    "食品加工",
    "物业管理",
    "餐饮管理",
    "汽车销售",
    "医药连锁",
    "环保科技",
]


class Cast:
    """Actors for the demo, plus the calendar arithmetic the demo uses to place cases."""

    def __init__(self, context: Context) -> None:
        self.context = context
        # Set by the out-of-jurisdiction path: the 便民服务中心 of the receiving jurisdiction.
        self.station_jurisdiction = "qj.guanghua"
        self._recent: dict[date, list[date]] = {}

    def actor(self, key: str) -> Actor:
        if key == "handler_station":
            code = f"gov.centre.{self.station_jurisdiction.removeprefix('qj.')}"
            centre = self.context.reference.unit(code)
            return Actor(
                staff_id=f"G{zlib.crc32(code.encode()) % 9000 + 1000}",
                name="何志明",
                unit=centre.code,
                department=centre.department,
                roles=(Role.HANDLER,),
                jurisdiction=self.station_jurisdiction,
            )
        staff_id, name, unit, department, roles = STAFF[key]
        return Actor(staff_id=staff_id, name=name, unit=unit, department=department, roles=roles)

    def recent_working_day(self, rng: random.Random, today: date) -> date:
        """A working day 25–80 working days ago, so that every step of a path is in the past."""
        return self._working_days_before(today)[rng.randrange(25, 80) - 1]

    def _working_days_before(self, today: date) -> list[date]:
        """The 80 working days before ``today``, newest first (kept: benchmarks ask per case)."""
        days = self._recent.get(today)
        if days is None:
            calendar, day, days = self.context.calendar, today, []
            while len(days) < 80:
                day -= timedelta(days=1)
                if calendar.is_working_day(day):
                    days.append(day)
            self._recent[today] = days
        return days

    def calendar_after(self, day: date, working_days: int) -> date:
        return self.context.calendar.add_working_days(day, working_days).due


class Payers:
    def __init__(self, rng: random.Random, context: Context) -> None:
        self.rng = rng
        # Jurisdictions that have a 便民服务中心, so a transfer there can be accepted.
        centres = {
            u.jurisdiction
            for u in context.reference.units
            if u.jurisdiction and u.kind is UnitKind.CENTRE
        }
        self.jurisdictions = sorted(
            j.code for j in context.reference.jurisdictions if j.code in centres
        )

    def _name(self) -> str:
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)

    def _phone(self) -> str:
        return f"1{self.rng.choice('3578')}{self.rng.randrange(10**8, 10**9)}"

    def person(self) -> Payer:
        birth = date(1960, 1, 1) + timedelta(days=self.rng.randrange(0, 365 * 40))
        identifier = make_citizen_id(birth=birth, sequence=self.rng.randrange(1, 999))
        return Payer(
            kind=PayerKind.PERSON, name=self._name(), identifier=identifier, phone=self._phone()
        )

    def employer(self) -> Payer:
        org = "".join(self.rng.choice(CREDIT_CODE_CHARSET) for _ in range(9))
        name = (
            f"潜江市{self.rng.choice(SURNAMES)}{self.rng.choice('氏兴达盛鑫源泰')}"
            f"{self.rng.choice(TRADES)}有限公司"
        )
        return Payer(
            kind=PayerKind.EMPLOYER,
            name=name,
            identifier=make_credit_code(org=org),
            phone=self._phone(),
        )

    def amount(self, low_yuan: int, high_yuan: int) -> str:
        """An amount of yuan as a command carries it (a decimal string, e.g. "1234.50")."""
        fen = self.rng.randrange(low_yuan * 100, high_yuan * 100)
        return str(Decimal(fen).scaleb(-2))
