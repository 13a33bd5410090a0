"""The typed errors poseboard raises for bad input, the message of a failed validation, the
one shape-checking helper, and the one way a command fails (:func:`command_app`)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

#: The exit status of a command refused for bad input (a :class:`PoseboardError`). Exit 1 is
#: kept for a verdict a command reports (a comparison outside its interval, another task).
BAD_INPUT_EXIT = 2


class PoseboardError(Exception):
    """Base class of every error poseboard raises on purpose."""


class ShapeError(PoseboardError, ValueError):
    """An array does not have the documented shape."""


class InputError(PoseboardError, ValueError):
    """Input values are invalid (NaN, wrong units, unknown ids, degenerate cameras, ...)."""


class CapabilityError(PoseboardError, ValueError):
    """A method's capabilities do not fit what a protocol asks of it."""


class ResultFileError(PoseboardError, ValueError):
    """A result, prediction or rig file is missing, unreadable or does not validate."""


def validation_message(exc: Any) -> str:
    """A pydantic ``ValidationError`` as one phrase for a message that already names the file:
    ``field 'a.b': <what is wrong>`` (its first error; ``(root)`` for the document itself)."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(root)"
    return f"field {loc!r}: {err['msg']}"


def examples(values: Any, n: int = 3) -> list[Any]:
    """The first ``n`` of ``values`` as plain Python values, for messages: NumPy scalars print
    as ``np.str_('S9/…')`` inside a list, which is noise to a user (``.item()`` unwraps them).

    Example:
        >>> import numpy as np
        >>> examples(np.array(["a", "b", "c", "d"]))
        ['a', 'b', 'c']
    """
    return [v.item() if hasattr(v, "item") and not isinstance(v, (str, bytes)) else v for v in list(values)[:n]]


def check_shape(x: Any, expected: Sequence[str | int], name: str = "tensor") -> dict[str, int]:
    """Check ``x.shape`` against a pattern and return the sizes bound to named dimensions.

    ``expected`` holds ints (fixed sizes), names (any size, but equal wherever the name
    repeats) and at most one leading ``"*"`` (any number of batch dimensions).

    Example:
        >>> import numpy as np
        >>> check_shape(np.zeros((2, 4, 3)), ["*", "V", 3], "points")
        {'V': 4}
    """
    shape = tuple(int(s) for s in x.shape)
    pattern = list(expected)
    star = bool(pattern) and pattern[0] == "*"
    tail = pattern[1:] if star else pattern
    if "*" in tail:
        raise ValueError("check_shape: '*' may only lead the pattern")
    ok = len(shape) >= len(tail) if star else len(shape) == len(tail)
    sizes: dict[str, int] = {}
    if ok:
        for dim, want in zip(shape[len(shape) - len(tail) :], tail, strict=True):
            if isinstance(want, int):
                ok = dim == want
            elif want in sizes:
                ok = sizes[want] == dim
            else:
                sizes[want] = dim
            if not ok:
                break
    if not ok:
        want_txt = "(" + ", ".join(str(p) for p in pattern) + ")"
        raise ShapeError(f"{name}: expected shape {want_txt}, got {shape}")
    return sizes


def exit_on_error(command: Callable[..., Any]) -> Callable[..., Any]:
    """``command`` as a CLI command: a :class:`PoseboardError` escaping it prints
    ``error: <message>`` on stderr (red on a terminal) and exits with :data:`BAD_INPUT_EXIT`,
    without a traceback. Any other exception is a bug and keeps its traceback. Applied to every
    command by :func:`command_app`; typer reads the signature and help of the wrapped function."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except PoseboardError as exc:
            import typer

            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(code=BAD_INPUT_EXIT) from None

    return run


def command_app(**options: Any) -> Any:
    """A ``typer.Typer`` whose every command fails the one poseboard way (:func:`exit_on_error`),
    without completion or pretty tracebacks unless ``options`` say otherwise. Every command
    group of the CLI and of the pipeline's entry points (``python -m poseboard.pipeline``, …) is
    made here, so a command raises its error and never prints or exits for it itself. typer is
    imported on the first call: every layer imports this module."""
    return _command_typer()(**{"add_completion": False, "pretty_exceptions_enable": False, **options})


@functools.cache
def _command_typer() -> type:
    import typer

    class CommandTyper(typer.Typer):
        def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
            register = super().command(*args, **kwargs)

            def decorator(f: Callable[..., Any]) -> Callable[..., Any]:
                register(exit_on_error(f))
                return f  # the plain function: callable from Python, mountable on another app

            return decorator

    return CommandTyper
