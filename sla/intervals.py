"""Half-open intervals `[start, end)` in integer seconds since the epoch, and sets of them.

A set of intervals is a sorted list of disjoint, non-touching `(start, end)` pairs (`normalize` makes one).
Two intervals that only touch do not overlap (sla-semantics §1); in a set they merge, which changes no
measure. Every figure of the engine is a `measure` of such sets, so union ("counted once even where
outages overlap", STD 4.1.2) and intersection with a calendar are exact integer arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable

Interval = tuple[int, int]
IntervalSet = list[Interval]


def normalize(intervals: Iterable[Interval]) -> IntervalSet:
    """Union of any intervals, as a sorted set; empty intervals vanish."""
    out: IntervalSet = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def union(*sets: IntervalSet) -> IntervalSet:
    return normalize(i for s in sets for i in s)


def intersect(a: IntervalSet, b: IntervalSet) -> IntervalSet:
    """Intersection of two normalized sets (two-pointer walk)."""
    out: IntervalSet = []
    i = j = 0
    len_a, len_b = len(a), len(b)
    while i < len_a and j < len_b:
        a_start, a_end = a[i]
        b_start, b_end = b[j]
        start = a_start if a_start >= b_start else b_start  # as max(): the first on a tie
        end = a_end if a_end <= b_end else b_end  # as min(): the first on a tie
        if start < end:
            out.append((start, end))
        if a_end < b_end:
            i += 1
        else:
            j += 1
    return out


def subtract(a: IntervalSet, b: IntervalSet) -> IntervalSet:
    """`a` minus `b`, both normalized."""
    out: IntervalSet = []
    j = 0
    for start, end in a:
        cursor = start
        while j < len(b) and b[j][1] <= cursor:
            j += 1
        k = j
        while k < len(b) and b[k][0] < end:
            if b[k][0] > cursor:
                out.append((cursor, b[k][0]))
            cursor = max(cursor, b[k][1])
            if cursor >= end:
                break
            k += 1
        if cursor < end:
            out.append((cursor, end))
    return out


def clip(a: IntervalSet, start: int, end: int) -> IntervalSet:
    return intersect(a, [(start, end)]) if end > start else []


def measure(a: IntervalSet) -> int:
    return sum(end - start for start, end in a)


def overlaps(a: Interval, b: Interval) -> bool:
    """Half-open overlap: intervals that only touch do not overlap."""
    return a[0] < b[1] and b[0] < a[1]
