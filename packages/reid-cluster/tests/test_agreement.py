from __future__ import annotations

import numpy as np
import pytest

from reid_cluster import cross_agreement, neighbour_set_jaccard


def test_neighbour_set_jaccard_hand_made():
    a = np.array([[1, 2, 3], [0, 2, 3]])
    b = np.array([[3, 2, 1], [4, 5, 0]])
    assert neighbour_set_jaccard(a, b).tolist() == [1.0, pytest.approx(1 / 5)]


def test_cross_agreement_hand_made():
    # points on a line; space b reverses the order of the first group's neighbours
    a = np.array([[0.0], [1.0], [2.0], [3.0], [10.0], [11.0]], dtype=np.float32)
    s = cross_agreement(a, a, k=2)
    assert np.allclose(s, 1.0)
    b = a.copy()
    b[0] = 2.9  # point 0 moves next to 2 and 3: its neighbours {1,2} become {2,3}
    s = cross_agreement(a, b, k=2)
    assert s[0] == pytest.approx(1 / 3)  # {1,2} vs {2,3}
    assert s[4] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same samples"):
        cross_agreement(a, a[:3], k=1)
