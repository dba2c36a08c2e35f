"""From probe samples to outages (sla-semantics §5; CP preamble "Interruption", microcoupures excluded).

Per probe, the samples become a timeline of *failing* and *unknown* intervals:
- a probe enters failing at the first failed sample of a run of `down_after` consecutive failures and
  leaves it at the first successful sample of a run of `up_after` successes;
- when two consecutive samples are more than 3 × `interval_s` apart, the state is unknown on
  `[previous + interval_s, next)` and the run counters restart; so is the time before the first sample
  and from the last sample + `interval_s` on (a failing state still open there ends at that point).

Per service, the probes combine: the service is down where at least `quorum` probes (default: all) of
every group are failing — "absence totale du service" (STD x.1.2), and for Mobile "Voix + Data" (IX
12.1.2): the voice group and the data group both down. It is unknown where it is not down but would be
if the unknown probes were failing.

The per-probe pass is vectorised with numpy: it reads each sample a constant number of times, so a month of
30-second samples of a thousand service instances qualifies in seconds (bench/sla_engine.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from sla.intervals import IntervalSet, clip, intersect, normalize, subtract

if TYPE_CHECKING:  # numpy is imported where samples are qualified: the edge agent combines without it
    import numpy as np
    import numpy.typing as npt

GAP_FACTOR = 3  # sla-semantics §5: samples more than 3 × interval_s apart leave a gap


class QualificationError(ValueError):
    """Samples that cannot be qualified (e.g. one sample and no nominal interval)."""


@dataclass(frozen=True)
class ProbeTimeline:
    failing: IntervalSet
    unknown: IntervalSet


@dataclass(frozen=True)
class ServiceTimeline:
    down: IntervalSet
    unknown: IntervalSet


def nominal_interval(times: npt.NDArray[np.int64]) -> int:
    """Median spacing of a probe's samples, in whole seconds."""
    import numpy as np

    return _median_spacing(np.diff(times))


