"""What may be shown: the anonymity rules every outlet (Slack, App Home, CLI, CSV, archive) goes through.

Terms
- A *run* is one closed survey; its answer sets are sealed at close and never change afterwards.
- Each answer set carries a few *labels* fixed at submission (e.g. ("channel", "C1") for a breakdown). A
  *stratum* is a run plus a set of labels; the database counts answer sets per stratum (`GROUP BY`), which is
  all these rules need: they never see an answer or a person.
- A *cell* is a group whose aggregate an outlet shows: the answer sets of some runs (one run, or several
  pooled) that carry all of the cell's `where` labels. The audience total of a run is the cell with no labels.
- The *ledger* is every cell released so far for a survey series, on any outlet, with its size at release.

The rule (k = the survey's minimum number of respondents)
Every statistic Hearth shows (counts per value, means, shares, the index) is a sum over the answer sets of a
cell. So anything an observer can compute from several releases — a difference, a sum, any linear
combination — is a weighted sum over answer sets whose weight is the same for all answer sets that lie in
exactly the same released cells. Call such a class an *atom*. Hearth releases a new cell only if:
  1. the cell holds at least k answer sets, and
  2. with the cell added to the ledger, every non-empty atom still holds at least k answer sets.
Then no combination of released results — across outlets, breakdowns and runs — depends on fewer than k
answer sets: its non-zero weights cover whole atoms. This implies the familiar rules (a shown group and its
complement both hold k; a nested channel cannot be subtracted from its parent to leave fewer than k; a
result cannot be re-released after one late answer) and is stricter than they are when breakdowns overlap.

Runs must not change after a release: the ledger stores each cell's size, and a cell whose runs no longer
match it (an answer set added or archived) makes every request touching those runs refused.

Optional questions: an answer set that skipped a question is not in that question's sums, so each counted
question is its own *scope* with its own population (answer sets that answered it, per stratum) and its own
ledger; `release_by_scope` applies the rule in each. A cell then shows a question only where that question's
scope accepts it (the respondent count has a scope of its own too). Scopes are independent: a combination
across them is a sum of per-scope combinations, each touching no answer sets or at least k.

What the rule does not cover, by design: when every answer set of a shown cell gave the same answer, the
result says what each of them answered (as with any k-anonymity); the minimum still hides which k people they
were. And a label stored with an answer set narrows who wrote it in a database dump, so the storage layer
should keep only labels that at least k members of the audience carry (and the ledger, per survey series and
scope, next to the results it guards).

Free-text comments are individual sentences, not sums, so they are never broken down: they are shown only
for a whole run, sorted (no submission order), and only when the run has at least the comment minimum.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

Label = tuple[str, str]  # (dimension, value), e.g. ("channel", "C0123")


def labels(*pairs: Label) -> tuple[Label, ...]:
    """Labels in one canonical order, so equal sets compare equal."""
    return tuple(sorted(set(pairs)))


@dataclass(frozen=True, order=True)
class Stratum:
    run: str
    labels: tuple[Label, ...] = ()


Population = Mapping[Stratum, int]  # answer sets per stratum


@dataclass(frozen=True, order=True)
class Cell:
    runs: frozenset[str]
    where: tuple[Label, ...] = ()

    @classmethod
    def of(cls, *runs: str, where: Iterable[Label] = ()) -> Cell:
        return cls(frozenset(runs), labels(*where))

    def contains(self, stratum: Stratum) -> bool:
        return stratum.run in self.runs and all(pair in stratum.labels for pair in self.where)

    def size(self, population: Population) -> int:
        return sum(n for s, n in population.items() if n > 0 and self.contains(s))


@dataclass(frozen=True)
class Ledger:
    """Cells released so far (any outlet) → how many answer sets each held when released."""

    released: Mapping[Cell, int] = field(default_factory=dict)

    def cells(self) -> frozenset[Cell]:
        return frozenset(self.released)


@dataclass(frozen=True)
class Decision:
    ledger: Ledger  # the ledger after this release
    shown: tuple[Cell, ...]  # requested cells that may be shown, in request order
    withheld: tuple[Cell, ...]  # requested cells that may not


def atoms(cells: Iterable[Cell], population: Population) -> dict[frozenset[Cell], int]:
    """Answer sets grouped by exactly which of `cells` they fall in (those in none are left out)."""
    cells = tuple(cells)
    sizes: dict[frozenset[Cell], int] = defaultdict(int)
    for stratum, n in population.items():
        if n <= 0:
            continue
        key = frozenset(c for c in cells if c.contains(stratum))
        if key:
            sizes[key] += n
    return dict(sizes)


def is_safe(cells: Iterable[Cell], population: Population, k: int) -> bool:
    """Rule 2 for a whole set of released cells: every non-empty atom holds at least k answer sets."""
    return all(n >= k for n in atoms(cells, population).values())


def release(ledger: Ledger, requested: Sequence[Cell], population: Population, k: int) -> Decision:
    """Decide which requested cells may be shown now, in order (put the audience total first, then groups
    from the largest). Cells already in the ledger are shown again as they were; each new one is added only
    if the rules still hold with everything accepted before it."""
    if k < 1:
        raise ValueError("the minimum must be at least 1")
    index = _Atoms(population, ledger.released)
    changed = index.changed_runs(ledger)
    accepted = dict(ledger.released)
    shown: list[Cell] = []
    withheld: list[Cell] = []
    for cell in requested:
        if cell.runs & changed or not cell.runs:
            withheld.append(cell)
        elif cell in accepted:
            shown.append(cell)
        elif index.try_add(cell, k):
            accepted[cell] = index.size(cell)
            shown.append(cell)
        else:
            withheld.append(cell)
    return Decision(Ledger(accepted), tuple(shown), tuple(withheld))


class _Atoms:
    """Atom sizes kept up to date as cells are added, so a decision costs the strata of the cell's runs, not
    every stratum times every released cell (a long-running community has many runs and breakdowns).
    `is_safe` is the plain statement of the same rule; the tests hold the two to the same answers."""

    def __init__(self, population: Population, cells: Iterable[Cell]) -> None:
        self.by_run: dict[str, list[tuple[Stratum, int]]] = defaultdict(list)
        for stratum, n in population.items():
            if n > 0:
                self.by_run[stratum.run].append((stratum, n))
        self.keys: dict[Stratum, frozenset[Cell]] = {}
        cells_by_run: dict[str, list[Cell]] = defaultdict(list)
        for cell in cells:
            for run in cell.runs:
                cells_by_run[run].append(cell)
        self.sizes: dict[frozenset[Cell], int] = defaultdict(int)
        self.released_sizes: dict[Cell, int] = defaultdict(int)
        for run, strata in self.by_run.items():
            for stratum, n in strata:
                key = frozenset(c for c in cells_by_run.get(run, ()) if c.contains(stratum))
                self.keys[stratum] = key
                self.sizes[key] += n
                for c in key:
                    self.released_sizes[c] += n

    def members(self, cell: Cell) -> list[tuple[Stratum, int]]:
        return [(s, n) for run in cell.runs for s, n in self.by_run.get(run, ()) if cell.contains(s)]

    def size(self, cell: Cell) -> int:
        return sum(n for _, n in self.members(cell))

    def changed_runs(self, ledger: Ledger) -> frozenset[str]:
        changed: set[str] = set()
        for cell, size in ledger.released.items():
            if self.released_sizes.get(cell, 0) != size:
                changed |= cell.runs
        return frozenset(changed)

    def try_add(self, cell: Cell, k: int) -> bool:
        """Add `cell` if it holds k and leaves every atom it splits at 0 or at least k; say whether it did."""
        members = self.members(cell)
        if sum(n for _, n in members) < k:
            return False
        delta: dict[frozenset[Cell], int] = defaultdict(int)
        for stratum, n in members:
            delta[self.keys[stratum]] -= n
            delta[self.keys[stratum] | {cell}] += n
        if any(key and 0 < self.sizes[key] + d < k for key, d in delta.items()):
            return False
        for key, d in delta.items():
            self.sizes[key] += d
        for stratum, _ in members:
            self.keys[stratum] = self.keys[stratum] | {cell}
        return True


def release_by_scope(
    ledgers: Mapping[str, Ledger], requested: Sequence[Cell], populations: Mapping[str, Population], k: int
) -> dict[str, Decision]:
    """`release` in each scope (e.g. "respondents" and one per question id), each against its own ledger."""
    return {scope: release(ledgers.get(scope, Ledger()), requested, population, k) for scope, population in populations.items()}


def breakdown_request(runs: Iterable[str], dimension: str, population: Population) -> list[Cell]:
    """The audience total, then one cell per value of `dimension` seen in these runs, largest first (so when
    not every group can be shown, the larger ones are)."""
    runs = frozenset(runs)
    total = Cell(runs)
    values = sorted({v for s in population if s.run in runs for d, v in s.labels if d == dimension})
    groups = [Cell(runs, ((dimension, v),)) for v in values]
    groups.sort(key=lambda c: (-c.size(population), c.where))
    return [total, *groups]


def comments_visible(respondents: int, comment_minimum: int, minimum: int) -> bool:
    """Comments of a run are shown only when the run itself is shown and meets the comment minimum."""
    return respondents >= max(comment_minimum, minimum)


def shown_comments(comments: Iterable[str], respondents: int, comment_minimum: int, minimum: int) -> tuple[str, ...]:
    """The comments an outlet may show: all of them, sorted (so no order hints at who wrote first), or none."""
    if not comments_visible(respondents, comment_minimum, minimum):
        return ()
    return tuple(sorted(c.strip() for c in comments if c and c.strip()))
