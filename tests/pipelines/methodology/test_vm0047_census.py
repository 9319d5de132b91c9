"""VM0047 census-based approach against the worked test vectors of arr_methodology.md §7.

Literal expectations are the published 4-significant-figure numbers (rel = 5e-4), so these tests
stand on their own. Where ``shared/methodology/arr_test_vectors.py`` is present, the same chains
are compared with it in full precision (its t table is rounded to 6 decimals, so it is given the
exact scipy quantile here).
"""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipelines.errors import UserError
from pipelines.methodology import vm0047_census as vm
from pipelines.methodology.steps import StepLog

VECTORS = Path(__file__).parents[3] / ".." / "shared" / "methodology" / "arr_test_vectors.py"

FULL = 1e-6       # relative tolerance against the full-precision reference
PUBLISHED = 5e-4  # relative tolerance against 4 significant figures

CF, R, D_MIN, BUFFER, ALLOWANCE = 0.47, 0.25, 5.0, 0.15, 0.10
WD = {"MELDUB": 0.389, "TECGRA": 0.568, "AZAIND": 0.655}
NAMES = {"MELDUB": "Melia dubia", "TECGRA": "Tectona grandis", "AZAIND": "Azadirachta indica"}

# TV2 field data (arr_test_vectors.py): (D cm, H m) of the ten sampled trees per species.
MELIA = {2: [(7.2, 6.8), (8.1, 7.4), (6.5, 6.1), (9.0, 8.0), (7.8, 7.2), (5.9, 5.6), (8.6, 7.9),
             (7.0, 6.6), (6.8, 6.3), (8.3, 7.6)],
         3: [(10.4, 9.0), (11.6, 9.8), (9.3, 8.2), (12.8, 10.6), (11.1, 9.5), (8.4, 7.6),
             (12.2, 10.4), (10.1, 8.8), (9.7, 8.5), (11.9, 10.1)]}
TEAK = {2: [(4.2, 3.6), (5.6, 4.4), (6.1, 4.9), (4.8, 3.9), (5.2, 4.2), (6.8, 5.3), (3.9, 3.2),
            (5.9, 4.7), (5.4, 4.3), (6.3, 5.0)],
        3: [(6.0, 4.9), (7.5, 5.8), (8.0, 6.3), (6.6, 5.2), (7.0, 5.5), (8.9, 6.8), (4.9, 4.1),
            (7.8, 6.1), (7.2, 5.6), (8.3, 6.5)]}
DEAD = {2: {"MELDUB": 12, "TECGRA": 10}, 3: {"MELDUB": 21, "TECGRA": 14}}
NEEM = [(5.2, 3.8), (9.8, 6.5), (6.1, 4.2), (14.5, 8.1), (5.6, 4.0), (11.0, 7.0)]
NEEM_Y1 = [(5.3, 3.9), (4.0, 3.1), (3.5, 2.8), (4.6, 3.5)]
UREA_T = {2: 0.050, 3: 0.025}


