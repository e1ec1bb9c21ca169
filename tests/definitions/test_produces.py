"""A document a bundle issues itself is obtained, never demanded from the applicant."""

from __future__ import annotations

from definitions.analysis import analyze
from definitions.guide import procedure_guide
from definitions.validate import validate_paths
from definitions.versioning import snapshot
from tests.conftest import CATALOG

FORM = {"company_name": "云州示范科技有限公司", "food_business": False}


def test_the_business_licence_of_a_startup_is_not_asked_for() -> None:
    catalog = validate_paths([CATALOG]).catalog
    proc = catalog.procedure("YZ-YJS-KBQY")
    assert proc is not None
    snap = snapshot(catalog, proc)
    assert "business_licence" not in snap.required_keys(FORM)
    guide = procedure_guide(proc, {i.code: i for i in snap.items}, {})
    assert "营业执照" not in [m.name for m in guide.materials]
    # Applied for alone, the seal filing still needs the licence the company already holds.
    alone = catalog.item("YZ-GA-QT-0001")
    assert alone is not None
    assert "business_licence" in [m.key for m in alone.materials]


def test_the_analysis_counts_what_the_applicant_hands_in() -> None:
    catalog = validate_paths([CATALOG]).catalog
    proc = catalog.procedure("YZ-YJS-XSECS")
    assert proc is not None
    figures = analyze(proc, {i.code: i for i in snapshot(catalog, proc).items})
    keys_after = figures.after.materials
    assert keys_after == 7  # 出生医学证明 and the newborn's 户口簿 page come from the bundle
