"""Where computation runs: one ``--device`` option for every command, one code path.

poseboard has no CPU path and no GPU path, only a *device*: nets are moved to it once, every
batch is moved to it once (:func:`to_device`, by the harness and the training loop), and every
tensor a method or kernel creates follows the device of its inputs. This module owns the
spelling of the option and its checks, moving batches, waiting for the device before a clock
is read (:func:`synchronize`), the precision a run computes in (:func:`autocast`) and how a
result file names the hardware (:func:`describe_device`).

Spellings of a device (``--device``, ``POSEBOARD_DEVICE``, a profile's ``device`` key):
``auto`` (the first CUDA device when one is there, else the CPU), ``cpu``, ``cuda`` (the
current CUDA device, ``cuda:0`` unless ``torchrun`` set ``LOCAL_RANK``) and ``cuda:N``.
A spelling that cannot run here is refused before anything is written, with the devices
that can.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, get_args

from poseboard.errors import InputError

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEVICE_ENV",
    "DEVICE_PATTERN",
    "PRECISIONS",
    "PRECISION_SPELLINGS",
    "Precision",
    "PrecisionSpelling",
    "autocast",
    "available_devices",
    "check_device_spelling",
    "configure",
    "describe_device",
    "host_tensor",
    "native_bf16",
    "resolve_device",
    "resolve_precision",
    "synchronize",
    "to_device",
]

#: Environment variable read when no ``--device`` is given.
DEVICE_ENV = "POSEBOARD_DEVICE"
#: Every accepted spelling (checked before torch is imported, e.g. in ``params.yaml``).
DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")

#: ``fp32``: plain float32 (bit-identical to a run without the option); ``bf16``: matrix
#: products and convolutions under ``torch.autocast`` in bfloat16, the rest in float32.
Precision = Literal["fp32", "bf16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
#: Every accepted spelling of a precision (``--precision``, a profile's or the backbone block's
#: ``precision``): one of :data:`PRECISIONS`, or ``auto``, which a command resolves on its device
#: (:func:`resolve_precision`) before it computes anything. The one list: the params models'
#: fields are typed with it and the options check against it.
PrecisionSpelling = Literal["fp32", "bf16", "auto"]
PRECISION_SPELLINGS: tuple[str, ...] = get_args(PrecisionSpelling)


def check_device_spelling(spec: str, option: str = "--device") -> str:
    """``spec`` if it is a device spelling (whether or not this machine has it), else an
    :class:`InputError` naming ``option`` and the accepted forms."""
    if not isinstance(spec, str) or not DEVICE_PATTERN.match(spec.strip().lower()):
        raise InputError(f"{option}: {spec!r} is not a device; use auto, cpu, cuda or cuda:N "
                         f"(available here: {', '.join(available_devices())})")
    return spec.strip().lower()


def available_devices() -> list[str]:
    """The devices this process can run on: ``cpu`` and ``cuda:0`` … ``cuda:N-1``."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return ["cpu", *(f"cuda:{i}" for i in range(count))]


def resolve_device(spec: str | None = None, option: str = "--device") -> torch.device:
    """The :class:`torch.device` a command runs on.

    ``spec`` None reads ``POSEBOARD_DEVICE`` (unset: ``auto``). ``auto`` is ``cuda`` when CUDA
    is available, else ``cpu``; plain ``cuda`` is ``cuda:LOCAL_RANK`` under ``torchrun`` (one
    GPU per process), else ``cuda:0``.

    Raises:
        InputError: a misspelt device, ``cuda`` on a machine without CUDA, or ``cuda:N`` past
            the last GPU; the message names ``option`` and the devices available.
    """
    import torch

    where = option
    if spec is None:
        spec = os.environ.get(DEVICE_ENV) or "auto"
        if os.environ.get(DEVICE_ENV):
            where = f"{option} (from {DEVICE_ENV})"
    spec = check_device_spelling(spec, where)
    has_cuda = torch.cuda.is_available()
    if spec == "auto":
        spec = "cuda" if has_cuda else "cpu"
    if spec == "cpu":
        return torch.device("cpu")
    if not has_cuda:
        raise InputError(f"{where}: {spec!r} asks for CUDA, but this machine has no usable CUDA device "
                         f"(torch {torch.__version__}, built {'with' if torch.version.cuda else 'without'} CUDA); "
                         f"available: {', '.join(available_devices())}")
    index = int(spec.split(":")[1]) if ":" in spec else int(os.environ.get("LOCAL_RANK", "0"))
    count = torch.cuda.device_count()
    if index >= count:
        raise InputError(f"{where}: {spec!r} is past the last GPU (this machine has {count}: "
                         f"{', '.join(available_devices())})")
    return torch.device("cuda", index)


