"""Classical item statistics from recorded responses (Crocker & Algina 1986, ch. 14).

- exposure: the share of applicants who were given the item;
- p-value: the mean score on the item as a share of its maximum (for a keyed item, the
  proportion correct);
- point-biserial: the correlation of the item score with the rest score (the total over the
  applicant's other items), so the item does not correlate with itself (Henrysson 1963).
In an adaptive test every applicant sees different items at their own level, so p-values
shrink towards 0.5 and correlations are attenuated; read them next to the IRT parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ItemStats:
    item_id: str
    n: int
    exposure: float
    p_value: float
    point_biserial: float


def item_statistics(
    responses: np.ndarray, item_ids: list[str], max_scores: np.ndarray | None = None
) -> list[ItemStats]:
    """Statistics of every column of ``responses`` (persons × items, −1 = not given)."""
    x = np.asarray(responses, dtype=float)
    given = x >= 0
    scores = np.where(given, x, 0.0)
    top = np.maximum(scores.max(0), 1.0) if max_scores is None else np.asarray(max_scores, float)
    total = scores.sum(1)
    persons = max(x.shape[0], 1)
    out = []
    for j, item_id in enumerate(item_ids):
        sel = given[:, j]
        n = int(sel.sum())
        if n == 0:
            out.append(ItemStats(item_id, 0, 0.0, float("nan"), float("nan")))
            continue
        item = scores[sel, j]
        rest = total[sel] - item
        r = float("nan")
        if n > 2 and item.std() > 0 and rest.std() > 0:
            r = float(np.corrcoef(item, rest)[0, 1])
        out.append(ItemStats(item_id, n, n / persons, float(item.mean() / top[j]), r))
    return out
