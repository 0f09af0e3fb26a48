"""Reference data: the units that handle disputes and the jurisdictions (区镇场处) they belong to.

DOMAIN.md: "Units and jurisdictions are reference data with codes of the deployment's choosing".
:data:`DEFAULT_REFERENCE` ships the member units of the leading group named in clause 四 of the
seed (潜税发〔2024〕5号), the 便民服务中心 and service windows that complete general matters
(三(二)), and the 区镇场处 of 潜江市; a deployment loads its own with :func:`parse_reference`.

Reference data is the authority on who a member of staff acts for: a bearer token names a unit,
and its department and jurisdiction must be that unit's (:meth:`ReferenceData.check_staff`);
the rules ask the unit, not the token, whether it serves a jurisdiction and whether it acts for
the city tax bureau (R5).

Codes are stable: they appear in stored events. Once used, a code is never renamed or reused.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cached_property

import msgspec

from ledger.domain.codes import Department

__all__ = [
    "DEFAULT_REFERENCE",
    "InvalidReference",
    "Jurisdiction",
    "ReferenceData",
    "StaffMismatch",
    "Unit",
    "UnitKind",
    "UnknownJurisdiction",
    "UnknownUnit",
    "parse_reference",
]

# Lower-case ASCII, dot-separated: safe in URLs, JSON keys and log lines, and sorts sensibly.
_CODE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*", re.ASCII)


class UnitKind(StrEnum):
    OFFICE = "office"  # 办公室
    SECTION = "section"  # 股 / 科 / 处: an internal section of a bureau
    BRANCH = "branch"  # 分局 / 派出机构
    AGENCY = "agency"  # 经办机构 / 事业单位 (e.g. 社会保险事业管理局)
    WINDOW = "window"  # 办事服务窗口 / 办税服务厅
    CENTRE = "centre"  # 便民服务中心
    HOTLINE = "hotline"  # 12345 政务服务热线


class UnknownUnit(LookupError):
    """A unit code that the reference data does not define."""


class UnknownJurisdiction(LookupError):
    """A jurisdiction code that the reference data does not define."""


class InvalidReference(ValueError):
    """Reference data that contradicts itself (duplicate codes, dangling references, …)."""


class StaffMismatch(ValueError):
    """A member of staff said to belong to a unit whose reference data says otherwise."""


class Unit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A unit of the deployment.

    ``jurisdiction``: the one 区镇场处 the unit serves (centres, township stations); ``None`` for
    a unit of the city as a whole. ``acts_for_city_tax_bureau``: the unit serves demand notices,
    confirms arrears and refers cases to the court for the city tax bureau (市税务局, R5): a
    city-wide tax unit, never a township station.
    """

    code: str
    name: str
    department: Department
    kind: UnitKind
    jurisdiction: str | None = None
    acts_for_city_tax_bureau: bool = False


