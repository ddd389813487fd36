import numpy as np
import pytest

from itembank.stats import item_statistics


def test_statistics_by_hand():
    # Four applicants, three items; −1 = not given.
    x = np.array([[1, 1, -1], [1, 0, 2], [0, 0, 1], [1, 1, 3]])
    stats = {s.item_id: s for s in item_statistics(x, ["a", "b", "c"], np.array([1.0, 1.0, 3.0]))}
    assert stats["a"].n == 4 and stats["a"].exposure == 1.0 and stats["a"].p_value == 0.75
    assert stats["c"].n == 3 and stats["c"].exposure == 0.75
    assert stats["c"].p_value == pytest.approx(6 / 9)
    # Item b against the rest score (total minus b): rest = [1, 3, 1, 4].
    item_b, rest = np.array([1, 0, 0, 1]), np.array([1, 3, 1, 4])
    assert stats["b"].point_biserial == pytest.approx(np.corrcoef(item_b, rest)[0, 1])


def test_an_unseen_item_has_no_statistics():
    [s] = item_statistics(np.array([[-1], [-1]]), ["z"])
    assert s.n == 0 and np.isnan(s.p_value)
