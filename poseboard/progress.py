"""Progress a person can read in a log: a few plain lines per long stage, not one per step.

A DVC stage's output is a log (``dvc repro`` in a terminal, CI, ``make repro``): a tqdm bar
there is either absent (``--quiet``) or hundreds of carriage-return updates. A
:class:`ProgressReporter` prints what the stage is about to do (:meth:`~ProgressReporter.note`),
then at most ``lines`` progress lines over the whole run — the first after ``first_after``
seconds (an early rate and time left), the others at every ``1/lines`` of the steps — and a
final line (:meth:`~ProgressReporter.close`). Each line is flushed, so it shows up while the
stage runs. Updates cost a comparison and a clock read: no host–device synchronisation.

Example:
    >>> import io
    >>> now, out = [0.0], io.StringIO()
    >>> p = ProgressReporter(100, "demo", lines=4, stream=out, clock=lambda: now[0])
    >>> p.note("100 steps of batch 8 on cpu")
    >>> for _ in range(100):
    ...     now[0] += 2.0  # two seconds a step
    ...     p.update()
    >>> p.close()
    >>> print(out.getvalue(), end="")
    demo: 100 steps of batch 8 on cpu
    demo: step 8/100 (8%)  2 s/step  elapsed 0:16  left 3:04
    demo: step 25/100 (25%)  2 s/step  elapsed 0:50  left 2:30
    demo: step 50/100 (50%)  2 s/step  elapsed 1:40  left 1:40
    demo: step 75/100 (75%)  2 s/step  elapsed 2:30  left 0:50
    demo: done, 100 steps in 3:20 (2 s/step)
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["ProgressReporter", "format_duration", "format_rate", "wide_console"]


def wide_console():  # -> rich.console.Console
    """A rich console at least 140 columns wide, so a command's tables stay readable in logs and
    pipes (rich is imported here, not when this module is)."""
    import shutil

    from rich.console import Console

    return Console(width=max(shutil.get_terminal_size((140, 24)).columns, 140))


def format_duration(seconds: float) -> str:
    """``m:ss``, or ``h:mm:ss`` from an hour (``--:--`` when unknown)."""
    if not math.isfinite(seconds) or seconds < 0:
        return "--:--"
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def format_rate(steps: float, seconds: float, unit: str = "step") -> str:
    """``12.3 steps/s`` (``2450 steps/s`` from 100), or ``4.56 s/step`` below one step a second."""
    if steps <= 0 or seconds <= 0:
        return f"-- {unit}s/s"
    rate = steps / seconds
    if rate >= 100:
        return f"{rate:.0f} {unit}s/s"
    return f"{rate:.3g} {unit}s/s" if rate >= 1 else f"{1 / rate:.3g} s/{unit}"


class ProgressReporter:
    """At most ``lines`` progress lines (plus the caller's notes and a final line) for a run of
    ``total`` steps, ``start`` of them done before (a resumed run).

    Args:
        total: steps of the whole run.
        label: prefix of every line (the stage, e.g. ``pretrain``).
        lines: progress lines at most; 0 prints only notes and the final line (e.g. while a
            tqdm bar shows the progress).
        stream: where the lines go (default: ``sys.stdout`` at print time); flushed per line.
        clock: seconds, monotonic (a fake one in tests).
        start: the step this run starts from (its rate and time left count from there).
        first_after: seconds after which the first update prints a line, if none has yet.
        unit: what a step is called in the lines.
        enabled: False prints nothing (e.g. a process other than rank 0).
    """

    def __init__(self, total: int, label: str, lines: int = 10, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic, start: int = 0, first_after: float = 15.0,
                 unit: str = "step", enabled: bool = True) -> None:
        if total < 0 or start < 0:
            raise ValueError(f"progress: total ({total}) and start ({start}) must be >= 0")
        if lines < 0:
            raise ValueError(f"progress: lines must be >= 0, got {lines}")
        self.total, self.label, self.lines = int(total), label, int(lines)
        self.stream, self.clock, self.unit, self.enabled = stream, clock, unit, enabled
        self.start = self.position = int(start)
        self.first_after = first_after
        self.postfix = ""
        self.printed = 0  # progress lines so far (notes and the final line not counted)
        self.t0 = clock()
        # milestones: the steps k * total / lines, k = 1 … lines - 1, still ahead of the start
        # (the last line is close()'s); the early line takes one of the `lines`
        marks = {math.ceil(k * self.total / self.lines) for k in range(1, self.lines)} if self.lines else set()
        self._marks = sorted(m for m in marks if self.start < m < self.total)
        self._budget = self.lines  # progress lines: the milestones and the early one
        self._closed = False

    # ------------------------------------------------------------------ output
    def note(self, text: str) -> None:
        """Print ``label: text`` now (what the run does, that it resumes …)."""
        self._print(text)

    def _print(self, text: str) -> None:
        if not self.enabled:
            return
        stream = self.stream if self.stream is not None else sys.stdout
        stream.write(f"{self.label}: {text}\n")
        stream.flush()

    def set_postfix(self, text: str) -> None:
        """Text appended to the next progress line (e.g. the last logged loss)."""
        self.postfix = text

    # ------------------------------------------------------------------ progress
    @property
    def elapsed(self) -> float:
        return self.clock() - self.t0

    def update(self, n: int = 1) -> None:
        """``n`` more steps done; prints a line at a milestone (or the early line)."""
        self.position += n
        if not self.lines or self.position >= self.total:
            return
        due = False
        while self._marks and self.position >= self._marks[0]:
            self._marks.pop(0)
            due = True
        if not due and self.printed == 0 and self.first_after is not None:
            due = self.elapsed >= self.first_after
        if due and self.printed < self._budget:
            self.printed += 1
            self._print(self._line())

    def _line(self) -> str:
        elapsed = self.elapsed
        done = self.position - self.start
        left = (self.total - self.position) * elapsed / done if done > 0 and elapsed > 0 else float("nan")
        pct = 100.0 * self.position / self.total if self.total else 100.0
        line = (f"{self.unit} {self.position}/{self.total} ({pct:.0f}%)  {format_rate(done, elapsed, self.unit)}  "
                f"elapsed {format_duration(elapsed)}  left {format_duration(left)}")
        return f"{line}  {self.postfix}" if self.postfix else line

    def close(self, text: str | None = None) -> None:
        """The final line: steps done in this run, time and rate (and ``text``). Once."""
        if self._closed:
            return
        self._closed = True
        done = self.position - self.start
        elapsed = self.elapsed
        rate = format_rate(done, elapsed, self.unit)
        if done <= 0 and self.start:
            line = f"done, nothing left to do (finished at {self.unit} {self.start})"
        elif self.start:
            line = f"done, {self.unit}s {self.start}→{self.position} in {format_duration(elapsed)} ({rate})"
        else:
            line = f"done, {done} {self.unit}s in {format_duration(elapsed)} ({rate})"
        self._print(f"{line}; {text}" if text else line)
