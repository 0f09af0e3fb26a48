"""Reference data: clause 四's units, the 区镇场处 of 潜江市, deployment JSON."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from ledger.domain.codes import Department
from ledger.domain.reference import (
    DEFAULT_REFERENCE,
    InvalidReference,
    Jurisdiction,
    ReferenceData,
    StaffMismatch,
    Unit,
    UnitKind,
    UnknownJurisdiction,
    UnknownUnit,
    parse_reference,
)

REF = DEFAULT_REFERENCE

# Clause 四 of the seed, member units by department.
CLAUSE_4 = {
    Department.TAX: ["社会保险费和非税收入股", "办公室", "纳税服务股", "法制股", "第一分局"],
    Department.HRSS: [
        "办公室",
        "社会保险科",
        "工伤保险科",
        "社会保险基金结算处",
        "社会保险事业管理局",
        "机关事业单位社会保险管理局",
        "城乡居民社会养老保险事业管理局",
        "劳动就业管理局",
        "劳动仲裁部门",
        "人才服务局",
    ],
    Department.MEDICAL: ["经办机构"],
}


@pytest.mark.parametrize(
    ("department", "name"), [(dep, name) for dep, names in CLAUSE_4.items() for name in names]
)
def test_every_unit_of_clause_4_is_shipped(department: Department, name: str) -> None:
    assert any(name in u.name for u in REF.units_of(department)), name


def test_tax_dispatched_offices_are_shipped() -> None:
    stations = [u for u in REF.units if u.code.startswith("tax.station.")]
    assert stations
    assert all(u.kind is UnitKind.BRANCH and u.jurisdiction for u in stations)


def test_leading_group_office_is_the_social_insurance_fee_section() -> None:
    office = REF.unit(REF.leading_group_office)
    assert office.code == "tax.sif"
    assert office.name == "市税务局社会保险费和非税收入股"
    assert office.department is Department.TAX


def test_mediation_venue_is_the_dispute_mediation_centre_of_the_tax_hall() -> None:
    assert REF.mediation_venue == "tax.hall"
    hall = REF.unit("tax.hall")
    assert "市民之家办税服务厅" in hall.name
    assert "争议调解中心" in hall.name
    assert REF.is_window_or_centre(hall)


def test_hotline_and_convenience_centres_are_government_units() -> None:
    assert REF.department_of("gov.12345") is Department.GOV
    centre = REF.unit("gov.centre.yuanlin")
    assert centre.kind is UnitKind.CENTRE
    assert centre.jurisdiction == "qj.yuanlin"
    assert REF.is_window_or_centre("gov.centre.yuanlin")
    assert not REF.is_window_or_centre("tax.sif")


def test_jurisdictions_are_the_qu_zhen_chang_chu_of_qianjiang() -> None:
    names = {j.name for j in REF.jurisdictions}
    streets = {"园林街道", "杨市街道", "周矶街道", "广华街道", "泰丰街道", "高场街道"}
    towns = {"竹根滩镇", "渔洋镇", "王场镇", "高石碑镇", "熊口镇"}
    towns |= {"老新镇", "浩口镇", "积玉口镇", "张金镇", "龙湾镇"}
    areas = {"潜江经济开发区", "周矶管理区", "后湖管理区", "熊口管理区", "总口管理区"}
    areas |= {"白鹭湖管理区", "运粮湖管理区"}
    assert streets | towns | areas <= names
    assert REF.jurisdiction("qj.yuanlin").name == "园林街道"


def test_every_street_and_town_has_a_convenience_centre() -> None:
    served = {u.jurisdiction for u in REF.units if u.kind is UnitKind.CENTRE}
    for j in REF.jurisdictions:
        if j.name.endswith(("街道", "镇")):
            assert j.code in served, j.name


def test_every_department_has_a_window_or_centre_for_general_matters() -> None:
    for department in Department:
        assert any(REF.is_window_or_centre(u) for u in REF.units_of(department)), department


def test_unknown_codes_are_refused() -> None:
    with pytest.raises(UnknownUnit, match=r"'tax\.nowhere'"):
        REF.unit("tax.nowhere")
    with pytest.raises(UnknownUnit):
        REF.department_of("tax.nowhere")
    with pytest.raises(UnknownJurisdiction, match=r"'qj\.atlantis'"):
        REF.jurisdiction("qj.atlantis")


def test_default_reference_round_trips_through_json() -> None:
    assert parse_reference(msgspec.json.encode(REF)) == REF


def _ref(**changes: object) -> bytes:
    base = msgspec.to_builtins(REF)
    base.update(changes)
    return msgspec.json.encode(base)


SIF = {
    "code": "tax.sif",
    "name": "股",
    "department": "tax",
    "kind": "section",
    "acts_for_city_tax_bureau": True,
}
STATION = {
    "code": "tax.station.yuanlin",
    "name": "园林税务分局",
    "department": "tax",
    "kind": "branch",
    "jurisdiction": "qj.yuanlin",
}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_ref(units=[SIF, SIF]), "unit code 'tax.sif' is defined twice"),
        (_ref(leading_group_office="tax.none"), "leading_group_office 'tax.none' is not a unit"),
        (_ref(mediation_venue="tax.none"), "mediation_venue 'tax.none' is not a unit"),
        (
            _ref(units=[SIF, {**SIF, "code": "gov.x", "jurisdiction": "qj.none"}]),
            "unknown jurisdiction 'qj.none'",
        ),
        (_ref(units=[{**SIF, "code": "Tax SIF"}]), "must be lower-case"),
        (_ref(units=[SIF, {**SIF, "code": "x", "name": " "}]), "'x' has an empty name"),
        (_ref(units=[{**SIF, "department": "police"}]), "Invalid enum value 'police'"),
        (_ref(units=[{**SIF, "kind": "bunker"}]), "Invalid enum value 'bunker'"),
        (_ref(units=[{**SIF, "colour": "red"}]), "unknown field `colour`"),
        (_ref(jurisdictions=[{"code": "qj.a", "name": "A"}] * 2), "'qj.a' is defined twice"),
        (
            _ref(units=[SIF, {**STATION, "acts_for_city_tax_bureau": True}]),
            "unit 'tax.station.yuanlin' serves jurisdiction 'qj.yuanlin'; a unit serving one "
            "jurisdiction \\(a township station\\) never acts for the city tax bureau",
        ),
        (
            _ref(
                units=[
                    SIF,
                    {"code": "hrss.x", "name": "科", "department": "hrss", "kind": "section"}
                    | {"acts_for_city_tax_bureau": True},
                ]
            ),
            "unit 'hrss.x' belongs to department 'hrss'; only a tax unit acts for the city tax",
        ),
        (
            _ref(units=[{**SIF, "acts_for_city_tax_bureau": False}], mediation_venue=None),
            "no unit acts for the city tax bureau",
        ),
        (_ref(units=[{**SIF, "acts_for_city_tax_bureau": "yes"}]), "Expected `bool`"),
        (b"{", "not valid JSON"),
    ],
)
def test_inconsistent_reference_data_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(InvalidReference, match=message):
        parse_reference(data)


def test_a_small_deployment_reference_loads() -> None:
    sif = Unit(
        code="tax.sif",
        name="股",
        department=Department.TAX,
        kind=UnitKind.SECTION,
        acts_for_city_tax_bureau=True,
    )
    ref = ReferenceData(
        units=(sif,),
        jurisdictions=(Jurisdiction(code="qj.yuanlin", name="园林街道"),),
        leading_group_office="tax.sif",
    )
    assert parse_reference(msgspec.json.encode(ref)) == ref
    assert ref.unit("tax.sif").department is Department.TAX


def test_a_deployment_file_says_per_unit_who_acts_for_the_city_tax_bureau() -> None:
    # The shape of LEDGER_REFERENCE_FILE: the flag is optional and false when absent.
    ref = parse_reference(
        msgspec.json.encode(
            {
                "units": [
                    SIF,
                    STATION,
                    {"code": "tax.legal", "name": "法制股", "department": "tax", "kind": "section"},
                ],
                "jurisdictions": [{"code": "qj.yuanlin", "name": "园林街道"}],
                "leading_group_office": "tax.sif",
            }
        )
    )
    assert [u.code for u in ref.city_tax_bureau_units()] == ["tax.sif"]
    assert ref.acts_for_city_tax_bureau("tax.sif")
    assert not ref.acts_for_city_tax_bureau("tax.legal")
    assert not ref.acts_for_city_tax_bureau("tax.station.yuanlin")
    assert ref.jurisdiction_of("tax.station.yuanlin") == "qj.yuanlin"
    assert ref.jurisdiction_of("tax.legal") is None


# --- authority: what a unit is, according to the reference data ------------------------------


def test_by_default_the_sif_and_legal_sections_act_for_the_city_tax_bureau() -> None:
    # 四: 市税务局社会保险费和非税收入股 and 法制股; never a township station, never another bureau.
    assert [u.code for u in REF.city_tax_bureau_units()] == ["tax.sif", "tax.legal"]
    assert REF.acts_for_city_tax_bureau("tax.sif")
    assert REF.acts_for_city_tax_bureau(REF.unit("tax.legal"))
    stations = [u for u in REF.units if u.code.startswith("tax.station.")]
    assert stations
    assert not any(REF.acts_for_city_tax_bureau(u) for u in stations)
    for code in ("tax.hall", "tax.branch1", "tax.office", "hrss.window", "gov.centre.haokou"):
        assert not REF.acts_for_city_tax_bureau(code), code
    assert not REF.acts_for_city_tax_bureau("tax.nowhere")  # an unknown unit acts for no one


def test_a_units_jurisdiction_comes_from_the_reference_data() -> None:
    assert REF.jurisdiction_of("tax.station.guanghua") == "qj.guanghua"
    assert REF.jurisdiction_of("gov.centre.yuanlin") == "qj.yuanlin"
    assert REF.jurisdiction_of("tax.hall") is None  # city-wide
    with pytest.raises(UnknownUnit, match=r"'tax\.nowhere'"):
        REF.jurisdiction_of("tax.nowhere")
    assert REF.serves("tax.station.guanghua", "qj.guanghua")
    assert not REF.serves("tax.station.guanghua", "qj.haokou")
    assert not REF.serves("tax.hall", "qj.guanghua")
    assert not REF.serves("tax.nowhere", "qj.guanghua")


def test_staff_claims_that_agree_with_their_unit_are_accepted() -> None:
    assert REF.check_staff("hrss.window", Department.HRSS, None).code == "hrss.window"
    centre = REF.check_staff("gov.centre.guanghua", Department.GOV, "qj.guanghua")
    assert centre.jurisdiction == "qj.guanghua"


@pytest.mark.parametrize(
    ("unit", "department", "jurisdiction", "message"),
    [
        (
            "hrss.window",
            Department.TAX,
            None,
            "department 'tax' disagrees with the reference data: unit 'hrss.window' "
            "\\(市民之家人社服务窗口\\) belongs to department 'hrss'",
        ),
        (
            "tax.hall",
            Department.TAX,
            "qj.guanghua",
            "jurisdiction 'qj.guanghua' disagrees with the reference data: unit 'tax.hall' .* "
            "serves the whole city",
        ),
        (
            "tax.station.haokou",
            Department.TAX,
            "qj.guanghua",
            "jurisdiction 'qj.guanghua' disagrees .* serves jurisdiction 'qj.haokou'",
        ),
        (
            "tax.station.haokou",
            Department.TAX,
            None,
            "no jurisdiction disagrees .* serves jurisdiction 'qj.haokou'",
        ),
    ],
)
def test_staff_claims_that_disagree_with_their_unit_are_named(
    unit: str, department: Department, jurisdiction: str | None, message: str
) -> None:
    with pytest.raises(StaffMismatch, match=message):
        REF.check_staff(unit, department, jurisdiction)


def test_staff_of_an_unknown_unit_are_refused() -> None:
    with pytest.raises(UnknownUnit, match=r"'tax\.nowhere'"):
        REF.check_staff("tax.nowhere", Department.TAX, None)


def test_the_readmes_example_reference_file_loads() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```json\n(.*?)```", readme, re.DOTALL)
    assert example is not None
    ref = parse_reference(example.group(1).encode())
    assert [u.code for u in ref.city_tax_bureau_units()] == ["tax.sif", "tax.legal"]
    assert ref.jurisdiction_of("tax.station.haokou") == "qj.haokou"
