"""Levels of N or D and the nearest level of each value."""

from __future__ import annotations

import numpy as np

from scalekit.analyses.grid import level_index, levels


def test_level_index_is_the_nearest_level_in_log_space_lower_on_ties():
    rng = np.random.default_rng(0)
    x = np.exp(rng.uniform(np.log(1e8), np.log(1e12), 5000))
    for lv in (levels(x[:300]), levels(x[:300])[::-1], np.array([1e10]), np.array([1e9, 1e11])):
        brute = np.abs(np.log(x)[:, None] - np.log(lv)[None]).argmin(axis=1)  # argmin: the first of equal distances
        np.testing.assert_array_equal(level_index(x, lv), brute)
    lv = np.array([1e9, 1e10, 1e11])
    tie = np.sqrt(1e9 * 1e10)  # as far from 1e9 as from 1e10 in log space
    assert list(level_index(np.array([1e7, tie, 1e13]), lv)) == [0, int(np.argmin(np.abs(np.log(tie) - np.log(lv)))), 2]