def _median_spacing(spacing: npt.NDArray[np.int64]) -> int:
    """`int(np.median(spacing))`, checked first against a guess from a subsample: with regular samples the
    two middle values equal the guess, which two comparison passes prove, much cheaper than a partition."""
    import numpy as np

    size = int(spacing.size)
    if size < 1:
        raise QualificationError("a probe with fewer than two samples needs qualification.interval_s")
    guess = spacing[:: max(1, size // 1024)]
    candidate = guess[np.argpartition(guess, guess.size // 2)[guess.size // 2]]
    below = int(np.count_nonzero(spacing < candidate))
    at_most = int(np.count_nonzero(spacing <= candidate))
    proven = below <= (size - 1) // 2 and size // 2 < at_most  # both middle order statistics are the candidate
    median = int(candidate) if proven else int(np.median(spacing))
    if median <= 0:
        raise QualificationError("samples of one probe share the same time; the median spacing is 0 s")
    return median


def qualify_probe(
    times: npt.NDArray[np.int64],
    ok: npt.NDArray[np.bool_],
    *,
    period: tuple[int, int],
    down_after: int,
    up_after: int,
    interval_s: int | None = None,
) -> ProbeTimeline:
    """Failing and unknown intervals of one probe inside `period`. `times` must be sorted (epoch seconds)."""
    import numpy as np

    start, end = period
    n = int(times.size)
    if n == 0:
        return ProbeTimeline(failing=[], unknown=[(start, end)] if end > start else [])
    spacing = np.diff(times)  # computed once: the nominal interval and the gaps read it
    interval = interval_s if interval_s is not None else _median_spacing(spacing)

    # Segments: maximal runs of samples without a gap.
    gap_after = np.flatnonzero(spacing > GAP_FACTOR * interval)
    seg_first = np.concatenate(([0], gap_after + 1))
    seg_last = np.concatenate((gap_after, [n - 1]))
    seg_end_time = times[seg_last] + interval

    unknown = [(int(times[0]) - 10**12, int(times[0]))]  # before the first sample (clipped below)
    unknown += [(int(e), int(times[f])) for e, f in zip(seg_end_time[:-1], seg_first[1:], strict=True)]
    unknown.append((int(seg_end_time[-1]), int(seg_end_time[-1]) + 10**12))

    # Runs of equal outcome inside a segment.
    change = np.empty(n, dtype=np.bool_)
    change[0] = True
    np.not_equal(ok[1:], ok[:-1], out=change[1:])
    change[seg_first] = True
    run_start = np.flatnonzero(change)
    run_len = np.diff(np.append(run_start, n))
    run_ok = ok[run_start]
    qualifying = np.where(run_ok, run_len >= up_after, run_len >= down_after)
    q_start = run_start[qualifying]
    q_ok = run_ok[qualifying]
    q_seg = np.searchsorted(seg_first[1:], q_start, side="right")  # segment of each qualifying run

    # The probe toggles at each qualifying run of the other outcome; every segment starts passing.
    previous_ok = np.empty_like(q_ok)
    if q_ok.size:
        previous_ok[0] = True
        previous_ok[1:] = q_ok[:-1]
        first_in_seg = np.empty(q_ok.size, dtype=np.bool_)
        first_in_seg[0] = True
        np.not_equal(q_seg[1:], q_seg[:-1], out=first_in_seg[1:])
        previous_ok[first_in_seg] = True
    toggles = q_ok != previous_ok
    t_start, t_ok, t_seg = q_start[toggles], q_ok[toggles], q_seg[toggles]

    failing: IntervalSet = []
    fail_idx = np.flatnonzero(~t_ok)
    for i in fail_idx.tolist():
        begin = int(times[t_start[i]])
        if i + 1 < t_ok.size and t_seg[i + 1] == t_seg[i]:
            finish = int(times[t_start[i + 1]])
        else:
            finish = int(seg_end_time[t_seg[i]])
        failing.append((begin, finish))
    return ProbeTimeline(failing=clip(normalize(failing), start, end), unknown=clip(normalize(unknown), start, end))


def combine(
    timelines: Mapping[str, ProbeTimeline],
    *,
    period: tuple[int, int],
    groups: Sequence[str] = (),
    quorum: int | None = None,
) -> ServiceTimeline:
    """Service down / unknown from its probes. `groups` are probe-name prefixes that must all be down."""
    if not timelines:
        return ServiceTimeline(down=[], unknown=[period])
    if not groups:
        return _combine_group(list(timelines.values()), period, quorum)
    per_group = []
    for group in groups:
        members = [t for name, t in timelines.items() if probe_group(name) == group]
        if not members:
            raise QualificationError(
                f"no probe of group {group!r}: probe names must start with one of {', '.join(groups)} "
                f"(e.g. '{group}' or '{group}-1'); got {', '.join(sorted(timelines))}"
            )
        per_group.append(_combine_group(members, period, quorum))
    down = per_group[0].down
    possible = normalize(per_group[0].down + per_group[0].unknown)
    for g in per_group[1:]:
        down = intersect(down, g.down)
        possible = intersect(possible, normalize(g.down + g.unknown))
    return ServiceTimeline(down=down, unknown=subtract(possible, down))


def probe_group(name: str) -> str:
    for sep in (":", "-", "_", ".", "/"):
        name = name.split(sep, 1)[0]
    return name.lower()


def _combine_group(members: list[ProbeTimeline], period: tuple[int, int], quorum: int | None) -> ServiceTimeline:
    needed = len(members) if quorum is None else min(quorum, len(members))
    # Sweep: count failing and unknown probes on each elementary segment.
    deltas: dict[int, list[int]] = {}
    for t in members:
        for kind, intervals in ((0, t.failing), (1, t.unknown)):
            for s, e in intervals:
                deltas.setdefault(s, [0, 0])[kind] += 1
                deltas.setdefault(e, [0, 0])[kind] -= 1
    down: IntervalSet = []
    unknown: IntervalSet = []
    failing_count = unknown_count = 0
    points = sorted(deltas)
    for here, there in pairwise(points):
        failing_count += deltas[here][0]
        unknown_count += deltas[here][1]
        if failing_count >= needed:
            down.append((here, there))
        elif failing_count + unknown_count >= needed:
            unknown.append((here, there))
    return ServiceTimeline(down=clip(normalize(down), *period), unknown=clip(normalize(unknown), *period))
