"""Disclosure control of the regional figures of one quarter, audited by integer programming.

The rules (docs/privacy.md, "Disclosure control of regional figures"):

1. *Primary*: a person count of 1-7 is hidden.  Every other person count is rounded to the
   nearest 5 (:func:`omu.dashboards.suppression.suppress_count`); a shown non-zero ``c`` therefore
   says "exactly ``max(8, c - 2)`` to ``c + 2``".
2. *Secondary*, **jointly** over everything published for the quarter: the region, every wijk
   and every practice row (region = sum of wijken = sum of practices, with a practice's patients
   spread over the wijken it serves), the relations inside a row (``registered >= over_threshold
   >= first_time + baseline``, ``listed >= reached + not_reached + already_in_care``, ...) and
   every earlier published version of the quarter.  All of it is written as one system of linear
   constraints over whole, non-negative unknowns (one per practice, wijk served and count), and
   :func:`audit` asks ``scipy.optimize.milp`` what a reader of the published figures could
   conclude about every hidden count, every shown (rounded) count and every remainder of a
   relation (the number below the threshold, the number not reached...).  A figure is *safe*
   when the constraints allow at least two values for it, and, when its true value is 1-7, also
   a value of 0 or of 8 or more.  While something is unsafe, one more count next to it is hidden
   (deterministic choice, see :func:`_candidates`) and the audit runs again; if that does not
   settle within :data:`MAX_ROUNDS` rounds, the whole rows and columns involved are hidden, and
   as the last resort the whole quarter.  Hiding only ever removes constraints, so each step can
   only widen what a reader can conclude, and the last resort is always safe: it never raises.
3. *Re-publication*: a count hidden in an earlier version of the quarter stays hidden; earlier
   versions are part of the audit (a count whose exact value did not change is the same unknown
   in both versions).

Rates, intervals, funnel positions and chart data are computed afterwards *from the published
counts only* (dashboards/indicators.py), so they add nothing a reader could not compute from the
counts themselves.

The audit needs no optimal solution: every integer point the solver returns is a feasible
world, and a figure is certified safe by two feasible worlds that disagree on it (the true data
is one of them).  A figure that cannot be certified within the time limits (:data:`SOLVE_SECONDS`,
:data:`AUDIT_SECONDS`) counts as unsafe, so solver trouble can only make the result hide more;
only then can the result depend on the machine's speed.  Scale: one unknown per practice, wijk
served and count; witnesses come first from cheap local moves checked exactly, then from small
neighbourhood programs, whole-system solves last.  60 practices are audited with almost every
count of 8 or more shown; a city of 120 still runs out of rounds and falls back to hiding whole
rows (safe, but poor): carrying certified figures between rounds is the next step
(docs/scaling.md, "Disclosure audit of one quarter").
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from omu.dashboards.suppression import PRIMARY_MAX, PRIMARY_MIN, ROUNDING_BASE, suppress_count

__all__ = ["BAND_ROUNDING_BASE", "MAX_ROUNDS", "Version", "audit", "protect", "round_band"]

MAX_ROUNDS = 12  #: rounds of "hide one more per unsafe figure" before hiding whole rows/columns
BAND_ROUNDING_BASE = 10  #: age-band counts behind the standardised rate are rounded to this
#: unknowns from which the linear relaxation is tried before the integer solver; measured on
#: generated regions its optimum was always fractional (wasted time), so in effect never
LP_FIRST_FROM = 10**9
SOLVE_SECONDS = 5.0  #: time limit of one integer program (a timeout counts as "not certified")
BATCH_SECONDS = 2.0  #: time limit of a solve over many figures at once (any world it returns helps)
AUDIT_SECONDS = 60.0  #: time budget of one audit; figures not certified by then count as unsafe

REGION = "regio"
WIJK = "wijk"
PRACTICE = "praktijk"


def round_band(values: np.ndarray) -> np.ndarray:
    """Nearest multiple of 10, halves up: a rounded value ``r`` means ``r - 5 .. r + 4``, a range
    of ten that holds 0 (``r = 0``) or values from 14 up (``r >= 10``), so such a value can never
    pin a count nor confine it to 1-7."""
    v = np.asarray(values, dtype=np.int64)
    half = BAND_ROUNDING_BASE // 2
    return ((v + half) // BAND_ROUNDING_BASE) * BAND_ROUNDING_BASE


@dataclass
class Version:
    """One version of one quarter's figures: what was (or would be) published and why.

    ``areas``: ``(level, area_code)`` per row (level ``regio``/``wijk``/``praktijk``);
    ``exact``: the true counts, rows x ``columns``; ``hidden``: the suppression pattern;
    ``served``: the ``(practice_id, wijk_area)`` pairs with at least one registered patient.
    """

    areas: list[tuple[str, str]]
    columns: list[str]
    exact: np.ndarray
    hidden: np.ndarray
    served: list[tuple[str, str]]
    #: ``(column, total)`` pairs that are all-or-nothing per wijk (``in_deprived_wijk`` is the
    #: whole of ``registered`` in a deprived wijk and 0 elsewhere): public knowledge, since the
    #: deprivation of each wijk is public reference data
    tied: Sequence[tuple[str, str]] = ()

    def tied_wijken(self, column: str, total: str) -> set[str]:
        """Wijken where ``column`` is the whole of ``total`` (read from the wijk rows)."""
        c, t = self.columns.index(column), self.columns.index(total)
        return {
            code
            for a, (level, code) in enumerate(self.areas)
            if level == WIJK and self.exact[a, t] > 0 and self.exact[a, c] == self.exact[a, t]
        }

    def published(self) -> np.ndarray:
        """Rounded counts, -1 where hidden."""
        rounded = np.asarray(suppress_count(self.exact.astype(np.int64)))
        return np.where(self.hidden, -1, np.nan_to_num(rounded, nan=-1)).astype(np.int64)


@dataclass
class _Target:
    """A figure a reader could try to recover: a linear expression over the unknowns."""

    version: int
    area: int  # row of the version (-1 for a remainder's own row too: see ``cell``)
    column: int  # column index, or -1 for a remainder
    coefficients: dict[int, float]
    exact: int
    small_hidden: bool  # hidden (or never shown) and truly 1-7: must not be confined to 1-7
    relation: int = -1  # for a remainder: index of the relation
    seen: set[int] = field(default_factory=set)


class _Model:
    """The linear system of every published figure of a quarter, over all its versions."""

    def __init__(self, versions: Sequence[Version], relations: Sequence[tuple[str, Sequence[str]]]):
        self.versions = versions
        self.relations = [(t, list(p)) for t, p in relations]
        self.var_index: list[dict[tuple[int, int], int]] = []  # per version: (served, column) -> var
        n = 0
        for v in versions:
            index = {}
            for s in range(len(v.served)):
                for c in range(len(v.columns)):
                    index[(s, c)] = n
                    n += 1
            self.var_index.append(index)
        self.n_vars = n
        # members[v][area] = served indices aggregated into that area
        self.members: list[list[list[int]]] = []
        for v in versions:
            rows = []
            for level, code in v.areas:
                if level == REGION:
                    rows.append(list(range(len(v.served))))
                elif level == WIJK:
                    rows.append([s for s, (_, w) in enumerate(v.served) if w == code])
                else:
                    rows.append([s for s, (p, _) in enumerate(v.served) if p == code])
            self.members.append(rows)

    def cell(self, v: int, area: int, column: int) -> dict[int, float]:
        index = self.var_index[v]
        return {index[(s, column)]: 1.0 for s in self.members[v][area]}

    def constraints(self) -> tuple[coo_array, np.ndarray, np.ndarray]:
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        lo: list[float] = []
        hi: list[float] = []

        def add(coef: dict[int, float], low: float, high: float) -> None:
            r = len(lo)
            for k, a in coef.items():
                rows.append(r)
                cols.append(k)
                vals.append(a)
            lo.append(low)
            hi.append(high)

        for vi, v in enumerate(self.versions):
            col = {c: j for j, c in enumerate(v.columns)}
            index = self.var_index[vi]
            # within-row relations, per practice and wijk served (so they hold in every area)
            for total, parts in self.relations:
                for s in range(len(v.served)):
                    coef = {index[(s, col[p])]: 1.0 for p in parts}
                    coef[index[(s, col[total])]] = -1.0
                    add(coef, -np.inf, 0.0)
            # a pair is served because somebody is registered there (the practices column tells)
            if "registered" in col:
                for s in range(len(v.served)):
                    add({index[(s, col["registered"])]: 1.0}, 1.0, np.inf)
            for column, total in v.tied:
                whole = v.tied_wijken(column, total)
                for s, (_, w) in enumerate(v.served):
                    coef = {index[(s, col[column])]: 1.0}
                    if w in whole:
                        coef[index[(s, col[total])]] = -1.0
                    add(coef, 0.0, 0.0)
            published = v.published()
            for a in range(len(v.areas)):
                for c in range(len(v.columns)):
                    coef = self.cell(vi, a, c)
                    shown = published[a, c]
                    if shown < 0 or not coef:
                        continue  # hidden: no constraint (an empty area is 0 anyway)
                    if shown == 0:
                        add(coef, 0.0, 0.0)
                    else:
                        add(
                            coef, max(PRIMARY_MAX + 1, shown - ROUNDING_BASE // 2), shown + ROUNDING_BASE // 2
                        )
        # the same exact value in two versions: the same unknown for a reader who knows it
        for vi in range(1, len(self.versions)):
            new = self.versions[vi]
            for wi in range(vi):
                old = self.versions[wi]
                old_rows = {a: i for i, a in enumerate(old.areas)}
                old_cols = {c: j for j, c in enumerate(old.columns)}
                for a, key in enumerate(new.areas):
                    if key not in old_rows:
                        continue
                    for c, name in enumerate(new.columns):
                        if name not in old_cols:
                            continue
                        if new.exact[a, c] != old.exact[old_rows[key], old_cols[name]]:
                            continue
                        coef = self.cell(vi, a, c)
                        for k, x in self.cell(wi, old_rows[key], old_cols[name]).items():
                            coef[k] = coef.get(k, 0.0) - x
                        if coef:
                            add(coef, 0.0, 0.0)
        n_rows = len(lo)
        matrix = coo_array((vals, (rows, cols)), shape=(max(n_rows, 1), max(self.n_vars, 1)))
        if not n_rows:
            lo, hi = [-np.inf], [np.inf]
        return matrix, np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)

    def targets(self) -> list[_Target]:
        out: list[_Target] = []
        for vi, v in enumerate(self.versions):
            published = v.published()
            col = {c: j for j, c in enumerate(v.columns)}
            for a in range(len(v.areas)):
                for c in range(len(v.columns)):
                    exact = int(v.exact[a, c])
                    if published[a, c] == 0:
                        continue  # a shown 0 is exact by the rule
                    if published[a, c] < 0 and exact == 0:
                        continue  # a hidden 0 may be known: 0 could be shown anyway
                    out.append(
                        _Target(
                            vi,
                            a,
                            c,
                            self.cell(vi, a, c),
                            exact,
                            bool(published[a, c] < 0 and PRIMARY_MIN <= exact <= PRIMARY_MAX),
                        )
                    )
                # remainders of the relations (below the threshold, no outcome yet, ...)
                for r, (total, parts) in enumerate(self.relations):
                    exact = int(v.exact[a, col[total]] - sum(v.exact[a, col[p]] for p in parts))
                    if exact == 0 or not self.members[vi][a]:
                        continue
                    coef = self.cell(vi, a, col[total])
                    for p in parts:
                        for k, x in self.cell(vi, a, col[p]).items():
                            coef[k] = coef.get(k, 0.0) - x
                    out.append(
                        _Target(vi, a, -1, coef, exact, PRIMARY_MIN <= exact <= PRIMARY_MAX, relation=r)
                    )
        return out


def _safe(t: _Target) -> bool:
    if len(t.seen | {t.exact}) < 2:
        return False
    if t.small_hidden:
        return any(x == 0 or x > PRIMARY_MAX for x in t.seen)
    return True


def audit(versions: Sequence[Version], relations: Sequence[tuple[str, Sequence[str]]]) -> list[_Target]:
    """The figures a reader of every version could pin (or confine to 1-7), [] when none
    (figures the audit had no time to certify are included)."""
    return _audit(versions, relations)[0]


def _feasible(x: np.ndarray, csr, lo: np.ndarray, hi: np.ndarray) -> bool:
    """Whether ``x`` is a whole, non-negative solution of the system, checked exactly (every
    coefficient and bound of the system is a whole number, so integer arithmetic is exact)."""
    if x is None or np.any(x < 0):
        return False
    values = csr @ x
    return bool(np.all(values >= lo - 1e-9) and np.all(values <= hi + 1e-9))


class _Moves:
    """Small changes of a feasible world that keep every published figure: each feasible one is
    another feasible world (a witness), found without a solver.

    A move adds +-1 to a few unknowns of one practice and wijk served (one count, or the count
    with every total above it in the relations and its all-or-nothing partner), or shifts such a
    change from one served pair to another of the same practice or the same wijk.  Whether a moved
    world is feasible is checked exactly against every constraint (:meth:`feasible`), so the moves
    are only a guess of where to look: nothing is certified without that check."""

    def __init__(self, model: _Model):
        n = model.n_vars
        cols: list[list[tuple[int, float]]] = []
        self.by_practice: list[dict[str, list[int]]] = []
        self.by_wijk: list[dict[str, list[int]]] = []
        self.related: list[dict[int, set[int]]] = []  # per version: column -> columns above, below, tied
        for vi, v in enumerate(model.versions):
            col = {c: j for j, c in enumerate(v.columns)}
            index = model.var_index[vi]
            up: dict[int, set[int]] = {j: {j} for j in range(len(v.columns))}
            changed = True
            while changed:  # every total above a count, through the chains of relations
                changed = False
                for total, parts in model.relations:
                    for c in up:
                        if any(col[p] in up[c] for p in parts) and col[total] not in up[c]:
                            up[c].add(col[total])
                            changed = True
            tie = {col[c]: col[t] for c, t in v.tied}
            tied_in = {c: v.tied_wijken(c, t) for c, t in v.tied}
            by_practice: dict[str, list[int]] = {}
            by_wijk: dict[str, list[int]] = {}
            for s, (p, w) in enumerate(v.served):
                by_practice.setdefault(p, []).append(s)
                by_wijk.setdefault(w, []).append(s)
            self.by_practice.append(by_practice)
            self.by_wijk.append(by_wijk)
            related = {c: set(up[c]) for c in up}
            for c in up:
                for a in up[c]:
                    related[a].add(c)
            for tied_part, tied_total in tie.items():
                for c in related:
                    if tied_part in related[c] or tied_total in related[c]:
                        related[c] |= {tied_part, tied_total}
            self.related.append(related)

            def chain(s: int, c: int, v=v, up=up, tie=tie, tied_in=tied_in, index=index) -> list[int]:
                w = v.served[s][1]
                cells = set(up[c])
                for part, total in tie.items():  # keep an all-or-nothing column whole
                    if w in tied_in[v.columns[part]] and (part in cells or total in cells):
                        cells |= up[part] | up[total] | {part, total}
                return [index[(s, j)] for j in sorted(cells)]

            for s in range(len(v.served)):
                for c in range(len(v.columns)):
                    cols.append([(index[(s, c)], 1.0)])
                    cols.append([(index[(s, c)], -1.0)])
                    k = chain(s, c)
                    if len(k) > 1:
                        cols.append([(i, 1.0) for i in k])
                        cols.append([(i, -1.0) for i in k])
            # shifts between served pairs of one practice (all) and of one wijk (a few neighbours)
            pairs = [(a, b) for group in by_practice.values() for a in group for b in group if a != b]
            for group in by_wijk.values():
                for i, a in enumerate(group):
                    for step in (1, 2, 3):
                        if len(group) > step:
                            pairs.append((a, group[(i + step) % len(group)]))
            for a, b in pairs:
                for c in range(len(v.columns)):
                    cols.append([(index[(a, c)], 1.0), (index[(b, c)], -1.0)])
                    ka, kb = chain(a, c), chain(b, c)
                    if len(ka) > 1 or len(kb) > 1:
                        cols.append([(i, 1.0) for i in ka] + [(i, -1.0) for i in kb])
        rows, cs, vals = [], [], []
        for m, entries in enumerate(cols):
            for i, d in entries:
                rows.append(i)
                cs.append(m)
                vals.append(d)
        from scipy.sparse import csc_array

        self.matrix = csc_array((vals, (rows, cs)), shape=(n, len(cols)))
        self.matrix.sum_duplicates()

    def feasible(self, x: np.ndarray, csr, lo: np.ndarray, hi: np.ndarray, change) -> np.ndarray:
        """Indices of the moves that keep ``x`` a whole, non-negative solution (exact check:
        the constraints a move does not touch keep the values they have in ``x``)."""
        moves = self.matrix
        m = moves.shape[1]
        bad = np.zeros(m, dtype=bool)
        # non-negativity of the moved unknowns
        coo = moves.tocoo()
        neg = x[coo.row] + coo.data < 0
        bad[coo.col[neg]] = True
        values = csr @ x
        delta = change.tocoo()  # constraint rows x moves
        new = values[delta.row] + delta.data
        out = (new < lo[delta.row] - 1e-9) | (new > hi[delta.row] + 1e-9)
        bad[delta.col[out]] = True
        return np.flatnonzero(~bad)


def _audit(
    versions: Sequence[Version], relations: Sequence[tuple[str, Sequence[str]]], memory: dict | None = None
) -> tuple[list[_Target], bool]:
    """(unsafe figures, whether every figure got its full check within :data:`AUDIT_SECONDS`).

    The figures a reader of every version could pin (or confine to 1-7), [] when none.

    Certificates, not optima: every figure whose value in some feasible world differs from the
    truth (and, for a hidden 1-7, is 0 or 8+ in some world) is safe.  Worlds come, cheapest
    first, from ``pool`` (worlds of an earlier audit of the same versions with fewer figures
    hidden: hiding only removes constraints, and each is checked again anyway), from small moves
    around every world found (:class:`_Moves`), from a few solves with aggregate objectives over
    all figures still open, and only for what is left from two solves per figure.  Every world is
    checked exactly against the system before it counts; new worlds are appended to ``pool``.
    """
    model = _Model(versions, relations)
    targets = model.targets()
    if not targets or model.n_vars == 0:
        return [], True
    matrix, lo, hi = model.constraints()
    csr = matrix.tocsr()
    coef_vectors = []
    for t in targets:
        vec = np.zeros(model.n_vars)
        for k, x in t.coefficients.items():
            vec[k] = x
        coef_vectors.append(vec)
    coef_matrix = np.vstack(coef_vectors)
    from scipy.sparse import csr_array

    coef_sparse = csr_array(coef_matrix)
    memory = {} if memory is None else memory
    if "moves" not in memory:  # the same unknowns in every round of protect
        memory["moves"] = _Moves(model)
    moves = memory["moves"]
    move_change = (csr @ moves.matrix).tocsc()  # constraint rows x moves
    move_effect = (coef_sparse @ moves.matrix).tocsr()  # targets x moves
    pool = memory.setdefault("worlds", [])
    started = time.monotonic()

    def solve(objective: np.ndarray) -> np.ndarray | None:
        return _solve(objective, csr, lo, hi, model.n_vars, BATCH_SECONDS)

    def observe(x: np.ndarray | None, local: bool = True) -> None:
        if x is None or not _feasible(x, csr, lo, hi):
            return  # not a world of this system (solver tolerance): proves nothing
        values = np.round(coef_matrix @ x).astype(np.int64)
        for t, value in zip(targets, values, strict=True):
            t.seen.add(int(value))
        if not local:
            return
        ok = moves.feasible(x, csr, lo, hi, move_change)
        if not len(ok):
            return
        effect = move_effect[:, ok].tocsr()
        for j, t in enumerate(targets):
            a, b = effect.indptr[j], effect.indptr[j + 1]
            if a == b or _safe(t):
                continue
            for d in np.unique(np.round(effect.data[a:b]).astype(np.int64)):
                if d:
                    t.seen.add(int(values[j] + d))

    for x in list(pool):
        observe(x)

    def found(x: np.ndarray | None, local: bool = True) -> None:
        if x is not None and _feasible(x, csr, lo, hi) and local:
            pool.append(x)
        observe(x, local)

    moves_csc = moves.matrix.tocsc()

    def walk(j: int, base: np.ndarray, direction: int) -> None:
        """Step from ``base`` along moves that change figure ``j`` in ``direction`` while one is
        feasible (checked exactly, step by step) until ``j`` reaches 0 or 8+; the end is a world."""
        row = move_effect.indices[move_effect.indptr[j] : move_effect.indptr[j + 1]]
        eff = move_effect.data[move_effect.indptr[j] : move_effect.indptr[j + 1]]
        cand = row[np.sign(eff) == direction]
        if not len(cand):
            return
        x = base.copy()
        r = csr @ x
        value = int(round(coef_matrix[j] @ x))
        moved = False
        for _ in range(2 * (PRIMARY_MAX + 1)):
            step = None
            for m in cand:
                a, b = moves_csc.indptr[m], moves_csc.indptr[m + 1]
                if np.any(x[moves_csc.indices[a:b]] + moves_csc.data[a:b] < 0):
                    continue
                c, d = move_change.indptr[m], move_change.indptr[m + 1]
                rows_ = move_change.indices[c:d]
                new = r[rows_] + move_change.data[c:d]
                if np.all(new >= lo[rows_] - 1e-9) and np.all(new <= hi[rows_] + 1e-9):
                    step = m
                    break
            if step is None:
                break
            a, b = moves_csc.indptr[step], moves_csc.indptr[step + 1]
            x[moves_csc.indices[a:b]] += moves_csc.data[a:b]
            c, d = move_change.indptr[step], move_change.indptr[step + 1]
            r[move_change.indices[c:d]] += move_change.data[c:d]
            value = int(round(coef_matrix[j] @ x))
            moved = True
            if value <= 0 or value > PRIMARY_MAX or not targets[j].small_hidden:
                break
        if moved:
            found(x, local=False)

    if not pool:  # a first world: pushing every figure down is quick to solve
        found(solve(coef_matrix[[i for i, t in enumerate(targets) if not _safe(t)]].sum(axis=0)))
    # Walks: for every figure still open, from the first worlds found, down and up
    for j, t in enumerate(targets):
        for base in list(pool)[:3]:
            for direction in (-1, 1):
                if not _safe(t):
                    walk(j, base, direction)

    # Batches: push every unsettled figure down at once, then up at once (capped: a hidden count
    # with nothing above it is unbounded), then with random signs (fixed seed), while that
    # settles something; then one at a time.
    cap = float(max(1, int(max(abs(t.exact) for t in targets)) + 100) * 10)
    rng = np.random.default_rng(0)
    # (a solve of the whole system that finds no world in time is not tried again in this
    # protect: at city scale it never does, and neighbourhoods settle what is left)
    memory.setdefault("whole_fails", 0)

    def whole(x: np.ndarray | None) -> None:
        memory["whole_fails"] += x is None
        found(x)

    for _ in range(6):
        before = sum(_safe(t) for t in targets)
        for kind in ("down", "up", "mixed"):
            open_ = [i for i, t in enumerate(targets) if not _safe(t)]
            if not open_ or memory["whole_fails"] >= 2:
                break
            if kind == "mixed":
                signs = rng.choice([-1.0, 1.0], size=len(open_))
                whole(solve(signs @ coef_matrix[open_]))
                continue
            objective = coef_matrix[open_].sum(axis=0)
            whole(
                _solve_capped(objective, csr, lo, hi, model.n_vars, cap * len(open_), BATCH_SECONDS)
                if kind == "up"
                else solve(objective)
            )
        if sum(_safe(t) for t in targets) in (before, len(targets)):
            break

    def near(j: int, direction: int) -> None:
        """Push figure ``j`` down (-1) or up (+1) with only the unknowns around it free and every
        other unknown fixed at its value in the first world: a small integer program, and any
        solution of it is a world of the whole system (fixing only narrows where to look;
        :func:`_feasible` checks it)."""
        if not pool:
            return
        t = targets[j]
        vi, v = t.version, versions[t.version]
        col = {c: i for i, c in enumerate(v.columns)}
        names = (
            [v.columns[t.column]]
            if t.column >= 0
            else [model.relations[t.relation][0], *model.relations[t.relation][1]]
        )
        cols: set[int] = set()
        for name in names:
            cols |= moves.related[vi][col[name]]
        area = model.members[vi][t.area]
        k = max(1, 40 // max(1, len(area)))
        pairs = set(area)
        for s_ in area:
            p, w = v.served[s_]
            for group in (moves.by_practice[vi][p], moves.by_wijk[vi][w]):
                i = group.index(s_)
                pairs.update(group[(i + d) % len(group)] for d in range(1, min(k, len(group) - 1) + 1))
        free = np.array(sorted(model.var_index[vi][(s_, c)] for s_ in pairs for c in cols))
        base = pool[0]
        fixed = base.copy()
        fixed[free] = 0
        rest = csr @ fixed
        sub = csr[:, free].tocsr()
        rows_ = np.flatnonzero(np.diff(sub.indptr) > 0)
        result = milp(
            -direction * coef_matrix[j, free],
            constraints=LinearConstraint(sub[rows_], lo[rows_] - rest[rows_], hi[rows_] - rest[rows_]),
            bounds=Bounds(np.zeros(len(free)), np.full(len(free), cap)),
            integrality=np.ones(len(free)),
            options={"time_limit": SOLVE_SECONDS, "disp": False, "mip_rel_gap": 0.05},
        )
        if result.x is not None:
            x = base.copy()
            x[free] = np.round(result.x)
            found(x, local=False)

    complete = True
    for i, t in enumerate(targets):
        if _safe(t):
            continue
        if time.monotonic() - started > AUDIT_SECONDS:
            complete = False
            break  # out of time: what is not certified counts as unsafe (hide more, never less)
        near(i, 1)
        if not _safe(t):
            near(i, -1)
        if _safe(t):
            continue
        if memory["whole_fails"] >= 2:
            continue  # the whole system is too big for the solver in time: neighbourhoods only
        vec = coef_matrix[i]
        # up first (finds 8+ for a small count), capped so an unbounded figure still returns a point
        whole(_solve_capped(vec, csr, lo, hi, model.n_vars, cap))
        if not _safe(t) and memory["whole_fails"] < 2:
            whole(_solve(vec, csr, lo, hi, model.n_vars))  # down
    return [t for t in targets if not _safe(t)], complete


def _solve(
    objective: np.ndarray,
    matrix,
    lo: np.ndarray,
    hi: np.ndarray,
    n: int,
    seconds: float = SOLVE_SECONDS,
    upper: float = np.inf,
) -> np.ndarray | None:
    """Minimise ``objective @ x`` over the whole, non-negative solutions of the system.

    From :data:`LP_FIRST_FROM` unknowns on, the linear relaxation is tried first (a whole optimum
    is a world found cheaply); it is switched off today, since on these systems its optimum was
    always fractional and only cost time."""
    bounds = Bounds(np.zeros(n), np.full(n, upper))
    constraint = LinearConstraint(matrix, lo, hi)
    relaxed = (
        None
        if n < LP_FIRST_FROM
        else milp(
            objective,
            constraints=constraint,
            bounds=bounds,
            integrality=np.zeros(n),
            options={"time_limit": seconds, "disp": False},
        )
    )
    if (
        relaxed is not None
        and relaxed.x is not None
        and np.allclose(relaxed.x, np.round(relaxed.x), atol=1e-7)
    ):
        x = np.round(relaxed.x)
        values = matrix @ x
        if np.all(values >= lo - 1e-7) and np.all(values <= hi + 1e-7) and np.all(x >= 0):
            return x
    # a good feasible world is enough (a certificate, not an optimum): stop within 5 % of the bound
    result = milp(
        objective,
        constraints=constraint,
        bounds=bounds,
        integrality=np.ones(n),
        options={"time_limit": seconds, "disp": False, "mip_rel_gap": 0.05},
    )
    return None if result.x is None else np.round(result.x)


def _solve_capped(
    vec: np.ndarray, csr, lo: np.ndarray, hi: np.ndarray, n: int, cap: float, seconds: float = SOLVE_SECONDS
) -> np.ndarray | None:
    """Maximise ``vec @ x`` subject to the system and every unknown ``<= cap`` (always bounded).

    The bound only narrows where the solver looks (a dense row ``vec @ x <= cap`` instead made
    the solver find no world at all at city scale): whatever it returns is still a world of the
    system, and :func:`_feasible` checks that before it counts."""
    return _solve(-vec, csr, lo, hi, n, seconds, upper=cap)


# --------------------------------------------------------------------------------------------
# Choosing what else to hide
# --------------------------------------------------------------------------------------------


def _neighbours(
    v: Version, area: int, column: int, relations: Sequence[tuple[str, Sequence[str]]]
) -> list[tuple[int, int]]:
    """Cells that share an additive relation with (area, column): its row relations and its
    column's hierarchy (region over wijken and over practices)."""
    col = {c: j for j, c in enumerate(v.columns)}
    name = v.columns[column]
    cells = {(area, column)}
    for total, parts in relations:
        names = [total, *parts]
        if name in names:
            cells.update((area, col[n]) for n in names)
    level = v.areas[area][0]
    for a, (lv, _) in enumerate(v.areas):
        if level == REGION or lv in (REGION, level):
            cells.add((a, column))
    return sorted(cells)


