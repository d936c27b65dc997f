"""Overfitting statistics on synthetic data with known answers (seeded, fast).

Known answers: the deflated Sharpe paper's numerical example, hand-computed PSR/DSR, the N = 1
limit, Monte Carlo for the expected maximum; pure noise gives PBO about 0.5 and an insignificant
DSR and SPA; a planted edge gives a low PBO, a significant DSR and a small SPA p-value; CSCV has
C(S, S/2) splits and ignores column order; arch's own SPA agrees on studentized data.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics

import numpy as np
import pandas as pd
import pytest
from arch.bootstrap import SPA

from papertrade.research import overfit
from papertrade.research.overfit import (
    OverfitInputError,
    deflated_sharpe,
    effective_trials,
    expected_max_sharpe,
    overfitting_summary,
    pbo_cscv,
    probabilistic_sharpe,
    spa_vs_benchmark,
)
from papertrade.research.spa import long_run_variance

GAMMA = 0.5772156649015329
PHI = statistics.NormalDist()


def noise(seed: int, t: int = 1000, n: int = 20, sigma: float = 0.01) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(0.0, sigma, (t, n)), columns=[f"c{i}" for i in range(n)])


def planted(seed: int, t: int = 2000, n: int = 40, edges: int = 3) -> pd.DataFrame:
    """Noise configs, the first ``edges`` with a stable drift (per-period Sharpe 0.15..0.25)."""
    frame = noise(seed, t, n)
    for i in range(edges):
        frame[f"c{i}"] += 0.01 * (0.15 + 0.05 * i)
    return frame


# --- deflated Sharpe -------------------------------------------------------------------------

def test_dsr_reproduces_the_papers_numerical_example() -> None:
    """Bailey & López de Prado (2014): annual SR 2.5 over 1,250 days, 100 trials whose annual
    Sharpes vary by 0.5, skew -3, kurtosis 10: SR0 = 0.1132 a day, DSR = 0.9004."""
    sr0 = expected_max_sharpe(100, 0.5 / 250)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    assert probabilistic_sharpe(2.5 / math.sqrt(250), sr0, 1250, -3.0, 10.0) == pytest.approx(
        0.9004, abs=5e-4)


def test_one_trial_deflates_nothing() -> None:
    assert expected_max_sharpe(1, 0.3) == 0.0
    frame = pd.DataFrame({"only": [0.02, -0.01, 0.03, 0.0, 0.01, -0.02, 0.04]})
    result = deflated_sharpe(frame, 365)
    assert result["n_trials"] == 1 and result["sr0"] == 0.0
    assert result["dsr"] == result["psr0"]


def test_psr_and_dsr_match_a_hand_computation() -> None:
    a = [0.02, -0.01, 0.03, 0.0, 0.01, -0.02, 0.04]
    b = [0.01, 0.0, -0.01, 0.02, -0.02, 0.01, 0.0]
    t = len(a)
    mean = sum(a) / t
    sd = math.sqrt(sum((x - mean) ** 2 for x in a) / (t - 1))
    m2 = sum((x - mean) ** 2 for x in a) / t
    skew = sum((x - mean) ** 3 for x in a) / t / m2**1.5
    kurt = sum((x - mean) ** 4 for x in a) / t / m2**2  # non-excess
    sr_a = mean / sd
    sr_b = statistics.mean(b) / statistics.stdev(b)
    spread = math.sqrt(1 - skew * sr_a + (kurt - 1) / 4 * sr_a**2)
    psr0 = PHI.cdf(sr_a * math.sqrt(t - 1) / spread)
    variance = statistics.variance([sr_a, sr_b])
    # N = 2: Phi^-1(1 - 1/2) = 0, so SR0 = sqrt(V) * gamma * Phi^-1(1 - 1/(2e))
    sr0 = math.sqrt(variance) * GAMMA * PHI.inv_cdf(1 - 1 / (2 * math.e))
    dsr = PHI.cdf((sr_a - sr0) * math.sqrt(t - 1) / spread)

    result = deflated_sharpe(pd.DataFrame({"a": a, "b": b}), 252)
    assert result["best"] == "a"
    assert result["sharpe"] == pytest.approx(sr_a, rel=1e-12)
    assert result["sharpe_annual"] == pytest.approx(sr_a * math.sqrt(252), rel=1e-12)
    assert result["skew"] == pytest.approx(skew, rel=1e-10)
    assert result["kurtosis"] == pytest.approx(kurt, rel=1e-10)
    assert result["psr0"] == pytest.approx(psr0, rel=1e-10)
    assert result["sr0"] == pytest.approx(sr0, rel=1e-10)
    assert result["dsr"] == pytest.approx(dsr, rel=1e-10)
    assert result["t"] == t


def test_expected_maximum_agrees_with_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    simulated = rng.standard_normal((4000, 100)).max(axis=1).mean()  # about 2.51
    assert expected_max_sharpe(100, 1.0) == pytest.approx(simulated, rel=0.02)


def test_effective_trials_counts_groups_of_identical_configs() -> None:
    rng = np.random.default_rng(1)
    independent = rng.normal(size=(1000, 10))
    assert effective_trials(independent) == pytest.approx(10, rel=0.02)
    assert effective_trials(np.repeat(independent, 5, axis=1)) == pytest.approx(10, rel=0.02)
    with_flat = np.column_stack([independent, np.zeros((1000, 3))])
    assert effective_trials(with_flat) == pytest.approx(11, rel=0.02)  # the flat ones: one


def test_effective_trials_of_a_large_sweep_are_estimated_on_a_spread_subset(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Above EXACT_TRIALS configs: exact for independent configs, overstated (the cautious
    side) for a clustered grid, never above N."""
    monkeypatch.setattr(overfit, "EXACT_TRIALS", 40)
    rng = np.random.default_rng(20)
    independent = rng.normal(size=(2000, 120))
    assert effective_trials(independent) == pytest.approx(120, rel=0.05)
    clustered = np.repeat(rng.normal(size=(2000, 10)), 12, axis=1)
    assert 10 <= effective_trials(clustered) <= 120