@pytest.fixture(scope="module")
def atv():
    if not VECTORS.is_file():
        pytest.skip(f"reference script {VECTORS} not available")
    spec = importlib.util.spec_from_file_location("arr_test_vectors", VECTORS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.t90 = lambda df: float(stats.t.ppf(0.95, df))
    return module


def trees(species, data, prefix="X"):
    d = np.array([t[0] for t in data], dtype=float)
    h = np.array([np.nan if t[1] is None else t[1] for t in data], dtype=float)
    agb = vm.agb_chave2014_t(WD[species], d, h, D_MIN)
    return pd.DataFrame({"species_code": species, "id": [f"{prefix}{i + 1:02d}" for i in range(len(d))],
                         "agb_t": agb, "root_shoot": R, "carbon_t": vm.tree_carbon_t(agb, R, CF)})


def strata_of(counts):
    return pd.DataFrame({"species_code": list(counts), "n_planted": [c[0] for c in counts.values()],
                         "n_dead": [c[1] for c in counts.values()]})


def tv2_inputs(year, melia=None):
    sample = pd.concat([trees("MELDUB", melia or MELIA[year], "M"), trees("TECGRA", TEAK[year], "T")],
                       ignore_index=True)
    strata = strata_of({"MELDUB": (300, DEAD[year]["MELDUB"]), "TECGRA": (200, DEAD[year]["TECGRA"])})
    return sample, strata


def tv2_event(year, credited_prev, melia=None):
    sample, strata = tv2_inputs(year, melia)
    table = vm.stratum_statistics(sample, strata)
    est = vm.stock_and_uncertainty(table, ALLOWANCE)
    pe = vm.fertilizer_emissions_tco2e(UREA_T[year])
    cred = vm.removals(est.delta_c_tco2e, est.unc, est.eligible, credited_prev, BUFFER, pe)
    return table, est, pe, cred


def tv4_estimate(data):
    table = vm.stratum_statistics(trees("AZAIND", data, "N"), strata_of({"AZAIND": (150, 30)}))
    return table, vm.stock_and_uncertainty(table, ALLOWANCE, mortality_sample=(30, 6))


def approx(value, rel=PUBLISHED):
    return pytest.approx(value, rel=rel)


# ------------------------------------------------------------------------------------------
# Per-tree maths (TV1)

def test_tv1_per_tree_chain_matches_published_values():
    d = np.array([8.0, 5.5, vm.dbh_from_gbh_cm(20.0), 4.6])
    h = np.array([7.5, 5.0, 5.8, 3.9])
    rho = np.array([WD["MELDUB"], WD["TECGRA"], WD["TECGRA"], WD["TECGRA"]])
    agb = vm.agb_chave2014_t(rho, d, h, D_MIN)
    carbon = vm.tree_carbon_t(agb, R, CF)
    assert d[2] == approx(6.366)
    assert agb * 1000 == pytest.approx([11.08, 5.196, 7.990, 0.0], rel=PUBLISHED)
    assert carbon == pytest.approx([0.006512, 0.003052, 0.004694, 0.0], rel=PUBLISHED)


def test_tv1_exact_equation_and_gbh_conversion():
    assert vm.dbh_from_gbh_cm(20.0) == 20.0 / math.pi
    expected = 0.0673 * (0.389 * 8.0**2 * 7.5) ** 0.976 / 1000
    assert vm.agb_chave2014_t(0.389, 8.0, 7.5, 5.0) == pytest.approx(expected, rel=1e-12)
    assert vm.tree_carbon_t(expected, 0.25, 0.47) == pytest.approx(expected * 1.25 * 0.47, rel=1e-12)


def test_tv1_full_precision(atv):
    ref = [atv.tree_record("Melia dubia", "A", 8.0, 7.5), atv.tree_record("Tectona grandis", "B", 5.5, 5.0),
           atv.tree_record("Tectona grandis", "C", 20.0 / math.pi, 5.8),
           atv.tree_record("Tectona grandis", "D", 4.6, 3.9)]
    agb = vm.agb_chave2014_t(np.array([r["rho"] for r in ref]), np.array([r["D"] for r in ref]),
                             np.array([r["H"] for r in ref]), D_MIN)
    assert agb == pytest.approx([r["agb_t"] for r in ref], rel=FULL)
    assert vm.tree_carbon_t(agb, R, CF) == pytest.approx([r["c_t"] for r in ref], rel=FULL)


def test_agb_zero_below_threshold_or_without_height_or_girth():
    agb = vm.agb_chave2014_t(0.5, np.array([4.99, 5.0, 12.0, np.nan]), np.array([4.0, 4.0, np.nan, 6.0]), 5.0)
    assert agb[0] == 0.0 and agb[1] > 0.0 and agb[2] == 0.0 and agb[3] == 0.0


def test_agb_keeps_series_index():
    d = pd.Series([8.0, 3.0], index=["a", "b"])
    agb = vm.agb_chave2014_t(0.389, d, pd.Series([7.5, 3.0], index=["a", "b"]), 5.0)
    assert isinstance(agb, pd.Series) and list(agb.index) == ["a", "b"] and agb["b"] == 0.0


def test_t_quantile_90_is_exact_scipy_value():
    assert vm.t_quantile_90(18) == stats.t.ppf(0.95, 18)
    assert vm.t_quantile_90(18) == approx(1.734064, rel=1e-6)
    assert vm.t_quantile_90(5) == approx(2.015048, rel=1e-6)


def test_fertilizer_emissions_tv2_published():
    log = StepLog()
    assert vm.fertilizer_emissions_tco2e(0.050, steps=log) == approx(0.1356)
    assert log.value("fertilizer_f_sn_t_n") == approx(0.02300)
    assert log.value("fertilizer_direct_tco2e") == approx(0.09867)
    assert log.value("fertilizer_volatilization_tco2e") == approx(0.01085)
    assert log.value("fertilizer_leaching_tco2e") == approx(0.02605)
    assert vm.fertilizer_emissions_tco2e(0.025) == approx(0.06779)
    assert vm.fertilizer_emissions_tco2e(0.025, gwp_n2o=298.0) == pytest.approx(
        vm.fertilizer_emissions_tco2e(0.025) * 298 / 273, rel=1e-12)
    with pytest.raises(ValueError):
        vm.fertilizer_emissions_tco2e(0.0, organic_t=1.0)


def test_fertilizer_emissions_full_precision(atv):
    for urea in (0.050, 0.025):
        assert vm.fertilizer_emissions_tco2e(urea) == pytest.approx(atv.fert_pe(urea)["total"], rel=FULL)


# ------------------------------------------------------------------------------------------
# TV2: two verifications of the 500-tree bund plantation

def test_tv2_stratum_statistics_published():
    table, est, _, _ = tv2_event(2, 0.0)
    melia, teak = table.set_index("species_code").loc["MELDUB"], table.set_index("species_code").loc["TECGRA"]
    assert melia["mortality"] == approx(0.04) and melia["n_live"] == approx(288.0)
    assert melia["n_sampled"] == 10 and teak["n_sampled"] == 10
    assert melia["mean_carbon_t"] == approx(0.005574)
    assert melia["sd_carbon_t"] == approx(0.001985)
    assert melia["se_carbon_t"] == approx(0.0006278)
    assert melia["stock_t_c"] == approx(1.605)
    assert melia["se_stock_t_c"] == approx(0.1808)
    assert teak["mean_carbon_t"] == approx(0.002347)
    assert teak["stock_t_c"] == approx(0.4459)
    assert teak["se_stock_t_c"] == approx(0.1070)


def test_tv2_two_verifications_published():
    _, e2, pe2, r2 = tv2_event(2, 0.0)
    assert e2.stock_t_c == approx(2.051)
    assert e2.delta_c_tco2e == approx(7.521)
    assert e2.se_total_t_c == approx(0.2101)
    assert e2.df == 18 and e2.t_value == approx(1.734)
    assert e2.u_p == approx(0.1776) and e2.u_m == 0.0
    assert e2.unc == approx(0.07759) and e2.unc_v10 == e2.unc_v11 == e2.unc
    assert e2.eligible
    assert pe2 == approx(0.1356)
    assert r2.adjusted_stock_tco2e == approx(6.938)
    assert r2.removals_tco2e == approx(6.938)
    assert r2.cr_tco2e == approx(6.802)
    assert r2.buffer_tco2e == approx(1.041)
    assert r2.net_tco2e == approx(5.762)
    assert math.floor(r2.net_tco2e) == 5

    _, e3, pe3, r3 = tv2_event(3, r2.credited_stock_tco2e)
    assert e3.stock_t_c == approx(5.241)
    assert e3.delta_c_tco2e == approx(19.22)
    assert e3.se_total_t_c == approx(0.4817)
    assert e3.u_p == approx(0.1594)
    assert e3.unc == approx(0.05938)
    assert pe3 == approx(0.06779)
    assert r3.adjusted_stock_tco2e == approx(18.08)
    assert r3.credited_stock_prev_tco2e == approx(6.938)
    assert r3.removals_tco2e == approx(11.14)
    assert r3.cr_tco2e == approx(11.07)
    assert r3.buffer_tco2e == approx(1.671)
    assert r3.net_tco2e == approx(9.400)


def test_tv2_inline_data_is_the_reference_data(atv):
    assert MELIA == {2: atv.MELIA_Y2, 3: atv.MELIA_Y3}
    assert TEAK == {2: atv.TEAK_Y2, 3: atv.TEAK_Y3}
    assert DEAD == {y: {"MELDUB": d["Melia dubia"], "TECGRA": d["Tectona grandis"]} for y, d in atv.DEAD.items()}


def reference_stock(atv, year, melia_recs=None):
    melia = melia_recs or atv.recs_for("Melia dubia", MELIA[year], "M")
    return atv.stratified_stock([
        dict(name="Melia dubia", N=300, dead=DEAD[year]["MELDUB"], recs=melia),
        dict(name="Tectona grandis", N=200, dead=DEAD[year]["TECGRA"],
             recs=atv.recs_for("Tectona grandis", TEAK[year], "T"))])


def assert_estimate_matches(table, est, ref):
    for row, ref_row in zip(table.itertuples(), ref["rows"], strict=True):
        assert row.n_live == pytest.approx(ref_row["live"], rel=FULL)
        assert row.mean_carbon_t == pytest.approx(ref_row["mean"], rel=FULL)
        assert row.sd_carbon_t == pytest.approx(ref_row["sd"], rel=FULL)
        assert row.se_carbon_t == pytest.approx(ref_row["se"], rel=FULL)
        assert row.stock_t_c == pytest.approx(ref_row["stock"], rel=FULL)
    assert est.stock_t_c == pytest.approx(ref["C"], rel=FULL)
    assert est.delta_c_tco2e == pytest.approx(ref["dC"], rel=FULL)
    assert est.se_total_t_c == pytest.approx(ref["se"], rel=FULL)
    assert est.df == ref["df"]
    assert est.t_value == pytest.approx(ref["T"], rel=FULL)
    assert est.u_p == pytest.approx(ref["U_p"], rel=FULL)
    assert est.u_m == pytest.approx(ref["U_M"], rel=FULL, abs=1e-15)
    assert est.half_width == pytest.approx(ref["half_width"], rel=FULL)
    assert est.unc_v10 == pytest.approx(ref["unc_v10"], rel=FULL)
    assert est.unc_v11 == pytest.approx(ref["unc_v11"], rel=FULL)
    assert est.unc == pytest.approx(ref["unc"], rel=FULL)
    assert est.eligible == ref["eligible"]


def test_tv2_full_precision(atv):
    st2, st3 = reference_stock(atv, 2), reference_stock(atv, 3)
    ref2 = atv.removals(st2, None, atv.fert_pe(0.050)["total"], 2, title="TV2 year 2")
    ref3 = atv.removals(st3, st2, atv.fert_pe(0.025)["total"], 1, title="TV2 year 3")
    t2, e2, _, r2 = tv2_event(2, 0.0)
    t3, e3, _, r3 = tv2_event(3, r2.credited_stock_tco2e)
    assert_estimate_matches(t2, e2, st2)
    assert_estimate_matches(t3, e3, st3)
    for got, ref in ((r2, ref2), (r3, ref3)):
        assert got.removals_tco2e == pytest.approx(ref["adj"], rel=FULL)
        assert got.cr_tco2e == pytest.approx(ref["CR"], rel=FULL)
        assert got.buffer_tco2e == pytest.approx(ref["buffer"], rel=FULL)
        assert got.net_tco2e == pytest.approx(ref["vcu"], rel=FULL)


# ------------------------------------------------------------------------------------------
# TV3: missing height, rule (a)

TV3_MELIA = [(d, None) if i == 3 else (d, h) for i, (d, h) in enumerate(MELIA[3])]


def test_tv3_missing_height_keeps_tree_with_zero_biomass():
    _, _, _, r2 = tv2_event(2, 0.0)
    table, est, _, r3 = tv2_event(3, r2.credited_stock_tco2e, melia=TV3_MELIA)
    melia = table.set_index("species_code").loc["MELDUB"]
    assert melia["n_sampled"] == 10
    assert trees("MELDUB", TV3_MELIA)["agb_t"].iloc[3] == 0.0
    assert melia["mean_carbon_t"] == approx(0.01248)
    assert melia["se_carbon_t"] == approx(0.001926)
    assert est.stock_t_c == approx(4.604)
    assert est.delta_c_tco2e == approx(16.88)
    assert est.u_p == approx(0.2127)
    assert est.unc == approx(0.1127)
    assert r3.cr_tco2e == approx(7.971)
    assert r3.net_tco2e == approx(6.766)


def test_tv3_full_precision(atv):
    m3a = atv.recs_for("Melia dubia", TV3_MELIA, "M", missing_h_rule="zero")
    ref = reference_stock(atv, 3, melia_recs=m3a)
    table, est, _, _ = tv2_event(3, 0.0, melia=TV3_MELIA)
    assert_estimate_matches(table, est, ref)


# ------------------------------------------------------------------------------------------
# TV4 / TV4b: sampled mortality, large uncertainty, eligibility cut-off

def test_tv4_sampled_mortality_published():
    table, est = tv4_estimate(NEEM)
    assert table.loc[0, "mortality"] == approx(0.2) and table.loc[0, "n_live"] == approx(120.0)
    assert table.loc[0, "mean_carbon_t"] == approx(0.01318)
    assert table.loc[0, "sd_carbon_t"] == approx(0.01361)
    assert est.stock_t_c == approx(1.581)
    assert est.delta_c_tco2e == approx(5.798)
    assert est.se_total_t_c == approx(0.6666)
    assert est.df == 5 and est.t_value == approx(2.015)
    assert est.t_value_mortality == approx(1.699)
    assert est.u_p == approx(0.8495)
    assert est.u_m == approx(0.1578)
    assert est.half_width == approx(0.8640)
    assert est.unc_v10 == approx(0.7640)
    assert est.unc_v11 == approx(0.8070)
    assert est.unc == approx(0.8070)
    assert est.eligible
    cred = vm.removals(est.delta_c_tco2e, est.unc, est.eligible, 0.0, BUFFER)
    assert cred.adjusted_stock_tco2e == approx(1.119)
    assert cred.cr_tco2e == approx(1.119)
    assert cred.buffer_tco2e == approx(0.1678)
    assert cred.net_tco2e == approx(0.9511)


def test_tv4b_half_width_above_one_is_not_eligible():
    _, est = tv4_estimate(NEEM_Y1)
    assert est.stock_t_c == approx(0.07682)
    assert est.delta_c_tco2e == approx(0.2817)
    assert est.df == 3 and est.t_value == approx(2.353)
    assert est.u_p == approx(2.353)
    assert est.half_width == approx(2.359)
    assert est.unc == 1.0 and est.unc_v10 == 1.0 and est.unc_v11 == 1.0
    assert not est.eligible
    cred = vm.removals(est.delta_c_tco2e, est.unc, est.eligible, 0.0, BUFFER)
    assert (cred.removals_tco2e, cred.buffer_tco2e, cred.cr_tco2e, cred.net_tco2e) == (0.0, 0.0, 0.0, 0.0)
    assert cred.credited_stock_tco2e == 0.0


def test_tv4_full_precision(atv):
    for data, prefix in ((NEEM, "N"), (NEEM_Y1, "Y")):
        ref = atv.stratified_stock([dict(name="Azadirachta indica", N=150, dead=None,
                                         recs=atv.recs_for("Azadirachta indica", data, prefix))],
                                   mortality_sampled=dict(n_m=30, dead_m=6))
        table, est = tv4_estimate(data)
        assert_estimate_matches(table, est, ref)
        assert est.t_value_mortality == pytest.approx(ref["T_M"], rel=FULL)
        if ref["eligible"]:
            got = vm.removals(est.delta_c_tco2e, est.unc, True, 0.0, BUFFER)
            want = atv.removals(ref, None, 0.0, 3, title="TV4")
            assert got.net_tco2e == pytest.approx(want["vcu"], rel=FULL)


def test_sampled_mortality_eligibility_uses_the_half_width():
    t5 = stats.t.ppf(0.95, 5)
    table = pd.DataFrame({"species_code": ["AZAIND"], "n_sampled": [6], "in_estimate": [True],
                          "stock_t_c": [1.0], "se_stock_t_c": [0.95 / t5]})
    est = vm.stock_and_uncertainty(table, mortality_sample=(10, 5))
    u_m = stats.t.ppf(0.95, 9) * math.sqrt(0.25 / 9) / 0.5
    assert est.u_p == pytest.approx(0.95, rel=1e-12)
    assert est.u_m == pytest.approx(u_m, rel=1e-12)
    assert est.half_width == pytest.approx(math.hypot(0.95, u_m), rel=1e-12) and est.half_width > 1.0
    assert not est.eligible
    assert vm.stock_and_uncertainty(table).eligible


# ------------------------------------------------------------------------------------------
# Crediting rules

def test_ineligible_event_carries_the_credited_stock_forward():
    first = vm.removals(10.0, 0.05, True, 0.0, BUFFER)
    assert first.credited_stock_tco2e == pytest.approx(9.5)
    middle = vm.removals(12.0, 0.95, False, first.credited_stock_tco2e, BUFFER)
    assert middle.adjusted_stock_tco2e == pytest.approx(0.6)
    assert (middle.removals_tco2e, middle.buffer_tco2e, middle.net_tco2e) == (0.0, 0.0, 0.0)
    assert middle.credited_stock_tco2e == pytest.approx(9.5)
    last = vm.removals(20.0, 0.10, True, middle.credited_stock_tco2e, BUFFER)
    assert last.removals_tco2e == pytest.approx(18.0 - 9.5)
    assert last.buffer_tco2e == pytest.approx(0.15 * 8.5)
    assert last.net_tco2e == pytest.approx(0.85 * 8.5)
    assert last.credited_stock_tco2e == pytest.approx(18.0)


def test_loss_gets_no_buffer():
    loss = vm.removals(5.0, 0.0, True, 9.5, BUFFER)
    assert loss.removals_tco2e == pytest.approx(-4.5)
    assert loss.buffer_tco2e == 0.0
    assert loss.net_tco2e == pytest.approx(-4.5)
    assert loss.credited_stock_tco2e == pytest.approx(5.0)


def test_strata_without_two_measured_trees_are_left_out_conservatively():
    sample = pd.concat([trees("MELDUB", MELIA[3][:3]), trees("TECGRA", TEAK[3][:1])], ignore_index=True)
    strata = strata_of({"MELDUB": (100, 0), "TECGRA": (50, 0), "AZAIND": (40, 0)})
    table = vm.stratum_statistics(sample, strata).set_index("species_code")
    assert list(table["in_estimate"]) == [False, True, False]    # AZAIND, MELDUB, TECGRA
    assert table.loc["AZAIND", "n_sampled"] == 0 and table.loc["AZAIND", "mean_carbon_t"] == 0.0
    assert table.loc["TECGRA", "mean_carbon_t"] > 0 and table.loc["TECGRA", "stock_t_c"] == 0.0
    est = vm.stock_and_uncertainty(table.reset_index())
    assert est.df == 2
    assert est.stock_t_c == pytest.approx(100 * sample["carbon_t"].iloc[:3].mean(), rel=1e-12)
    nothing = vm.stock_and_uncertainty(table.reset_index().assign(in_estimate=False, stock_t_c=0.0))
    assert nothing.u_p == math.inf and not nothing.eligible and nothing.unc == 1.0


def test_stratum_statistics_rejects_measured_species_without_stratum():
    with pytest.raises(ValueError):
        vm.stratum_statistics(trees("MELDUB", MELIA[2]), strata_of({"TECGRA": (10, 0)}))


def test_vintage_split_across_a_year_end():
    log = StepLog()
    table = vm.vintage_split(100.0, "2024-07-01", "2025-06-30", steps=log)
    assert list(table["vintage"]) == [2024, 2025]
    assert list(table["days"]) == [184, 181]
    assert table["er_tco2e"].tolist() == pytest.approx([100 * 184 / 365, 100 * 181 / 365], rel=1e-12)
    assert table["er_tco2e"].sum() == pytest.approx(100.0, rel=1e-12)
    assert list(table["issuable_tco2e"]) == [50, 49]
    assert log.value("er_tco2e", "vintage=2025") == pytest.approx(100 * 181 / 365, rel=1e-12)
    loss = vm.vintage_split(-10.0, pd.Timestamp("2024-07-01"), pd.Timestamp("2025-06-30"))
    assert list(loss["issuable_tco2e"]) == [-6, -5]
    leap = vm.vintage_split(7.0, "2024-01-01", "2024-12-31")
    assert list(leap["days"]) == [366] and list(leap["issuable_tco2e"]) == [7]
    with pytest.raises(ValueError):
        vm.vintage_split(1.0, "2024-02-01", "2024-01-31")


# ------------------------------------------------------------------------------------------
# Assembly from the survey tables

SPECIES = {"A": {"wood_density": 0.5, "root_shoot": 0.3}, "B": {"wood_density": 0.6, "root_shoot": 0.2},
           "C": {"wood_density": 0.7, "root_shoot": 0.25}}
PERIOD = ("2024-01-01", "2024-12-31")


def ts(text):
    return pd.Timestamp(text) if text else pd.NaT


def survey():
    plantings = pd.DataFrame(
        [("T1", "P1", "A", "2023-06-01"), ("T2", "P1", "A", "2023-06-01"), ("T3", "P1", "A", "2023-06-01"),
         ("T4", "P2", "A", "2023-06-01"), ("T5", "P2", "A", "2023-06-01"), ("T6", "P2", "B", "2023-07-01"),
         ("T7", "P2", "B", "2023-07-01"), ("T8", "P2", "B", "2025-03-01"), ("T9", "P3", "B", "2023-07-01")],
        columns=["tree_id", "plot_id", "species_code", "planted_on"]).assign(
        planted_on=lambda f: pd.to_datetime(f["planted_on"]))
    visits = pd.DataFrame(
        [("s00", "T4", "2023-12-20", "2023-12-20 10:00", "alive", 20.0, 4.0),   # before the period
         ("s01", "T1", "2024-02-01", "2024-02-01 10:00", "dead", np.nan, np.nan),
         ("s02", "T1", "2024-05-01", "2024-05-01 10:00", "alive", 10 * math.pi, 8.0),
         ("s03", "T2", "2024-05-02", "2024-05-02 10:00", "alive", 25.0, np.nan),  # no height
         ("s04", "T3", "2024-05-02", "2024-05-02 11:00", "not_found", np.nan, np.nan),
         ("s05", "T5", "2024-06-01", "2024-06-01 10:00", "alive", 40.0, 9.0),
         ("s06", "T5", "2025-02-01", "2025-02-01 10:00", "dead", np.nan, np.nan),  # after the period
         ("s07", "T6", "2024-06-01", "2024-06-01 10:00", "dead", np.nan, np.nan),
         ("s08", "T7", "2024-06-01", "2024-06-01 10:00", "alive", 12.0, 2.5),     # D < 5 cm
         ("s11", "T7", "2024-06-01", None, "dead", np.nan, np.nan),               # no end time: earlier
         ("s09", "T9", "2024-06-05", "2024-06-05 09:00", "alive", 30.0, 5.0),
         ("s10", "T9", "2024-06-05", "2024-06-05 11:00", "dead", np.nan, np.nan)],
        columns=["submission_id", "tree_id", "visit_date", "ended_at", "status", "gbh_cm", "height_m"])
    visits["visit_date"] = pd.to_datetime(visits["visit_date"])
    visits["ended_at"] = visits["ended_at"].map(ts)
    bunds = pd.DataFrame(
        [("b1", "X1", "2024-03-01", "2024-03-01 10:00", "A", 20, 18),
         ("b2", "X1", "2024-09-01", "2024-09-01 10:00", "A", 20, 15),
         ("b3", "X2", "2023-12-15", "2023-12-15 10:00", "B", 10, 10),
         ("b4", "X3", "2024-08-01", "2024-08-01 10:00", "C", 5, 5)],
        columns=["submission_id", "bund_id", "visit_date", "ended_at", "species_code", "saplings_planted",
                 "saplings_alive"])
    bunds["visit_date"] = pd.to_datetime(bunds["visit_date"])
    bunds["ended_at"] = pd.to_datetime(bunds["ended_at"])
    measures = pd.DataFrame(
        [("b1", "A", 20.0, 3.0), ("b1", "A", 22.0, 3.2), ("b2", "A", 35.0, 6.0), ("b2", "A", 28.0, 5.5),
         ("b2", "B", 33.0, 6.5), ("b3", "B", 50.0, 7.0)],
        columns=["submission_id", "m_species_code", "m_gbh_cm", "m_height_m"])
    return plantings, visits, bunds, measures


def run_census():
    return vm.census_strata(*survey(), SPECIES, *PERIOD, dbh_min_cm=5.0, carbon_fraction=0.47)


def carbon(species, gbh, height):
    d = gbh / math.pi
    agb = 0.0673 * (SPECIES[species]["wood_density"] * d**2 * height) ** 0.976 / 1000
    return agb * (1 + SPECIES[species]["root_shoot"]) * 0.47


def test_census_strata_counts_pool_tagged_and_bund_trees():
    strata, _ = run_census()
    got = strata.set_index("species_code")
    assert list(got.index) == ["A", "B", "C"]
    assert got.loc["A"].to_dict() == {"n_planted": 25, "n_dead": 7, "n_tagged": 5, "n_bund_saplings": 20,
                                      "n_dead_tagged": 0, "n_not_found": 1, "n_not_visited": 1,
                                      "n_dead_bund": 5}
    # T8 planted after the period is not counted; T9's later visit on the same day says dead.
    assert got.loc["B"].to_dict() == {"n_planted": 3, "n_dead": 2, "n_tagged": 3, "n_bund_saplings": 0,
                                      "n_dead_tagged": 2, "n_not_found": 0, "n_not_visited": 0,
                                      "n_dead_bund": 0}
    assert got.loc["C", "n_planted"] == 5 and got.loc["C", "n_dead"] == 0


def test_census_strata_sample_is_every_measured_live_tree():
    _, sample = run_census()
    rows = sample.set_index("id")
    assert sorted(rows.index) == ["T1", "T2", "T5", "T7", "X1/1", "X1/2", "X1/3"]
    assert rows.loc["X1/3", "species_code"] == "B" and rows.loc["X1/3", "source"] == "bund"
    assert rows.loc["X1/1", "submission_id"] == "b2" and rows.loc["T1", "submission_id"] == "s02"
    assert rows.loc["T7", "submission_id"] == "s08"
    assert rows.loc["T1", "dbh_cm"] == pytest.approx(10.0, rel=1e-12)
    expected = {"T1": carbon("A", 10 * math.pi, 8.0), "T2": 0.0, "T5": carbon("A", 40.0, 9.0), "T7": 0.0,
                "X1/1": carbon("A", 35.0, 6.0), "X1/2": carbon("A", 28.0, 5.5), "X1/3": carbon("B", 33.0, 6.5)}
    for tree_id, value in expected.items():
        assert rows.loc[tree_id, "carbon_t"] == pytest.approx(value, rel=1e-12, abs=0.0)
    assert rows.loc["T2", "height_missing"] and not rows.loc["T2", "below_threshold"]
    assert rows.loc["T7", "below_threshold"] and not rows.loc["T7", "height_missing"]
    assert rows.loc["T1", "agb_t"] > 0 and not rows["height_missing"].drop("T2").any()


def test_census_strata_needs_species_parameters():
    with pytest.raises(UserError):
        vm.census_strata(*survey(), {"A": SPECIES["A"]}, *PERIOD, dbh_min_cm=5.0, carbon_fraction=0.47)


def test_compute_event_on_census_tables():
    strata, sample = run_census()
    params = {"carbon_fraction": 0.47, "uncertainty_allowance": 0.10, "buffer_rate": 0.15, "dbh_min_cm": 5.0}
    result = vm.compute_event(strata, sample, params, *PERIOD, credited_stock_prev_tco2e=0.0)
    table = result.strata_table.set_index("species_code")
    assert table.loc["C", "n_sampled"] == 0 and table.loc["C", "stock_t_c"] == 0.0
    assert not table.loc["C", "in_estimate"]
    a = sample.loc[sample["species_code"] == "A", "carbon_t"].to_numpy()
    b = sample.loc[sample["species_code"] == "B", "carbon_t"].to_numpy()
    stock = 18 * a.mean() + 1 * b.mean()
    se = math.sqrt((18 * a.std(ddof=1) / math.sqrt(5)) ** 2 + (b.std(ddof=1) / math.sqrt(2)) ** 2)
    t = stats.t.ppf(0.95, 5)
    assert result.df == 5
    assert result.stock_t_c == pytest.approx(stock, rel=1e-12)
    assert result.u_p == pytest.approx(t * se / stock, rel=1e-12)
    unc = min(1.0, max(0.0, t * se / stock - 0.10))
    assert result.unc == pytest.approx(unc, rel=1e-12)
    assert result.eligible == (t * se / stock <= 1.0)
    assert result.steps.value("n_not_visited", "stratum=A") == 1
    assert result.steps.value("stock_t_c", "stratum=C") == 0.0
    assert result.steps.value("u_p") == result.u_p
    assert result.by_vintage["er_tco2e"].sum() == pytest.approx(result.net_tco2e, rel=1e-12, abs=1e-15)
    frame = result.steps.to_frame()
    assert (frame["reference"].str.len() > 0).all()
    assert frame["scope"].str.fullmatch(r"|stratum=[ABC]|vintage=2024").all()


def test_compute_event_chain_with_an_ineligible_event_in_between():
    params = {"carbon_fraction": CF, "uncertainty_allowance": ALLOWANCE, "buffer_rate": BUFFER}
    sample2, strata2 = tv2_inputs(2)
    year2 = vm.compute_event(strata2, sample2, params, "2023-01-01", "2024-12-31", 0.0)
    assert year2.net_tco2e == approx(6.938 * 0.85)
    # one measured tree per species: no variance, stock 0, U_p infinite, nothing credited
    sample, strata = tv2_inputs(3)
    thin = sample.groupby("species_code").head(1)
    gap = vm.compute_event(strata, thin, params, "2025-01-01", "2025-06-30", year2.credited_stock_tco2e)
    assert not gap.eligible and gap.removals_tco2e == 0.0 and gap.net_tco2e == 0.0
    assert gap.credited_stock_tco2e == year2.credited_stock_tco2e
    assert list(gap.by_vintage["issuable_tco2e"]) == [0]
    year3 = vm.compute_event(strata, sample, params, "2025-07-01", "2025-12-31", gap.credited_stock_tco2e)
    assert year3.removals_tco2e == approx(11.14)
    assert year3.buffer_tco2e == approx(1.671)
    assert year3.net_tco2e == pytest.approx(0.85 * year3.removals_tco2e, rel=1e-12)


def test_compute_event_rejects_carbon_from_another_carbon_fraction():
    sample, strata = tv2_inputs(2)
    with pytest.raises(ValueError, match="carbon_fraction"):
        vm.compute_event(strata, sample, {"carbon_fraction": 0.5, "uncertainty_allowance": 0.1,
                                          "buffer_rate": 0.15}, "2024-01-01", "2024-12-31", 0.0)