def _candidates(v: Version, cells: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Shown cells among ``cells``, best first: non-zero before zero, then the smallest exact
    value, then a fixed order (level, area code, column order)."""
    rank = {REGION: 0, WIJK: 1, PRACTICE: 2}
    options = [
        ((int(v.exact[a, c]) == 0, int(v.exact[a, c]), rank[v.areas[a][0]], v.areas[a][1], c), (a, c))
        for a, c in cells
        if not v.hidden[a, c]
    ]
    return [cell for _, cell in sorted(options)]


def _target_cells(versions: Sequence[Version], t: _Target, relations) -> list[tuple[int, int]]:
    """Where in the newest version to look for a cell to hide for an unsafe figure."""
    new = versions[-1]
    old = versions[t.version]
    key = old.areas[t.area]
    if key not in new.areas:
        return []
    area = new.areas.index(key)
    if t.column >= 0:
        name = old.columns[t.column]
        columns = [new.columns.index(name)]
    else:
        total, parts = relations[t.relation]
        columns = [new.columns.index(n) for n in (total, *parts)]
    if t.column >= 0 and t.version == len(versions) - 1 and not new.hidden[area, columns[0]]:
        return [(area, columns[0])]  # a pinned shown count: hide it
    cells: set[tuple[int, int]] = set()
    for c in columns:
        cells.update(_neighbours(new, area, c, relations))
    return sorted(cells)


def protect(versions: Sequence[Version], relations: Sequence[tuple[str, Sequence[str]]]) -> np.ndarray:
    """The hidden pattern of the newest version (``versions[-1]``, whose ``hidden`` is ignored),
    given the earlier published versions of the same quarter.  Deterministic; never raises on
    valid input; the result passes :func:`audit` together with the earlier versions."""
    versions = list(versions)
    new = versions[-1]
    exact = new.exact.astype(np.int64)
    hidden = (exact >= PRIMARY_MIN) & (exact <= PRIMARY_MAX)
    # sticky: hidden once, hidden in every later version of the quarter
    for old in versions[:-1]:
        old_rows = {a: i for i, a in enumerate(old.areas)}
        old_cols = {c: j for j, c in enumerate(old.columns)}
        for a, key in enumerate(new.areas):
            for c, name in enumerate(new.columns):
                if key in old_rows and name in old_cols and old.hidden[old_rows[key], old_cols[name]]:
                    hidden[a, c] = True
    new.hidden = hidden
    # worlds found so far (hiding more keeps them feasible) and the moves, shared by the rounds
    memory: dict = {}
    unsafe, complete = _audit(versions, relations, memory)
    rounds = 0
    while unsafe and complete and rounds < MAX_ROUNDS:
        changed = False
        for t in sorted(unsafe, key=lambda t: (t.version, t.area, t.column, t.relation)):
            options = _candidates(new, _target_cells(versions, t, relations))
            if options:
                hidden[options[0]] = True
                changed = True
        if not changed:
            break
        unsafe, complete = _audit(versions, relations, memory)
        rounds += 1
    if not unsafe:
        return hidden
    # Fallback: the whole rows and columns of what is still unsafe (or was not checked in time).
    for t in unsafe:
        for a, c in _target_cells(versions, t, relations) or []:
            hidden[a, :] = True
            hidden[:, c] = True
    if _audit(versions, relations, memory)[0]:
        hidden[:, :] = True  # last resort: nothing of this version is shown
    return hidden
