"""The adaptive engine: pure, seeded and replayable.

One step (Weiss & Kingsbury 1984; van der Linden & Glas 2010, ch. 1):

1. The running ability is the EAP on the plan's quadrature grid; an answer adds one row
   of the plan's log-probability table to the log-likelihood (O(Q)), so nothing is
   re-estimated from scratch. EAP also has no all-correct/all-wrong failure mode, unlike
   the Dodd-type steps some engines use for MLE.
2. Content: hard topic quotas (min/max per attempt), enemy items and per-applicant
   exclusions make items ineligible; among eligible items the topic is chosen by the
   Kingsbury & Zara (1989) rule — the largest gap between the target share and the share
   given so far — except when the outstanding minimums need every remaining slot.
3. Selection: maximum Fisher information at the current estimate (Lord 1980), with
   randomesque (Kingsbury & Zara 1989) or Sympson–Hetter (1985) exposure control.
4. Stopping: max items, SE target (after min items and the topic minimums), section time.

Every random number comes from ``exam.cat.randomness`` (HMAC of the exam seed, the applicant's
pseudonym and the step), so the same inputs give the same items, thetas and scores.

The state holds a batch of B attempts of one section; the simulator runs thousands at
once, the web app one. ``start``/``decide``/``answer`` are the single-attempt functions:
they never modify their inputs.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from exam.cat import randomness
from exam.cat.pilots import pilot_count, pilot_schedule
from exam.cat.plan import InfeasibleError, SectionPlan
from scoring.ability import eap_from_loglik
from scoring.irt import info_3pl, item_information

ENGINE_VERSION = "seleksi-engine/1"

STOP_MAX_ITEMS = "max_items"
STOP_SE_TARGET = "se_target"
STOP_TIME = "time_limit"
STOP_FORM_COMPLETE = "form_complete"
STOP_POOL_EXHAUSTED = "pool_exhausted"
STOP_CLASSIFIED = "classified"
#: Stop reasons by code; code 0 means the attempt goes on.
STOP_REASONS = (
    "",
    STOP_MAX_ITEMS,
    STOP_SE_TARGET,
    STOP_TIME,
    STOP_FORM_COMPLETE,
    STOP_POOL_EXHAUSTED,
    STOP_CLASSIFIED,
)
_CODE = {name: i for i, name in enumerate(STOP_REASONS)}


@dataclass(eq=False)
class EngineState:
    """B attempts of one section. Arrays, row b per attempt."""

    loglik: np.ndarray  # (B, Q)
    theta: np.ndarray  # (B,)
    se: np.ndarray  # (B,)
    n: np.ndarray  # (B,) items answered
    counts: np.ndarray  # (B, T) items answered per topic
    avail: np.ndarray  # (B, T) eligible items left per topic
    eligible: np.ndarray  # (B, N)
    items: np.ndarray  # (B, L) pool index per step, −1 after the end
    responses: np.ndarray  # (B, L)
    thetas: np.ndarray  # (B, L) estimate after each answer
    ses: np.ndarray  # (B, L)
    form: np.ndarray  # (B, L) the drawn form of a fixed section, −1 for adaptive
    llr: np.ndarray  # (B,) log likelihood ratio of the classification test
    pilot_items: np.ndarray  # (B, P) index into config.pilot_items, −1 for none
    pilot_slots: np.ndarray  # (B, P) operational step before which each pilot comes
    pilot_responses: np.ndarray  # (B, P) recorded, never scored
    pilot_n: np.ndarray  # (B,) pilots answered

    @property
    def batch(self) -> int:
        return self.theta.shape[0]

    def copy(self) -> EngineState:
        return EngineState(**{f.name: getattr(self, f.name).copy() for f in _FIELDS})

    def take(self, rows: np.ndarray) -> EngineState:
        """The attempts in ``rows`` as a new batch (a copy)."""
        return EngineState(**{f.name: getattr(self, f.name)[rows] for f in _FIELDS})


_FIELDS = dataclasses.fields(EngineState)


@dataclass(frozen=True)
class Decision:
    """The engine's answer to "what next?": an item, or a reason to stop. A pilot item
    (``pilot``) is unscored; ``item`` then indexes ``config.pilot_items``."""

    item: int | None
    item_id: str | None
    stop_reason: str | None
    pilot: bool = False


# -- batch primitives -------------------------------------------------------------------


def initial_state(
    plan: SectionPlan, batch: int = 1, excluded: list[np.ndarray] | None = None
) -> EngineState:
    """B fresh attempts; ``excluded[b]`` lists pool indices attempt b must never see."""
    n, q, length = plan.size, len(plan.quad.points), plan.config.max_items
    pilots = pilot_count(plan.config)
    eligible = np.ones((batch, n), dtype=bool)
    avail = np.tile(np.bincount(plan.topic_of, minlength=plan.n_topics), (batch, 1))
    for b, given in enumerate(excluded or ()):
        rows = np.unique(np.asarray(given, dtype=np.int64))
        eligible[b, rows] = False
        avail[b] -= np.bincount(plan.topic_of[rows], minlength=plan.n_topics)
    closed = plan.topic_max == 0  # a topic the blueprint excludes
    if closed.any():
        eligible[:, closed[plan.topic_of]] = False
        avail[:, closed] = 0
    loglik = np.zeros((batch, q))
    theta, se = eap_from_loglik(loglik, plan.quad)
    return EngineState(
        loglik=loglik,
        theta=theta,
        se=se,
        n=np.zeros(batch, dtype=np.int64),
        counts=np.zeros((batch, plan.n_topics), dtype=np.int64),
        avail=avail,
        eligible=eligible,
        items=np.full((batch, length), -1, dtype=np.int64),
        responses=np.full((batch, length), -1, dtype=np.int64),
        thetas=np.full((batch, length), np.nan),
        ses=np.full((batch, length), np.nan),
        form=np.full((batch, length), -1, dtype=np.int64),
        llr=np.zeros(batch),
        pilot_items=np.full((batch, pilots), -1, dtype=np.int64),
        pilot_slots=np.full((batch, pilots), -1, dtype=np.int64),
        pilot_responses=np.full((batch, pilots), -1, dtype=np.int64),
        pilot_n=np.zeros(batch, dtype=np.int64),
    )


def stop_codes(
    plan: SectionPlan, st: EngineState, elapsed_s: np.ndarray | None = None
) -> np.ndarray:
    """Why each attempt stops now, as an index into STOP_REASONS (0: it goes on).

    Raises InfeasibleError when an attempt has no eligible item left but its topic
    minimums are not met: the engine never relaxes a constraint.
    """
    cfg = plan.config
    code = np.zeros(st.batch, dtype=np.int8)
    need = np.maximum(plan.topic_min - st.counts, 0).sum(1)
    timed_out = np.zeros(st.batch, dtype=bool)
    if cfg.time_limit_s is not None and elapsed_s is not None:
        timed_out = np.asarray(elapsed_s) >= cfg.time_limit_s
    if cfg.kind == "fixed":
        code[st.n >= (st.form >= 0).sum(1)] = _CODE[STOP_FORM_COMPLETE]
    else:
        # ``avail`` is kept at 0 for topics at their maximum (see ``record``).
        dry = (st.avail.sum(1) == 0) & (st.n < cfg.max_items)
        if dry.any():
            stuck = np.flatnonzero(dry & (need > 0) & ~timed_out)
            if stuck.size:
                b = int(stuck[0])
                raise InfeasibleError(
                    [
                        f"section {cfg.name}: attempt {b} has no eligible item left but still "
                        f"needs {int(need[b])} item(s) for its topic minimums"
                    ]
                )
            code[dry] = _CODE[STOP_POOL_EXHAUSTED]
        if cfg.se_target is not None:
            precise = (st.n >= cfg.min_items) & (st.se <= cfg.se_target) & (need == 0)
            code[precise] = _CODE[STOP_SE_TARGET]
        rule = cfg.classification
        if rule is not None:
            upper = np.log((1 - rule.beta) / rule.alpha)
            lower = np.log(rule.beta / (1 - rule.alpha))
            outside = (st.llr >= upper) | (st.llr <= lower)
            code[(st.n >= cfg.min_items) & (need == 0) & outside] = _CODE[STOP_CLASSIFIED]
        code[st.n >= cfg.max_items] = _CODE[STOP_MAX_ITEMS]
    code[timed_out] = _CODE[STOP_TIME]
    return code


def candidate_mask(plan: SectionPlan, st: EngineState) -> np.ndarray:
    """Eligible items of the topic each attempt should draw from next, (B, N)."""
    if plan.n_topics == 1:
        return st.eligible
    remaining = plan.config.max_items - st.n
    need = np.maximum(plan.topic_min - st.counts, 0)
    usable = st.avail > 0  # 0 also for topics at their maximum
    share = st.counts / np.maximum(st.n, 1)[:, None]
    deficit = np.where(usable, plan.target - share, -np.inf)
    allowed = np.zeros_like(usable)
    allowed[np.arange(st.batch), np.argmax(deficit, 1)] = True
    must_fill = need.sum(1) >= remaining
    if must_fill.any():
        allowed[must_fill] = (need[must_fill] > 0) & usable[must_fill]
    return st.eligible & allowed[:, plan.topic_of]


class Scratch:
    """Reusable work arrays for batch selection (results never depend on it)."""

    def __init__(self) -> None:
        self._arrays: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def get(self, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if shape not in self._arrays:
            self._arrays = {shape: tuple(np.empty(shape) for _ in range(3))}
        return self._arrays[shape]


def information(
    plan: SectionPlan,
    theta: np.ndarray,
    cols: np.ndarray | None = None,
    scratch: Scratch | None = None,
) -> np.ndarray:
    """Fisher information of pool items (all, or the given columns) at each θ, (B, N')."""
    p = plan.params
    if p.all_dichotomous:
        if cols is None:
            out = scratch.get((len(theta), p.a.size)) if scratch else None
            return info_3pl(theta[:, None], p.a, p.b, p.c, out, plan.info_scale)
        return info_3pl(
            theta[:, None], p.a[cols], p.b[cols], p.c[cols], scale=plan.info_scale[cols]
        )
    info = item_information(p, theta)
    return info if cols is None else info[:, cols]


_SINGLE_BLOCK = 20
_SORT_WHOLE_ROW = 800

#: Uniform numbers for selection: ``draw(rows, n)`` gives n numbers for each attempt in
#: ``rows``, and a longer draw extends a shorter one (the SHAKE-256 stream).
DrawFn = Callable[[np.ndarray, int], np.ndarray]


def attempt_draws(seed: bytes, pseudonyms: list[str], section: str, steps: np.ndarray) -> DrawFn:
    """The selection draws of attempts ``pseudonyms`` at their ``steps``."""

    def draw(rows: np.ndarray, n: int) -> np.ndarray:
        if len(pseudonyms) == 1:
            return randomness.uniforms(seed, pseudonyms[0], section, int(steps[0]), "select", n)[
                None, :
            ]
        names = [pseudonyms[int(r)] for r in rows]
        return randomness.uniforms_many(seed, names, section, steps[rows], "select", n)

    return draw


def _ranked(neg: np.ndarray, cols: np.ndarray, hi: int) -> np.ndarray:
    """The ``hi`` best items of each row (``cols``, ascending, names the columns), most
    informative first. Equal information falls back to pool order, also where a tie
    straddles the cut, so the ranking is a function of the values alone, not of the
    partition algorithm."""
    b, width = neg.shape
    if b == 1 and width <= _SORT_WHOLE_ROW:
        # ``cols`` ascends, so a stable sort gives the same order, faster on short rows.
        return cols[np.argsort(neg[0], kind="stable")[:hi]][None, :]
    rows = np.arange(b)[:, None]
    if hi < width:
        part = np.argpartition(neg, hi, axis=1)
        top = part[:, :hi]
        # The (hi+1)-th best equal to the hi-th best: a tie straddles the cut.
        kth = neg[rows, top].max(1)
        crowded = (neg[rows[:, 0], part[:, hi]] == kth) & np.isfinite(kth)
        for r in np.flatnonzero(crowded):
            top[r] = np.lexsort((cols, neg[r]))[:hi]
    else:
        top = np.tile(np.arange(width), (b, 1))
    item = cols[top]
    order = np.lexsort((item, neg[rows, top]), axis=1)
    return item[rows, order]


def _pick(
    plan: SectionPlan,
    info: np.ndarray,
    cols: np.ndarray,
    n_valid: np.ndarray,
    draw: DrawFn,
    want_faced: bool = False,
):
    """Choose one column per row of ``info`` (−inf = not a candidate; ``n_valid`` per row
    are candidates); ``info`` is used up (negated in place).

    Returns the chosen items and, for Sympson–Hetter, every item that faced the exposure
    lottery (for deriving the K_i by simulation).
    """
    exp = plan.config.exposure
    if exp.method == "none":
        return cols[np.argmax(info, 1)], None
    b, width = info.shape
    everyone = np.arange(b)
    neg = np.negative(info, out=info)
    if exp.method == "randomesque":
        k = min(exp.k, width)
        ranked = _ranked(neg, cols, k)
        k_eff = np.minimum(n_valid, k)
        pos = np.minimum((draw(everyone, 1)[:, 0] * k_eff).astype(np.int64), k_eff - 1)
        return ranked[everyone, pos], None
    # Sympson–Hetter: walk down the ranked list, giving item i with probability K_i;
    # when every item is refused, the most informative one is given. The list is ranked
    # block by block (position j always uses uniform j, so the block size changes the
    # work, never the result); one attempt alone rarely walks far.
    m = min(exp.candidates if b > 1 else _SINGLE_BLOCK, width)
    chosen = np.full(b, -1, dtype=np.int64)
    faced: list[np.ndarray] | None = [] if want_faced else None
    pending, block = everyone, 0
    while pending.size:
        lo, hi = block * m, min((block + 1) * m, width)
        ranked = _ranked(neg if block == 0 else neg[pending], cols, hi)
        items = ranked[:, lo:hi]
        valid = np.arange(lo, hi) < n_valid[pending][:, None]
        accept = valid & (draw(pending, hi)[:, lo:hi] < plan.sh_k[items])
        took = accept.any(1)
        first = np.argmax(accept, 1)
        if faced is not None:
            walked = np.where(took, first, hi - lo - 1)
            faced.append(items[valid & (np.arange(hi - lo) <= walked[:, None])])
        if took.all():
            chosen[pending] = items[everyone[: took.size], first]
            break
        chosen[pending[took]] = items[took, first[took]]
        exhausted = ~took & (hi >= n_valid[pending])
        chosen[pending[exhausted]] = ranked[exhausted, 0]
        pending = pending[~took & ~exhausted]
        block += 1
    return chosen, None if faced is None else np.concatenate(faced)


def select_items(
    plan: SectionPlan,
    st: EngineState,
    draw: DrawFn,
    want_faced: bool = False,
    scratch: Scratch | None = None,
):
    """The next pool item of every attempt of an adaptive section."""
    mask = candidate_mask(plan, st)
    if st.batch == 1:
        cols = np.flatnonzero(mask[0])
        n_valid = np.array([cols.size])
        info = information(plan, st.theta, cols)
    else:
        cols = np.arange(plan.size)
        n_valid = mask.sum(1)
        info = information(plan, st.theta, scratch=scratch)
        np.copyto(info, -np.inf, where=~mask)
    if not n_valid.all():
        raise InfeasibleError([f"section {plan.config.name}: no eligible item to select"])
    item, faced = _pick(plan, info, cols, n_valid, draw, want_faced)
    return (item, faced) if want_faced else item


def record(plan: SectionPlan, st: EngineState, items: np.ndarray, responses: np.ndarray) -> None:
    """Add one answer to every attempt, in place: ability, history and eligibility."""
    rows = np.arange(st.batch)
    st.loglik += plan.logp[items, :, responses]
    if plan.sprt_logp is not None:
        st.llr += plan.sprt_logp[items, responses]
    st.theta, st.se = eap_from_loglik(st.loglik, plan.quad)
    pos = st.n
    st.items[rows, pos] = items
    st.responses[rows, pos] = responses
    st.thetas[rows, pos] = st.theta
    st.ses[rows, pos] = st.se
    st.n += 1
    topic = plan.topic_of[items]
    st.avail[rows, topic] -= st.eligible[rows, items]
    st.eligible[rows, items] = False
    st.counts[rows, topic] += 1
    full = st.counts[rows, topic] >= plan.topic_max[topic]
    if full.any():
        r, t = rows[full], topic[full]
        st.eligible[r] &= plan.topic_of != t[:, None]
        st.avail[r, t] = 0
    for b in np.flatnonzero(plan.has_enemy[items]):
        enemies = plan.enemies_of(int(items[b]))
        newly = enemies[st.eligible[b, enemies]]
        st.eligible[b, newly] = False
        np.subtract.at(st.avail[b], plan.topic_of[newly], 1)


# -- fixed forms ------------------------------------------------------------------------


def draw_form(
    plan: SectionPlan, seed: bytes, pseudonym: str, excluded: np.ndarray | None = None
) -> np.ndarray:
    """A random form for a fixed section, as CAT BKN draws one from the blueprint.

    Items are taken in a keyed random order: first to fill every topic's minimum, then
    up to the form length within the topic maximums; enemies of a taken item are skipped.
    The form is presented in the same keyed order.
    """
    cfg = plan.config
    u = randomness.uniforms(seed, pseudonym, cfg.name, 0, "form", plan.size)
    order = np.lexsort((np.arange(plan.size), u))
    blocked = np.zeros(plan.size, dtype=bool)
    if excluded is not None:
        blocked[np.asarray(excluded, dtype=np.int64)] = True
    counts = np.zeros(plan.n_topics, dtype=np.int64)
    chosen: list[int] = []

    def take(i: int) -> None:
        chosen.append(i)
        blocked[i] = True
        blocked[plan.enemies_of(i)] = True
        counts[plan.topic_of[i]] += 1

    for i in order:
        if not blocked[i] and counts[plan.topic_of[i]] < plan.topic_min[plan.topic_of[i]]:
            take(int(i))
    for i in order:
        if len(chosen) >= cfg.length:
            break
        if not blocked[i] and counts[plan.topic_of[i]] < plan.topic_max[plan.topic_of[i]]:
            take(int(i))
    short = [
        f"topic {plan.topic_names[t]} has {counts[t]} of its minimum {plan.topic_min[t]}"
        for t in range(plan.n_topics)
        if counts[t] < plan.topic_min[t]
    ]
    if len(chosen) < cfg.length:
        short.append(f"only {len(chosen)} of {cfg.length} items could be drawn")
    if short:
        raise InfeasibleError([f"section {cfg.name}: {s}" for s in short])
    return np.array(sorted(chosen, key=lambda i: (u[i], i)), dtype=np.int64)


# -- single attempt ---------------------------------------------------------------------


def start(
    plan: SectionPlan,
    seed: bytes,
    pseudonym: str,
    excluded: list[str] | tuple[str, ...] = (),
) -> EngineState:
    """A fresh attempt of one section; ``excluded`` item ids are never served."""
    exposure = plan.config.exposure
    adaptive = plan.config.kind == "adaptive"
    if adaptive and exposure.method == "sympson-hetter" and not exposure.derived:
        raise InfeasibleError(
            [
                f"section {plan.config.name}: Sympson-Hetter exposure parameters have not been "
                "derived (run the exam check before opening)"
            ]
        )
    rows = np.zeros(0, dtype=np.int64)
    if excluded:
        index = {item_id: i for i, item_id in enumerate(plan.ids)}
        rows = np.array([index[i] for i in excluded if i in index], dtype=np.int64)
    st = initial_state(plan, 1, [rows])
    if plan.config.kind == "fixed":
        form = draw_form(plan, seed, pseudonym, rows)
        st.form[0, : len(form)] = form
    chosen, slots = pilot_schedule(plan.config, seed, pseudonym, set(excluded))
    st.pilot_items[0, : len(chosen)] = chosen
    st.pilot_slots[0, : len(slots)] = slots
    return st


def decide(
    plan: SectionPlan,
    st: EngineState,
    seed: bytes,
    pseudonym: str,
    elapsed_s: float | None = None,
) -> Decision:
    """The next item of a single attempt, or why it stops."""
    elapsed = None if elapsed_s is None else np.array([elapsed_s])
    code = int(stop_codes(plan, st, elapsed)[0])
    if code:
        return Decision(None, None, STOP_REASONS[code])
    step = int(st.n[0])
    done = int(st.pilot_n[0])
    if done < st.pilot_slots.shape[1] and 0 <= st.pilot_slots[0, done] <= step:
        pilot = int(st.pilot_items[0, done])
        return Decision(pilot, plan.config.pilot_items[pilot], None, pilot=True)
    if plan.config.kind == "fixed":
        item = int(st.form[0, step])
    else:
        draw = attempt_draws(seed, [pseudonym], plan.config.name, st.n)
        item = int(select_items(plan, st, draw)[0])
    return Decision(item, plan.ids[item], None)


def answer_pilot(st: EngineState, response: int) -> EngineState:
    """A new state with the due pilot item answered (recorded, never scored)."""
    new = st.copy()
    new.pilot_responses[0, new.pilot_n[0]] = response
    new.pilot_n[0] += 1
    return new


def answer(plan: SectionPlan, st: EngineState, item: int, response: int) -> EngineState:
    """A new state with one more answer (the input state is left as it was)."""
    if not 0 <= response < int(plan.params.n_categories[item]):
        raise ValueError(f"item {plan.ids[item]}: response {response} is not a category")
    new = st.copy()
    record(plan, new, np.array([item], dtype=np.int64), np.array([response], dtype=np.int64))
    return new


def dumps(st: EngineState) -> bytes:
    """The state as bytes, to keep between requests: a JSON header of dtypes and shapes,
    then each array's raw bytes (no pickling; much faster than an npz archive)."""
    arrays = [np.ascontiguousarray(getattr(st, f.name)) for f in _FIELDS]
    prefix = _prefix(tuple((a.dtype.str, a.shape) for a in arrays))
    return b"".join([prefix, *(a.tobytes() for a in arrays)])


@functools.lru_cache(maxsize=256)
def _prefix(layout: tuple[tuple[str, tuple[int, ...]], ...]) -> bytes:
    """The header's length and the header of ``dumps``, for each field's dtype and shape."""
    header = json.dumps([[dtype, list(shape)] for dtype, shape in layout]).encode()
    return len(header).to_bytes(4, "big") + header


def loads(data: bytes) -> EngineState:
    """The state written by ``dumps``."""
    size = int.from_bytes(data[:4], "big")
    offset = 4 + size
    fields = {}
    for name, dt, shape, count in _layout(bytes(data[4:offset])):
        fields[name] = np.frombuffer(data, dt, count, offset).reshape(shape).copy()
        offset += count * dt.itemsize
    return EngineState(**fields)


@functools.lru_cache(maxsize=256)
def _layout(header: bytes) -> tuple[tuple[str, np.dtype, tuple[int, ...], int], ...]:
    """Each field's name, dtype, shape and element count, from a ``dumps`` header. The
    states of one section share a handful of headers, so they are parsed once per process."""
    return tuple(
        (f.name, np.dtype(dtype), tuple(shape), math.prod(shape))
        for f, (dtype, shape) in zip(_FIELDS, json.loads(header), strict=True)
    )
