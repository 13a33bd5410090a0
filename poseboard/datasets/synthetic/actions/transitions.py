"""Transitions: one person changing from one training action to another within a sequence.

A sequence strings two or three component actions together (e.g. walking, then sitting on the
floor, then squatting). Each component is its own plan; the next is turned and moved so that
its pelvis and facing meet the previous one's, and the two are blended over 1–1.8 s
(:func:`~.plan.blend_plans`: eased pelvis, angles and facing, the feet stepping across): the
first is left at a moment it stands upright, the next starts from its own beginning, so the
change reads as one action ending and another starting.
The components come from :data:`TRANSITION_COMPONENTS`, training actions only: never a held-out
(novel) one, never an airborne one (both feet leaving the floor), never a transition itself.
"""

from __future__ import annotations

import numpy as np

from poseboard.datasets.synthetic.actions.plan import Plan, align_plan, blend_plans, draw, rest_on_floor
from poseboard.datasets.synthetic.body import BodyShape

#: Seconds of each component's own clock generated before and after the sequence's, to choose from.
PAD_S = 8.0
#: The actions a transition sequence changes between (all among the training actions).
TRANSITION_COMPONENTS: tuple[str, ...] = (
    "Walking", "Turning", "WalkingVaried", "SittingDown", "Squatting", "Waving", "Reaching",
    "PickingUp", "Boxing", "Kneeling", "SittingOnFloor", "Lunging", "Lying", "Crawling",
)  # fmt: skip


def _upright(body: BodyShape, plan: Plan) -> np.ndarray:
    """(N,) bool: frames at which the plan stands upright (the pelvis at least 90 % as high as
    standing with the knees nearly straight, the body not pitched)."""
    ok = plan.root[:, 2] >= 0.9 * (float(body.ankle_height_mm) + float(body.leg_reach(5.0)))
    if plan.pitch is not None:
        ok &= np.abs(plan.pitch) < 1.0
    return ok


def _held(plan: Plan, i: int) -> Plan:
    """The plan as it is up to frame ``i``, then holding that frame's pose."""
    def hold(v: np.ndarray) -> np.ndarray:
        out = np.array(v, np.float64, copy=True)
        out[i + 1:] = out[i]
        return out

    return Plan(root=hold(plan.root), yaw=hold(plan.yaw), feet=hold(plan.feet),
                angles={k: hold(np.broadcast_to(v, plan.yaw.shape)) for k, v in plan.angles.items()},
                pitch=None if plan.pitch is None else hold(plan.pitch), clearance=plan.clearance)


def _window(plan: Plan, start: int, n: int) -> Plan:
    """Frames ``start`` to ``start + n`` of the plan."""
    cut = slice(start, start + n)
    return Plan(root=plan.root[cut], yaw=plan.yaw[cut], feet=plan.feet[cut],
                angles={k: np.broadcast_to(v, plan.yaw.shape)[cut] for k, v in plan.angles.items()},
                pitch=None if plan.pitch is None else plan.pitch[cut], clearance=plan.clearance)


def _component(body: BodyShape, name: str, t: np.ndarray, rng: np.random.Generator,
               area: float) -> tuple[Plan, np.ndarray, int]:
    """``name``'s plan over its own clock from :data:`PAD_S` before the sequence's times to as
    long after (any stretch of it as good a sequence of that action as any other), its upright
    frames, and the pad in frames."""
    from poseboard.datasets.synthetic.motion import _generator

    dt = t[1] - t[0]
    pad = round(PAD_S / dt)
    plan = _generator(name)(body, t[0] + dt * np.arange(-pad, len(t) + pad), rng, area)
    return plan, _upright(body, plan), pad


def _upright_offsets(up: np.ndarray, first: int, last: int, pad: int) -> np.ndarray:
    """The offsets ``o`` in [0, 2 pad] at which frames ``first + o`` to ``last + o`` (inclusive)
    of a component are all upright."""
    run = np.concatenate([[0], np.cumsum(up)])
    o = np.arange(2 * pad + 1)
    ok = (last + o < len(up)) & (first + o >= 0)
    o = o[ok]
    return o[run[last + o + 1] - run[first + o] == last - first + 1]


