"""Tests of vaesource.metrics against hand-computed cases."""

import numpy as np
import pytest

from vaesource.metrics import (
    emd,
    explained_variance,
    localization_error,
    precision_recall,
    stc_sources,
)

MM = 1e-3  # positions are in metres, results in mm


def _x(*xs_mm):
    return np.array([[x * MM, 0.0, 0.0] for x in xs_mm])


def test_localization_error_hungarian_beats_greedy():
    # true at 0 and 10 mm, peaks at 9 and 30 mm: greedy nearest-first gives
    # B->9 (1) then A->30 (30), total 31; the optimal pairing is A->9, B->30
    err = localization_error(_x(0, 10), _x(9, 30))
    np.testing.assert_allclose(err, [9.0, 20.0])


def test_localization_error_threshold_and_unmatched():
    true = np.array([[0, 0, 0], [0.01, 0, 0]])
    est = np.array([[0.011, 0, 0], [0, 0.002, 0], [0.05, 0, 0]])
    np.testing.assert_allclose(
        localization_error(true, est, [1.0, 1.0, 0.01]), [2.0, 1.0]
    )
    # the weak far source is a peak once the threshold lets it in
    err = localization_error(true, est[[0, 2]], [1.0, 0.01], threshold=0.0)
    np.testing.assert_allclose(err, [11.0, 40.0])
    # one peak for two true sources: the unmatched one is NaN
    err = localization_error(true, est[[0, 2]], [1.0, 0.01])
    assert np.isnan(err).sum() == 1 and np.nanmin(err) == pytest.approx(1.0)
    assert np.all(np.isnan(localization_error(true, np.zeros((0, 3)))))


def test_emd_hand_cases():
    # point mass against two points: mass-weighted mean distance
    assert emd(_x(0), [2.0], _x(3, 5), [1.0, 3.0]) == pytest.approx(4.5)
    # two against two: move each half by 1 and 2 mm
    assert emd(_x(0, 10), [1, 1], _x(1, 12), [5, 5]) == pytest.approx(1.5)
    # two against one: half the mass travels 10 mm
    assert emd(_x(0, 10), [1, 1], _x(10), [7]) == pytest.approx(5.0)
    # crossing is never optimal: 0->1 and 10->9, not 0->9, 10->1
    assert emd(_x(0, 10), [1, 1], _x(9, 1), [1, 1]) == pytest.approx(1.0)
    # unequal masses: a (0.75 @ 0, 0.25 @ 10) to b (0.25 @ 0, 0.75 @ 10)
    assert emd(_x(0, 10), [3, 1], _x(0, 10), [1, 3]) == pytest.approx(5.0)
    assert emd(_x(0, 10), [1, 1], _x(0, 10), [1, 1]) == pytest.approx(0.0, abs=1e-9)
    assert np.isnan(emd(_x(0), [1.0], _x(1), [0.0]))


def test_emd_matches_brute_force_on_permutations():
    # equal masses on n points: the optimal plan is a permutation
    from itertools import permutations

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 3)) * 0.01, rng.normal(size=(4, 3)) * 0.01
    D = 1e3 * np.linalg.norm(a[:, None] - b[None], axis=-1)
    best = min(sum(D[i, p[i]] for i in range(4)) for p in permutations(range(4)))
    assert emd(a, np.ones(4), b, np.ones(4)) == pytest.approx(best / 4, rel=1e-7)


def test_precision_recall():
    true = _x(0, 20)
    est = _x(3, 40, 21)
    p, r = precision_recall(true, est, tol_mm=5.0)
    assert (p, r) == (pytest.approx(2 / 3), 1.0)
    p, r = precision_recall(true, est, [1.0, 1.0, 0.01], tol_mm=5.0)
    assert (p, r) == (0.5, 0.5)
    p, r = precision_recall(true, est, tol_mm=2.0)
    assert (p, r) == (pytest.approx(1 / 3), 0.5)
    p, r = precision_recall(true, np.zeros((0, 3)))
    assert np.isnan(p) and r == 0.0


def test_explained_variance():
    M = np.eye(2)
    assert explained_variance(M, np.diag([1.0, 0.0])) == pytest.approx(0.5)
    assert explained_variance(M, M) == pytest.approx(1.0)
    assert explained_variance(M, -M) == pytest.approx(-3.0)
    assert explained_variance(np.zeros((2, 2)), M) == 0.0
    with pytest.raises(ValueError, match="same shape"):
        explained_variance(M, np.ones(3))


def test_bad_positions():
    with pytest.raises(ValueError, match="true_pos"):
        localization_error(np.ones((2, 2)), _x(0))
    with pytest.raises(ValueError, match="est_amp"):
        emd(_x(0), [1.0], _x(0, 1), [1.0])


def test_stc_sources(small_template):
    import mne

    src = small_template.src
    verts = [src[0]["vertno"][[1, 5]], src[1]["vertno"][[2]]]
    data = np.array([[3.0, 4.0], [0.0, 1.0], [1.0, 0.0]])
    stc = mne.SourceEstimate(data, verts, tmin=0, tstep=1)
    pos, amp = stc_sources(stc, small_template.fwd)
    np.testing.assert_allclose(amp, [5.0, 1.0, 1.0])
    np.testing.assert_allclose(pos[0], src[0]["rr"][verts[0][0]])
    np.testing.assert_allclose(pos[2], src[1]["rr"][verts[1][0]])
    vec = mne.VectorSourceEstimate(
        np.stack([data, data, data], 1), verts, tmin=0, tstep=1
    )
    np.testing.assert_allclose(stc_sources(vec, src)[1], np.sqrt(3) * amp)