def test_noise_is_not_significant_and_overfits() -> None:
    pbos, dsrs = [], []
    for seed in range(12):
        frame = noise(seed)
        pbos.append(pbo_cscv(frame)["pbo"])
        dsrs.append(deflated_sharpe(frame, 365)["dsr"])
    assert len(pbos) == 12
    assert 0.4 <= statistics.mean(pbos) <= 0.8, pbos
    assert max(dsrs) < 0.95, dsrs


def test_a_planted_edge_is_significant_and_does_not_overfit() -> None:
    frame = planted(0)
    dsr = deflated_sharpe(frame, 365)
    assert dsr["best"] in {"c0", "c1", "c2"}
    assert dsr["dsr"] > 0.95 and dsr["dsr_effective"] >= dsr["dsr"]
    pbo = pbo_cscv(frame)
    assert pbo["pbo"] < 0.2
    assert pbo["prob_oos_loss"] < 0.05


# --- CSCV ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("blocks", "splits"), [(16, 12870), (8, 70), (2, 2)])
def test_cscv_uses_every_half_of_the_blocks_once(blocks: int, splits: int) -> None:
    result = pbo_cscv(noise(3, t=1003, n=7), n_blocks=blocks)
    assert result["n_combinations"] == math.comb(blocks, blocks // 2) == splits
    assert len(result["logits"]) == splits
    assert result["n_blocks"] == blocks
    assert result["t_used"] == 1003 // blocks * blocks  # the oldest rows dropped
    assert sum(result["logit_histogram"]["counts"]) == splits


def test_cscv_does_not_depend_on_column_order() -> None:
    frame = planted(4, t=640, n=30)
    frame["dup_of_c5"] = frame["c5"]  # identical configs tie in and out of sample
    frame["flat"] = 0.0
    shuffled = frame[list(np.random.default_rng(5).permutation(frame.columns))]
    one, other = pbo_cscv(frame), pbo_cscv(shuffled)
    assert one["logits"] == other["logits"]
    assert one["pbo"] == other["pbo"]
    assert one["degradation_slope"] == pytest.approx(other["degradation_slope"], rel=1e-12)
    assert deflated_sharpe(frame, 365)["best"] == deflated_sharpe(shuffled, 365)["best"]


def test_cscv_matches_a_plain_reading_of_the_paper() -> None:
    """The vectorised CSCV against the paper's steps written out with loops and pandas."""
    frame = planted(19, t=163, n=6, edges=1)
    blocks = 8
    result = pbo_cscv(frame, n_blocks=blocks)
    rows = frame.iloc[163 % blocks:]  # equal blocks: the oldest rows go
    parts = np.array_split(np.arange(len(rows)), blocks)
    logits, losses, pairs = [], [], []
    for chosen in itertools.combinations(range(blocks), blocks // 2):
        inside = np.concatenate([parts[i] for i in chosen])
        outside = np.concatenate([parts[i] for i in range(blocks) if i not in chosen])
        sharpe_in = rows.iloc[inside].mean() / rows.iloc[inside].std()
        sharpe_out = rows.iloc[outside].mean() / rows.iloc[outside].std()
        winner = sharpe_in.idxmax()
        rank = sharpe_out.rank()[winner]  # 1 = worst, N = best
        w = rank / (len(frame.columns) + 1)
        logits.append(math.log(w / (1 - w)))
        losses.append(sharpe_out[winner] < 0)
        pairs.append((sharpe_in[winner], sharpe_out[winner]))
    np.testing.assert_allclose(result["logits"], logits, rtol=1e-12)
    assert result["pbo"] == pytest.approx(np.mean(np.array(logits) <= 0))
    assert result["prob_oos_loss"] == pytest.approx(np.mean(losses))
    slope = np.polyfit(*np.array(pairs).T, 1)[0]
    assert result["degradation_slope"] == pytest.approx(slope, rel=1e-9)


def test_cscv_logits_are_the_winners_relative_ranks() -> None:
    """Two configs: the in-sample winner is either best (rank 2 of 2) or worst out of sample."""
    result = pbo_cscv(noise(6, t=160, n=2), n_blocks=4)
    high, low = math.log(2 / 3 / (1 / 3)), math.log(1 / 3 / (2 / 3))
    assert set(np.round(result["logits"], 12)) <= {round(high, 12), round(low, 12)}
    assert result["pbo"] == pytest.approx(np.mean(np.isclose(result["logits"], low)))


# --- SPA -------------------------------------------------------------------------------------

def test_spa_noise_does_not_beat_the_benchmark() -> None:
    """Under the null the p-value is about uniform: over eight noise sweeps its mean is far from
    small (one sweep alone may land low by chance)."""
    pvalues = []
    for seed in range(8):
        frame = noise(100 + seed, t=1000, n=20)
        benchmark = pd.Series(np.random.default_rng(200 + seed).normal(0, 0.01, 1000),
                              index=frame.index)
        result = spa_vs_benchmark(frame, benchmark, reps=300, seed=1)
        assert result["pvalue_lower"] <= result["pvalue_consistent"] <= result["pvalue_upper"]
        pvalues.append(result["pvalue_consistent"])
    assert len(pvalues) == 8
    assert statistics.mean(pvalues) > 0.25, pvalues


def test_spa_finds_a_planted_edge_over_the_benchmark() -> None:
    frame = planted(9, t=1500, n=30, edges=1)
    benchmark = pd.Series(np.random.default_rng(10).normal(0, 0.01, 1500), index=frame.index)
    result = spa_vs_benchmark(frame, benchmark, reps=500, seed=1)
    assert result["pvalue_consistent"] < 0.05
    assert result["best"] == "c0"


def test_spa_is_studentized_a_quiet_edge_is_not_drowned_by_loud_noise() -> None:
    """One low-volatility config with a steady edge among 30 very volatile noise configs: the
    studentized statistic finds it (an unstudentized max of means would not)."""
    rng = np.random.default_rng(11)
    t = 1500
    frame = pd.DataFrame(rng.normal(0, 0.05, (t, 30)), columns=[f"loud{i}" for i in range(30)])
    frame["quiet"] = rng.normal(0.0002, 0.002, t)  # t-statistic about 4
    result = spa_vs_benchmark(frame, pd.Series(0.0, index=frame.index), reps=500, seed=2)
    assert result["best"] == "quiet"
    assert result["pvalue_consistent"] < 0.05


def test_spa_agrees_with_arch_on_studentized_differentials() -> None:
    frame = planted(12, t=400, n=12, edges=1)
    benchmark = pd.Series(0.0, index=frame.index)
    ours = spa_vs_benchmark(frame, benchmark, reps=300, seed=3, block_size=4)
    diff = frame.to_numpy()
    scaled = diff / np.sqrt(long_run_variance(diff, 4))
    arch = SPA(np.zeros(len(frame)), -scaled, block_size=4, reps=300, seed=3)
    arch.compute()
    assert ours["pvalue_lower"] == arch.pvalues["lower"]
    assert ours["pvalue_consistent"] == arch.pvalues["consistent"]
    assert ours["pvalue_upper"] == arch.pvalues["upper"]


def test_long_run_variance_is_the_stationary_bootstrap_kernel() -> None:
    rng = np.random.default_rng(13)
    values = rng.normal(size=(60, 3)).cumsum(axis=0) * 0.1 + rng.normal(size=(60, 3))
    t, p = len(values), 1 / 5
    d = values - values.mean(axis=0)
    expected = (d**2).sum(axis=0) / t
    for i in range(1, t):
        kappa = (1 - i / t) * (1 - p) ** i + (i / t) * (1 - p) ** (t - i)
        expected += 2 * kappa * (d[: t - i] * d[i:]).sum(axis=0) / t
    np.testing.assert_allclose(long_run_variance(values, 5), expected, rtol=1e-10)


# --- summary and input policy ----------------------------------------------------------------

def test_summary_is_json_and_says_it_in_words() -> None:
    frame = planted(14, t=1200, n=24)
    benchmark = pd.Series(np.random.default_rng(15).normal(0, 0.01, 1200), index=frame.index)
    summary = overfitting_summary(frame, benchmark, 365, reps=300)
    json.dumps(summary, allow_nan=False)
    assert set(summary) == {"deflated_sharpe", "pbo", "spa", "verdict"}
    verdict = summary["verdict"]
    assert verdict.startswith("best of 24 configs (c")
    assert "significant even after 24 trials" in verdict
    assert "usually stays above median out of sample" in verdict
    noisy = overfitting_summary(noise(16, t=1200, n=24), benchmark, 365, reps=300)["verdict"]
    assert "not significant after 24 trials" in noisy
    assert "no config reliably beats the benchmark" in noisy
    alone = overfitting_summary(frame, None, 365)
    assert alone["spa"] is None and alone["verdict"].endswith("no benchmark, so no SPA test.")


def test_leading_nan_rows_are_dropped_and_flat_configs_count_as_trials() -> None:
    frame = noise(17, t=400, n=5)
    frame["flat"] = 0.0
    frame.iloc[0] = np.nan  # the first row of pct_change()
    result = deflated_sharpe(frame, 365)
    assert result["t"] == 399 and result["n_trials"] == 6
    assert pbo_cscv(frame)["n_configs"] == 6


@pytest.mark.parametrize(("call", "message"), [
    (lambda f: pbo_cscv(f[["c0"]]), "at least 2 configs"),
    (lambda f: pbo_cscv(f.iloc[:31]), "at least 32 periods"),
    (lambda f: pbo_cscv(f, n_blocks=7), "even integer"),
    (lambda f: deflated_sharpe(f.assign(c1=f["c1"].where(f.index != 50)), 365),
     "1 NaN or infinite returns in 1 configs (first: ['c1'])"),
    (lambda f: deflated_sharpe(f * 0.0, 365), "every config is flat"),
    (lambda f: deflated_sharpe(f.set_axis(["x"] * f.shape[1], axis=1), 365), "duplicate"),
    (lambda f: deflated_sharpe(f, 0), "periods_per_year"),
    (lambda f: spa_vs_benchmark(f, pd.Series(0.0, index=f.index[1:])), "put both on one clock"),
])
def test_bad_input_is_a_one_line_value_error(call: object, message: str) -> None:
    frame = noise(18, t=200, n=4)
    with pytest.raises(ValueError, match=r"^[^\n]+$") as caught:
        call(frame)  # type: ignore[operator]
    assert isinstance(caught.value, OverfitInputError)
    assert message in str(caught.value)
