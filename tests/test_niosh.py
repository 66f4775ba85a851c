"""Revised NIOSH lifting equation: multipliers, FM table, RWL and LI against hand arithmetic."""

from __future__ import annotations

import math

import pytest

from monitor.niosh import (
    LOAD_CONSTANT_KG,
    Coupling,
    LiftingRisk,
    LiftTask,
    NioshDefaults,
    NioshError,
    assess_lift,
    asymmetric_multiplier,
    coupling_multiplier,
    distance_multiplier,
    frequency_multiplier,
    horizontal_multiplier,
    vertical_multiplier,
)


def test_multipliers_follow_the_published_formulas_and_limits() -> None:
    assert horizontal_multiplier(20.0) == 1.0
    assert horizontal_multiplier(25.0) == 1.0
    assert horizontal_multiplier(50.0) == pytest.approx(0.5)
    assert horizontal_multiplier(63.0) == pytest.approx(25.0 / 63.0)
    assert horizontal_multiplier(64.0) == 0.0
    assert vertical_multiplier(75.0) == 1.0
    assert vertical_multiplier(0.0) == pytest.approx(0.775)
    assert vertical_multiplier(175.0) == pytest.approx(0.7)
    assert vertical_multiplier(176.0) == 0.0
    assert distance_multiplier(10.0) == 1.0
    assert distance_multiplier(45.0) == pytest.approx(0.82 + 0.1)
    assert distance_multiplier(176.0) == 0.0
    assert asymmetric_multiplier(0.0) == 1.0
    assert asymmetric_multiplier(90.0) == pytest.approx(1.0 - 0.288)
    assert asymmetric_multiplier(136.0) == 0.0
    assert coupling_multiplier(Coupling.GOOD, 30.0) == 1.0
    assert coupling_multiplier(Coupling.FAIR, 30.0) == 0.95
    assert coupling_multiplier(Coupling.FAIR, 80.0) == 1.0
    assert coupling_multiplier(Coupling.POOR, 80.0) == 0.90


@pytest.mark.parametrize(
    ("per_min", "duration_h", "v_cm", "expected"),
    [
        # guidelines.md §2, "FM examples", up to 1 h
        (0.2, 1.0, 30.0, 1.00),
        (1.0, 1.0, 30.0, 0.94),
        (4.0, 1.0, 30.0, 0.84),
        (10.0, 1.0, 30.0, 0.45),
        (15.0, 1.0, 80.0, 0.28),
        (15.0, 1.0, 30.0, 0.00),  # 15/min only with V >= 75
        # 2-8 h
        (0.2, 8.0, 30.0, 0.85),
        (1.0, 8.0, 30.0, 0.75),
        (4.0, 8.0, 30.0, 0.45),
        (8.0, 8.0, 30.0, 0.18),
        (10.0, 8.0, 80.0, 0.13),
        (10.0, 8.0, 30.0, 0.00),
        # above 15/min: 0
        (16.0, 1.0, 80.0, 0.0),
        # below 0.2/min: the 0.2 row
        (0.05, 2.0, 30.0, 0.95),
    ],
)
def test_frequency_multiplier_matches_the_table(
    per_min: float, duration_h: float, v_cm: float, expected: float
) -> None:
    assert frequency_multiplier(per_min, duration_h, v_cm) == pytest.approx(expected)


def test_frequency_multiplier_interpolates_between_rows() -> None:
    # 1.5/min, <= 2 h: halfway between 0.88 (1/min) and 0.84 (2/min)
    assert frequency_multiplier(1.5, 1.5, 30.0) == pytest.approx(0.86)


def test_rwl_and_li_of_a_fully_declared_task_by_hand() -> None:
    task = LiftTask(
        load_kg=15.0,
        horizontal_cm=40.0,
        vertical_cm=30.0,
        travel_cm=45.0,
        asymmetry_deg=30.0,
        coupling=Coupling.FAIR,
        frequency_per_min=1.0,
        duration_h=8.0,
    )
    hm = 25.0 / 40.0
    vm = 1.0 - 0.003 * abs(30.0 - 75.0)
    dm = 0.82 + 4.5 / 45.0
    am = 1.0 - 0.0032 * 30.0
    fm = 0.75
    cm = 0.95
    rwl = 23.0 * hm * vm * dm * am * fm * cm
    result = assess_lift(task)
    assert result.multipliers.hm == pytest.approx(hm)
    assert result.multipliers.vm == pytest.approx(vm)
    assert result.multipliers.dm == pytest.approx(dm)
    assert result.multipliers.am == pytest.approx(am)
    assert result.multipliers.fm == pytest.approx(fm)
    assert result.multipliers.cm == pytest.approx(cm)
    assert result.rwl_kg == pytest.approx(rwl)
    assert result.rwl_kg == pytest.approx(7.37, abs=0.01)
    assert result.lifting_index == pytest.approx(15.0 / rwl)
    assert result.risk is LiftingRisk.INCREASED
    assert result.assumed == frozenset()
    assert result.measured == frozenset()


def test_ideal_lift_gets_the_load_constant() -> None:
    task = LiftTask(
        load_kg=23.0,
        horizontal_cm=25.0,
        vertical_cm=75.0,
        travel_cm=25.0,
        asymmetry_deg=0.0,
        coupling=Coupling.GOOD,
        frequency_per_min=0.2,
        duration_h=1.0,
    )
    result = assess_lift(task)
    assert result.rwl_kg == pytest.approx(LOAD_CONSTANT_KG)
    assert result.lifting_index == pytest.approx(1.0)
    assert result.risk is LiftingRisk.ACCEPTABLE


def test_undeclared_inputs_come_from_defaults_or_the_sensor_and_are_listed() -> None:
    defaults = NioshDefaults()
    result = assess_lift(LiftTask(load_kg=10.0), twist_deg=-40.0, lifts_per_min=2.0)
    assert result.assumed == {
        "horizontal_cm",
        "vertical_cm",
        "travel_cm",
        "coupling",
        "duration_h",
    }
    assert result.measured == {"asymmetry_deg", "frequency_per_min"}
    assert result.inputs.asymmetry_deg == 40.0
    assert result.inputs.frequency_per_min == 2.0
    assert result.inputs.horizontal_cm == defaults.horizontal_cm
    expected = (
        23.0
        * (25.0 / defaults.horizontal_cm)
        * (1.0 - 0.003 * abs(defaults.vertical_cm - 75.0))
        * (0.82 + 4.5 / defaults.travel_cm)
        * (1.0 - 0.0032 * 40.0)
        * 0.65  # 2/min, 8 h, V < 75
        * 0.95  # fair coupling, V < 75
    )
    assert result.rwl_kg == pytest.approx(expected)
    # declared values win over measured ones
    declared = assess_lift(LiftTask(load_kg=10.0, asymmetry_deg=0.0), twist_deg=40.0)
    assert declared.inputs.asymmetry_deg == 0.0
    assert "asymmetry_deg" not in declared.assumed | declared.measured


def test_out_of_range_task_has_infinite_index_and_bad_input_is_refused() -> None:
    result = assess_lift(LiftTask(load_kg=5.0, horizontal_cm=70.0))
    assert result.rwl_kg == 0.0
    assert math.isinf(result.lifting_index)
    assert result.risk is LiftingRisk.HIGH
    with pytest.raises(NioshError, match="load_kg"):
        assess_lift(LiftTask(load_kg=-1.0))
    with pytest.raises(NioshError, match="horizontal_cm"):
        assess_lift(LiftTask(load_kg=1.0, horizontal_cm=math.nan))
