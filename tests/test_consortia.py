"""Every bundled consortium loads, optimises to a proven optimum, and respects its rules."""

from __future__ import annotations

import pytest
from conftest import ROOT

CONSORTIA = sorted(
    p for p in (ROOT / "consortia").glob("*.toml") if not p.stem.endswith("-actuals")
)
"""The bundled consortia; `NAME-actuals.toml` beside one is what its plan delivered
(`sharedsvc track`, tested in tests/test_tracking_golden.py)."""


def connected(members, consortium) -> bool:
    reached, frontier = {members[0]}, [members[0]]
    while frontier:
        for n in consortium.member(frontier.pop()).neighbours:
            if n in members and n not in reached:
                reached.add(n)
                frontier.append(n)
    return reached == set(members)


def test_the_expected_consortia_are_bundled():
    assert {p.stem for p in CONSORTIA} >= {"south-east-london", "london", "cross-sector"}


@pytest.mark.parametrize("path", CONSORTIA, ids=[p.stem for p in CONSORTIA])
def test_bundled_consortium_optimises(engine, path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#"), "each bundled consortium says where its figures come from"
    consortium = engine.load(path)
    result = engine.optimise(consortium)
    assert result.status == "optimal"
    assert result.totals["npv"] > 0
    assert any(service.groups for service in result.services)
    contiguous = consortium.settings.get("contiguous", [])
    for service in result.services:
        if contiguous is True or service.service in contiguous:
            for group in service.groups:
                assert connected(group.members, consortium), (service.service, group.members)
        limit = consortium.settings.get("max_group_size")
        if limit:
            assert all(len(g.members) <= limit for g in service.groups)


def test_cross_sector_reports_each_kind(engine):
    result = engine.optimise(engine.load(ROOT / "consortia" / "cross-sector.toml"))
    kinds = {result.kinds[m] for m in result.members}
    assert kinds == {"council", "nhs", "police", "fire"}
    hr, payments = result.services
    assert [g.members for g in hr.groups] == [g.members for g in payments.groups]  # the bundle
