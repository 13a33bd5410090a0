"""Locomotion: walking round a circle, turning on the spot, walking with varied speed, path
and direction."""

from __future__ import annotations

import numpy as np

from poseboard.datasets.synthetic.actions.plan import (
    Plan,
    draw,
    gait_plan,
    timeline_start,
    under,
)
from poseboard.datasets.synthetic.body import BodyShape


def walking(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Walking round a circle (either way), at 0.9–1.35 m/s scaled by height."""
    scale = body.height_mm / 1750.0
    radius = float(np.clip(rng.uniform(0.45, 0.85) * area, min(250.0, 0.8 * area), area - 60.0))
    speed = rng.uniform(900.0, 1300.0) * np.sqrt(scale)
    speed = min(speed, np.sqrt(1500.0 * radius))  # lateral acceleration ≤ 1.5 m/s²
    step = body.height_mm * (0.22 + 0.12 * speed / 1000.0)
    step = min(step, 0.6 * radius)  # ≤ ~35° of turn per step on a tight circle
    speed = min(speed, 2 * step / 0.9)  # … and slower: at most 133 steps a minute
    period = 2 * step / speed
    direction = rng.choice([-1.0, 1.0])
    theta0 = rng.uniform(0, 2 * np.pi)

    def path(tt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ang = theta0 + direction * speed * tt / radius
        xy = radius * np.stack([np.cos(ang), np.sin(ang)], -1)
        return xy, np.degrees(ang) + direction * 90.0 - 90.0

    return gait_plan(body, t, rng, path, period, step, stance=0.6,
                      lateral=body.rest_offsets[2, 0] * rng.uniform(0.7, 0.9),
                      heel_max=rng.uniform(32, 45), clearance=rng.uniform(35, 60),
                      knee=rng.uniform(4, 10), tilt=rng.uniform(4, 9), sway=rng.uniform(15, 30),
                      pelvis_rot=rng.uniform(3, 7), arm_amp=rng.uniform(10, 25))


def turning(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Stepping on the spot while turning one way and the other (and drifting a little)."""
    period = rng.uniform(0.9, 1.3)
    w_max = min(rng.uniform(40, 80), 70.0 / period)  # ≤ 35° per step
    w_const = rng.uniform(-20, 20)
    p_turn, p_drift = rng.uniform(4, 8), rng.uniform(6, 12)
    ph1, ph2 = rng.uniform(0, 2 * np.pi, 2)
    psi = rng.uniform(-180, 180)
    drift = min(rng.uniform(0, 150), 0.3 * area)

    def path(tt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        heading = (psi + w_const * tt
                   - w_max * p_turn / (2 * np.pi) * np.cos(2 * np.pi * tt / p_turn + ph1))
        a = 2 * np.pi * tt / p_drift + ph2
        return drift * np.stack([np.sin(a), np.cos(a)], -1), heading

    return gait_plan(body, t, rng, path, period, 60.0, stance=0.65,
                      lateral=body.rest_offsets[2, 0] * rng.uniform(0.8, 1.0),
                      heel_max=rng.uniform(0, 10), clearance=rng.uniform(30, 55),
                      knee=rng.uniform(8, 16), tilt=rng.uniform(0, 4), sway=rng.uniform(10, 20),
                      pelvis_rot=rng.uniform(0, 3), arm_amp=rng.uniform(3, 8))


def _pause_clock(t: np.ndarray, rng: np.random.Generator, period: float, phase: float) -> np.ndarray:
    """The gait's clock τ(t): the time itself, less pauses of 0.5–2 s (easing out of and into
    them over ~0.6 s) that each stop the gait just after a foot lands (both feet down)."""
    tau = t.astype(np.float64).copy()
    lost_so_far, now = 0.0, float(timeline_start(rng))
    while True:
        ramp, hold = draw(rng, 0.5, 0.8), draw(rng, 0.5, 2.0)
        k = np.ceil((now + draw(rng, 1.5, 4.5) - lost_so_far - phase) / (period / 2))
        tau_stop = phase + k * period / 2 + 0.03 * period
        d = tau_stop - ramp / 2 + lost_so_far
        if d > t[-1]:
            return tau
        u1 = np.clip((t - d) / ramp, 0, 1)
        u2 = np.clip((t - d - ramp - hold) / ramp, 0, 1)
        tau -= ramp * (u1 / 2 - np.sin(np.pi * u1) / (2 * np.pi)) + np.clip(t - d - ramp, 0, hold)
        tau -= ramp * (u2 / 2 + np.sin(np.pi * u2) / (2 * np.pi))
        lost_so_far += ramp + hold
        now = d + 2 * ramp + hold


def walking_varied(body: BodyShape, t: np.ndarray, rng: np.random.Generator, area: float) -> Plan:
    """Walking round a rounded rectangle or an ellipse (straight stretches to tight bends) at
    0.5–1.8 m/s (slower in the bends), or backwards, or side-stepping; often with pauses."""
    scale = body.height_mm / 1750.0
    mode = str(rng.choice(["forward", "backward", "sideways"], p=[0.7, 0.15, 0.15]))
    if mode == "forward":
        v_max = draw(rng, 500, 1800) * np.sqrt(scale)
        period = float(np.clip(2 * body.height_mm * (0.22 + 0.12 * v_max / 1000) / v_max, 0.8, 1.5))
        offset, lateral = 0.0, draw(rng, 0.7, 0.9)
    else:
        v_max = draw(rng, 400, 900) if mode == "backward" else draw(rng, 300, 500)
        period = draw(rng, 0.9, 1.2)
        offset = 180.0 if mode == "backward" else float(rng.choice([90.0, -90.0]))
        lateral = draw(rng, 0.7, 0.9) if mode == "backward" else draw(rng, 1.2, 1.5)
    # the path: a superellipse, arc-length sampled, its speed limited by the curvature
    a = float(np.clip(draw(rng, 0.55, 0.8) * area, 120.0, area - 80.0))
    b, p = a * draw(rng, 0.35, 1.0), float(rng.choice([2.0, 4.0]))
    th = np.linspace(0, 2 * np.pi, 2001) * rng.choice([-1.0, 1.0])
    c, s = np.cos(th), np.sin(th)
    pts = np.stack([a * np.sign(c) * np.abs(c) ** (2 / p), b * np.sign(s) * np.abs(s) ** (2 / p)], -1)
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=-1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    alpha = np.unwrap(np.arctan2(*np.diff(pts, axis=0).T[::-1]))
    alpha = np.append(alpha, alpha[-1])
    curv = np.abs(np.gradient(alpha, arc)) + 1e-6
    v = under(np.minimum.reduce([np.full_like(curv, v_max), np.sqrt(1500.0 / curv), 1.2 / curv / period]), 60)
    lap_time = float(np.sum(seg / v[:-1]))
    laps = int(np.ceil((t[-1] - t[0] + 10.0) / lap_time)) + 1
    ds = np.tile(seg, laps)
    s_all = np.concatenate([[0.0], np.cumsum(ds)])
    tau_all = np.concatenate([[0.0], np.cumsum(ds / np.tile(v[:-1], laps))]) + t[0] - 5.0
    turn = alpha[-1] - alpha[0]  # per lap
    alpha_all = np.concatenate([alpha[:-1] + k * turn for k in range(laps)] + [[alpha[-1] + (laps - 1) * turn]])
    x_all, y_all = np.tile(pts[:-1, 0], laps), np.tile(pts[:-1, 1], laps)
    x_all, y_all = np.append(x_all, pts[-1, 0]), np.append(y_all, pts[-1, 1])
    s0 = draw(rng, 0.0, arc[-1])

    def path(tt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sc = np.interp(tt, tau_all, s_all) + s0
        xy = np.stack([np.interp(sc, s_all, x_all), np.interp(sc, s_all, y_all)], -1)
        return xy, np.degrees(np.interp(sc, s_all, alpha_all)) - 90.0 + offset

    phase = rng.uniform(0, period)
    tau = _pause_clock(t, rng, period, phase) if rng.random() < 0.6 else None
    return gait_plan(body, t, rng, path, period, v_max * period / 2, stance=0.62,
                     lateral=body.rest_offsets[2, 0] * lateral,
                     heel_max=rng.uniform(30, 42) if mode == "forward" else rng.uniform(5, 15),
                     clearance=rng.uniform(35, 60), knee=rng.uniform(4, 10), tilt=rng.uniform(3, 8),
                     sway=rng.uniform(15, 30), pelvis_rot=rng.uniform(2, 6), arm_amp=rng.uniform(8, 25),
                     phase=phase, tau=tau)