class Jurisdiction(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: str
    name: str


class ReferenceData(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, dict=True
):
    """Units and jurisdictions, checked for consistency on construction.

    ``leading_group_office``: the unit doing the day-to-day work of the leading group's office
    (四: 市税务局社会保险费和非税收入股); it approves extensions (R9) and may act on major
    cases (R4).
    ``mediation_venue``: where mediation takes place (四: 市民之家办税服务厅争议调解中心).
    At least one unit acts for the city tax bureau (R5 would otherwise be out of everyone's reach).
    """

    units: tuple[Unit, ...]
    jurisdictions: tuple[Jurisdiction, ...]
    leading_group_office: str
    mediation_venue: str | None = None

    def __post_init__(self) -> None:
        for what, codes in (
            ("unit", [u.code for u in self.units]),
            ("jurisdiction", [j.code for j in self.jurisdictions]),
        ):
            seen: set[str] = set()
            for code in codes:
                if not _CODE.fullmatch(code):
                    raise InvalidReference(
                        f"reference: {what} code {code!r} must be lower-case a-z, 0-9, _ and dots"
                    )
                if code in seen:
                    raise InvalidReference(f"reference: {what} code {code!r} is defined twice")
                seen.add(code)
        for code, name in [(u.code, u.name) for u in self.units] + [
            (j.code, j.name) for j in self.jurisdictions
        ]:
            if not name.strip():
                raise InvalidReference(f"reference: {code!r} has an empty name")
        places = {j.code for j in self.jurisdictions}
        for u in self.units:
            if u.jurisdiction is not None and u.jurisdiction not in places:
                raise InvalidReference(
                    f"reference: unit {u.code!r} names unknown jurisdiction {u.jurisdiction!r}"
                )
        for u in self.units:
            if not u.acts_for_city_tax_bureau:
                continue
            if u.department is not Department.TAX:
                raise InvalidReference(
                    f"reference: unit {u.code!r} belongs to department {u.department.value!r}; "
                    "only a tax unit acts for the city tax bureau (acts_for_city_tax_bureau)"
                )
            if u.jurisdiction is not None:
                raise InvalidReference(
                    f"reference: unit {u.code!r} serves jurisdiction {u.jurisdiction!r}; a unit "
                    "serving one jurisdiction (a township station) never acts for the city tax "
                    "bureau (acts_for_city_tax_bureau)"
                )
        if not any(u.acts_for_city_tax_bureau for u in self.units):
            raise InvalidReference(
                "reference: no unit acts for the city tax bureau; mark the units that serve "
                "demand notices and refer cases to the court (R5) acts_for_city_tax_bureau"
            )
        units = {u.code for u in self.units}
        if self.leading_group_office not in units:
            raise InvalidReference(
                f"reference: leading_group_office {self.leading_group_office!r} is not a unit"
            )
        if self.mediation_venue is not None and self.mediation_venue not in units:
            raise InvalidReference(
                f"reference: mediation_venue {self.mediation_venue!r} is not a unit"
            )

    @cached_property
    def _units(self) -> dict[str, Unit]:
        return {u.code: u for u in self.units}

    @cached_property
    def _jurisdictions(self) -> dict[str, Jurisdiction]:
        return {j.code: j for j in self.jurisdictions}

    def unit(self, code: str) -> Unit:
        """The unit with ``code``; :class:`UnknownUnit` if there is none."""
        try:
            return self._units[code]
        except KeyError:
            raise UnknownUnit(f"unknown unit {code!r}") from None

    def jurisdiction(self, code: str) -> Jurisdiction:
        """The jurisdiction with ``code``; :class:`UnknownJurisdiction` if there is none."""
        try:
            return self._jurisdictions[code]
        except KeyError:
            raise UnknownJurisdiction(f"unknown jurisdiction {code!r}") from None

    def is_window_or_centre(self, unit: str | Unit) -> bool:
        """FR3: a general matter is completed by a service window or a 便民服务中心 (三(二))."""
        return self._resolve(unit).kind in (UnitKind.WINDOW, UnitKind.CENTRE)

    def department_of(self, unit: str | Unit) -> Department:
        return self._resolve(unit).department

    def jurisdiction_of(self, unit: str | Unit) -> str | None:
        """The jurisdiction ``unit`` serves, ``None`` for a city-wide unit; :class:`UnknownUnit`
        if there is no such unit."""
        return self._resolve(unit).jurisdiction

    def serves(self, unit: str | Unit, jurisdiction: str) -> bool:
        """Whether ``unit`` is a unit of ``jurisdiction`` (may accept a case transferred there).
        An unknown unit serves nowhere."""
        try:
            return self._resolve(unit).jurisdiction == jurisdiction
        except UnknownUnit:
            return False

    def acts_for_city_tax_bureau(self, unit: str | Unit) -> bool:
        """R5: whether ``unit`` acts for the city tax bureau (demand notices, arrears, court
        referrals). An unknown unit acts for no one."""
        try:
            return self._resolve(unit).acts_for_city_tax_bureau
        except UnknownUnit:
            return False

    def city_tax_bureau_units(self) -> tuple[Unit, ...]:
        """The units acting for the city tax bureau (R5), in reference order."""
        return tuple(u for u in self.units if u.acts_for_city_tax_bureau)

    def check_staff(self, unit: str, department: Department, jurisdiction: str | None) -> Unit:
        """The unit a member of staff claims to belong to, if the claims agree with it.

        :class:`UnknownUnit` when there is no such unit; :class:`StaffMismatch` naming the
        disagreement when ``department`` is not the unit's, or ``jurisdiction`` (``None``: none)
        is not the one it serves.
        """
        found = self.unit(unit)
        if department is not found.department:
            raise StaffMismatch(
                f"department {department.value!r} disagrees with the reference data: unit "
                f"{unit!r} ({found.name}) belongs to department {found.department.value!r}"
            )
        if jurisdiction != found.jurisdiction:
            if found.jurisdiction is None:
                raise StaffMismatch(
                    f"jurisdiction {jurisdiction!r} disagrees with the reference data: unit "
                    f"{unit!r} ({found.name}) serves the whole city, no single jurisdiction"
                )
            claimed = (
                "no jurisdiction" if jurisdiction is None else f"jurisdiction {jurisdiction!r}"
            )
            raise StaffMismatch(
                f"{claimed} disagrees with the reference data: unit {unit!r} ({found.name}) "
                f"serves jurisdiction {found.jurisdiction!r}"
            )
        return found

    def units_of(self, department: Department) -> tuple[Unit, ...]:
        return tuple(u for u in self.units if u.department == department)

    def _resolve(self, unit: str | Unit) -> Unit:
        # A Unit is looked up by its code too, so that a stale or foreign Unit object is refused.
        return self.unit(unit if isinstance(unit, str) else unit.code)


def parse_reference(data: bytes) -> ReferenceData:
    """Read a deployment's reference data from JSON (the shape of ``msgspec.json.encode`` of a
    :class:`ReferenceData`); inconsistencies raise :class:`InvalidReference`."""
    try:
        return msgspec.json.decode(data, type=ReferenceData)
    except msgspec.ValidationError as exc:
        message = str(exc)
        raise InvalidReference(
            message if message.startswith("reference") else f"reference: {message}"
        ) from None
    except msgspec.DecodeError as exc:
        raise InvalidReference(f"reference: not valid JSON ({exc})") from None


# --- the default: 潜江市 -----------------------------------------------------------------------
# 区镇场处 of 潜江市, in the order of the national statistical division codes 429005xxx:
# 6 街道办事处, 10 镇, the economic development zone, the 管理区 (former state farms), the
# 浩口原种场 and the 江汉石油管理局 (江汉油田) area.
_JURISDICTIONS = (
    ("qj.yuanlin", "园林街道"),
    ("qj.yangshi", "杨市街道"),
    ("qj.zhouji", "周矶街道"),
    ("qj.guanghua", "广华街道"),
    ("qj.taifeng", "泰丰街道"),
    ("qj.gaochang", "高场街道"),
    ("qj.zhugentan", "竹根滩镇"),
    ("qj.yuyang", "渔洋镇"),
    ("qj.wangchang", "王场镇"),
    ("qj.gaoshibei", "高石碑镇"),
    ("qj.xiongkou", "熊口镇"),
    ("qj.laoxin", "老新镇"),
    ("qj.haokou", "浩口镇"),
    ("qj.jiyukou", "积玉口镇"),
    ("qj.zhangjin", "张金镇"),
    ("qj.longwan", "龙湾镇"),
    ("qj.development_zone", "潜江经济开发区"),
    ("qj.zhouji_ma", "周矶管理区"),
    ("qj.houhu_ma", "后湖管理区"),
    ("qj.xiongkou_ma", "熊口管理区"),
    ("qj.zongkou_ma", "总口管理区"),
    ("qj.bailuhu_ma", "白鹭湖管理区"),
    ("qj.yunlianghu_ma", "运粮湖管理区"),
    ("qj.haokou_seed_farm", "浩口原种场"),
    ("qj.jianghan_oilfield", "江汉石油管理局"),
)
# 街道 and 镇 each run a 便民服务中心 (三(二): general matters are completed there).
_CENTRE_JURISDICTIONS = [code for code, name in _JURISDICTIONS if name.endswith(("街道", "镇"))]

_T, _H, _M, _G = Department.TAX, Department.HRSS, Department.MEDICAL, Department.GOV
_K = UnitKind
_UNITS: list[tuple[str, str, Department, UnitKind, str | None]] = [
    # 四: 市税务局社会保险费和非税收入股、办公室、纳税服务股、法制股、第一分局及各派出机构
    ("tax.sif", "市税务局社会保险费和非税收入股", _T, _K.SECTION, None),
    ("tax.office", "市税务局办公室", _T, _K.OFFICE, None),
    ("tax.service", "市税务局纳税服务股", _T, _K.SECTION, None),
    ("tax.legal", "市税务局法制股", _T, _K.SECTION, None),
    ("tax.branch1", "市税务局第一分局", _T, _K.BRANCH, None),
    # The seed does not name the 派出机构; these four stand for them, one per area served, and a
    # deployment's reference file should list its actual establishment instead.
    ("tax.station.guanghua", "市税务局广华税务分局", _T, _K.BRANCH, "qj.guanghua"),
    (
        "tax.station.development_zone",
        "市税务局经济开发区税务分局",
        _T,
        _K.BRANCH,
        "qj.development_zone",
    ),
    ("tax.station.xiongkou", "市税务局熊口税务分局", _T, _K.BRANCH, "qj.xiongkou"),
    ("tax.station.haokou", "市税务局浩口税务分局", _T, _K.BRANCH, "qj.haokou"),
    # 四: 调解场所设在市民之家办税服务厅争议调解中心
    ("tax.hall", "市民之家办税服务厅（争议调解中心）", _T, _K.WINDOW, None),
    # 四: 市人社局办公室、社会保险科、工伤保险科、社会保险基金结算处、
    # 社会保险事业管理局、机关事业单位社会保险管理局、城乡居民社会养老保险事业管理局、
    # 劳动就业管理局、劳动仲裁部门及人才服务局
    ("hrss.office", "市人社局办公室", _H, _K.OFFICE, None),
    ("hrss.social_insurance", "市人社局社会保险科", _H, _K.SECTION, None),
    ("hrss.injury", "市人社局工伤保险科", _H, _K.SECTION, None),
    ("hrss.fund_settlement", "市人社局社会保险基金结算处", _H, _K.SECTION, None),
    ("hrss.si_agency", "市社会保险事业管理局", _H, _K.AGENCY, None),
    ("hrss.public_si", "市机关事业单位社会保险管理局", _H, _K.AGENCY, None),
    ("hrss.rural_pension", "市城乡居民社会养老保险事业管理局", _H, _K.AGENCY, None),
    ("hrss.employment", "市劳动就业管理局", _H, _K.AGENCY, None),
    ("hrss.arbitration", "市人社局劳动仲裁部门", _H, _K.AGENCY, None),
    ("hrss.talent", "市人才服务局", _H, _K.AGENCY, None),
    # 四: 市医疗保障局经办机构; the office is the bureau's general entry point.
    ("medical.agency", "市医疗保障局经办机构", _M, _K.AGENCY, None),
    ("medical.office", "市医疗保障局办公室", _M, _K.OFFICE, None),
    # 三(二) "受理部门服务窗口": each bureau's window at the 市民之家 (not named in 四).
    ("hrss.window", "市民之家人社服务窗口", _H, _K.WINDOW, None),
    ("medical.window", "市民之家医保服务窗口", _M, _K.WINDOW, None),
    # 二(二)1: the 12345 hotline receives disputes online and passes them on.
    ("gov.12345", "市12345政务服务热线工作机构", _G, _K.HOTLINE, None),
]
_NAMES = dict(_JURISDICTIONS)
_UNITS += [
    (f"gov.centre.{code.removeprefix('qj.')}", f"{_NAMES[code]}便民服务中心", _G, _K.CENTRE, code)
    for code in _CENTRE_JURISDICTIONS
]

# 四: the 社会保险费和非税收入股 does the leading group's daily work and the 法制股 the legal
# side of collection: they act for the 市税务局 in R5 (催告书, arrears, 申请人民法院强制执行).
_CITY_TAX_BUREAU = frozenset({"tax.sif", "tax.legal"})

DEFAULT_REFERENCE = ReferenceData(
    units=tuple(
        Unit(
            code=c,
            name=n,
            department=d,
            kind=k,
            jurisdiction=j,
            acts_for_city_tax_bureau=c in _CITY_TAX_BUREAU,
        )
        for c, n, d, k, j in _UNITS
    ),
    jurisdictions=tuple(Jurisdiction(code=c, name=n) for c, n in _JURISDICTIONS),
    leading_group_office="tax.sif",
    mediation_venue="tax.hall",
)