def to_device(obj: Any, device: torch.device | str, non_blocking: bool = True) -> Any:
    """``obj`` with every tensor in it (nested in dicts, lists and tuples) on ``device``.

    Everything else (NumPy arrays, strings, cameras, sample metadata) is returned as it is:
    methods read tensors, the harness reads the rest. A tensor already on ``device`` is
    returned unchanged (no copy), so on the CPU this is free and changes no bit.
    ``non_blocking`` lets a copy from pinned memory overlap the computation.
    """
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=non_blocking) if obj.device != torch.device(device) else obj
    if isinstance(obj, Mapping):
        return {k: to_device(v, device, non_blocking) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_device(v, device, non_blocking) for v in obj]
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(to_device(v, device, non_blocking) for v in obj)
    return obj


def host_tensor(values: Any, dtype: torch.dtype | None, device: torch.device | str) -> torch.Tensor:
    """``values`` (numbers, lists, a NumPy array or a CPU tensor, e.g. a draw from a CPU
    ``torch.Generator``) as a tensor on ``device``, copied without waiting for the device:
    ``torch.tensor(values, device=cuda)`` and a plain ``.to(cuda)`` synchronise the stream
    (host → device copies are safe without it). On the CPU: the tensor itself, no copy."""
    import torch

    x = values if isinstance(values, torch.Tensor) else torch.as_tensor(values, dtype=dtype, device="cpu")
    return to_device(x if dtype is None else x.to(dtype), device)


def synchronize(device: torch.device | str) -> None:
    """Wait until ``device`` has finished its queued work (CUDA runs asynchronously: a clock
    read without this measures the launch, not the computation). No-op on the CPU."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def synchronized(fn: Callable[..., Any], device: torch.device | str) -> Callable[..., Any]:
    """``fn`` returning only once ``device`` has finished the work it queued (for a clock read
    around the call); ``fn`` itself on the CPU."""
    import torch

    if torch.device(device).type != "cuda":
        return fn

    def call(*args: Any, **kwargs: Any) -> Any:
        out = fn(*args, **kwargs)
        synchronize(device)
        return out

    return call


@contextlib.contextmanager
def autocast(device: torch.device | str, precision: str = "fp32") -> Iterator[None]:
    """Compute in ``precision`` on ``device``: ``fp32`` does nothing (bit-identical to no
    context), ``bf16`` runs under ``torch.autocast(dtype=torch.bfloat16)``."""
    import torch

    if precision not in PRECISIONS:
        raise InputError(f"--precision: {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        yield
        return
    with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16):
        yield


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bfloat16 matrix products and convolutions in hardware: a
    CUDA GPU that torch reports bf16 support for, or a CPU with AVX-512 BF16 or AMX tiles (the
    instructions oneDNN's bf16 kernels use). Elsewhere a bf16 autocast is emulated: on the
    default backbone's training step it ran 15-25x *slower* than fp32 with oneDNN held to AVX2
    (docs/findings/performance-history-2026-11-26.md, session 24), so ``auto`` computes fp32 there."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch.cpu's, private
        return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)
    return False


def resolve_precision(spelling: str, device: torch.device | str, option: str = "--precision") -> str:
    """The precision a run on ``device`` computes in: ``spelling`` itself (``fp32``, ``bf16``),
    or for ``auto`` ``bf16`` where the device has it in hardware (:func:`native_bf16`) and
    ``fp32`` elsewhere. So ``auto`` is a speed choice whose numbers depend on the machine: the
    precision it chose is recorded with what the run wrote.

    Raises:
        InputError: a spelling that is none of :data:`PRECISION_SPELLINGS`, naming ``option``.
    """
    text = spelling.strip().lower() if isinstance(spelling, str) else spelling
    if text not in PRECISION_SPELLINGS:
        raise InputError(f"{option}: {spelling!r} is not one of {', '.join(PRECISION_SPELLINGS)}")
    if text == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return text


def describe_device(device: torch.device | str, precision: str = "fp32") -> str:
    """How a result file names the hardware: ``cpu (2 torch threads)`` (unchanged from the
    results written before devices existed), or ``NVIDIA H100 80GB HBM3 (CUDA 13.0, bf16)``."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"{torch.cuda.get_device_name(index)} (CUDA {torch.version.cuda}, {precision})"
    n = torch.get_num_threads()
    text = f"cpu ({n} torch thread{'s' if n > 1 else ''})"
    return text if precision == "fp32" else f"{text[:-1]}, {precision})"


def configure(device: torch.device | str, deterministic: bool = True, tf32: bool = True) -> None:
    """Set up a command's numerics on ``device`` once, before its first kernel runs.

    On CUDA: TensorFloat-32 matrix products and convolutions (``tf32``: 8× the float32 rate on
    an H100's tensor cores, 10 bits of mantissa in the products, float32 accumulation), and,
    with ``deterministic``, the same seed on the same GPU model giving the same numbers:
    cuDNN's autotuner off, ``torch.use_deterministic_algorithms(True, warn_only=True)`` (a
    kernel without a deterministic implementation warns, naming itself, instead of stopping
    the run) and the cuBLAS workspace that makes its reductions repeatable
    (``CUBLAS_WORKSPACE_CONFIG=:4096:8``, unless already set). On the CPU nothing changes:
    CPU results stay bit-identical to a run without devices.
    """
    import torch

    device = torch.device(device)
    if device.type != "cuda":
        return
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