def transition_plan(body: BodyShape, t: np.ndarray, rng: np.random.Generator,
                    area: float) -> tuple[Plan, list[str], list[tuple[float, float]]]:
    """The plan of a transition sequence (:func:`_transition_try`), its component actions in
    order, and each blend's (start, duration) in s: drawn again (up to 4 times) while the
    pelvis' extent does not fit the area (the components' extents add up), else the most
    compact draw."""
    tries = []
    for _ in range(4):
        out = _transition_try(body, t, rng, area)
        xy = out[0].root[:, :2]
        extent = float(np.linalg.norm(xy - (xy.min(0) + xy.max(0)) / 2, axis=-1).max())
        if extent <= 0.95 * area:
            return out
        tries.append((extent, out))
    return min(tries, key=lambda x: x[0])[1]


def _transition_try(body: BodyShape, t: np.ndarray, rng: np.random.Generator,
                    area: float) -> tuple[Plan, list[str], list[tuple[float, float]]]:
    """One draw of :func:`transition_plan`.

    Each component runs on its own clock, shifted so that the sequence leaves it at a moment
    it stands upright (then holds that pose) and enters the next where that one stands upright
    through the blend and starts its action soon after; so every blend joins two standing
    poses, or a standing pose and a gait. A third component is added only where the second
    stands upright at a fitting time."""
    n, fps = len(t), 1.0 / (t[1] - t[0])
    count = 2 if rng.random() < 0.6 or t[-1] - t[0] < 6.0 else 3
    names = [str(x) for x in rng.choice(TRANSITION_COMPONENTS, size=count, replace=False)]
    first, up, pad = _component(body, names[0], t, rng, 0.5 * area)
    blends: list[tuple[float, float]] = []
    length = t[-1] - t[0]
    plan = None
    for k, name in enumerate(names[1:], start=1):
        dur = draw(rng, 1.0, 1.6)
        aim = t[0] + draw(rng, k - 0.5, k - 0.2) / count * length
        if plan is None:  # leave the first component where it stands, shifting its clock
            i = int(np.clip(np.searchsorted(t, aim), 0, n - 1))
            offsets = _upright_offsets(up, i, i, pad)
            plan = _window(first, int(offsets[np.abs(offsets - pad).argmin()]) if len(offsets) else pad, n)
        else:  # leave the blended plan so far where it stands
            earliest = blends[-1][0] + blends[-1][1] + 0.5
            ok = _upright(body, plan) & (t >= earliest) & (t <= t[-1] - dur - 0.5)
            if not ok.any():
                names = names[:k]
                break
            cand = np.flatnonzero(ok)
            i = int(cand[np.abs(t[cand] - aim).argmin()])
        t0 = float(t[i])
        i1 = min(i + round(dur * fps), n - 1)
        nxt, up_next, pad = _component(body, name, t, rng, 0.5 * area)
        # upright through the blend and 0.3 s beyond, the action starting soon after
        offsets = _upright_offsets(up_next, i, min(i1 + round(0.3 * fps), n - 1), pad)
        if not len(offsets):
            offsets = _upright_offsets(up_next, (i + i1) // 2, i1, pad)
        nxt = _window(nxt, int(offsets.max()) if len(offsets) else pad, n)
        j = (i + i1) // 2
        nxt = align_plan(nxt, j, plan.root[i, :2], float(plan.yaw[i]))
        plan = blend_plans(body, _held(plan, i), nxt, t, t0, dur, draw(rng, 25, 40))
        blends.append((t0, dur))
    if plan.clearance is not None:
        plan = rest_on_floor(body, t, plan)
    return plan, names, blends


def transitions(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Two or three training actions in a row, each blending into the next (see the module)."""
    return transition_plan(body, t, rng, area)[0]
