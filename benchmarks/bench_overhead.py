"""Per-call and activation overhead of anycapture, measured side by side on the running Python.

What it measures, all in one process:

* The per-call cost of ``def f(x): y = x + 1; return y`` (a call that does almost nothing, so what capture adds is
  as visible as it can be):

  - undecorated: the baseline, 1.00x;
  - decorated with ``get_local("y")`` but not activated (the original code object runs, so about 1.00x);
  - a hand-written floor: the function appends ``y`` to a global list itself;
  - on 3.12+, the floor of any ``sys.monitoring`` backend: a ``PY_RETURN`` callback on its own tool id that only
    appends ``sys._getframe(1).f_locals["y"]``;
  - for each backend in ``anycapture.backends()`` (forced with ``ANYCAPTURE_BACKEND``, which is read when
    ``get_local.activate()`` installs capture): active with ``values="numpy"`` (the default) and ``values="raw"``;
  - AnyCapture 0.1.4 from PyPI, decorated but off, and active. It has the same import name, so it is installed
    with ``pip install --no-deps --target`` into ``benchmarks/.cache/anycapture-0.1.4`` (its wheel also ships an old
    ``timm``, which ``--target`` keeps out of the environment; that folder is never put on ``sys.path``) and loaded
    as ``anycapture014``;
  - where torch imports: an ``nn.Module`` whose forward is the same two lines, called on a Python int: unhooked (the
    reference for these rows), with a forward hook that appends the output to a list, and with
    ``get_local("y")`` on its forward.

  Every variant is timed with ``timeit`` calling it in a loop, in batches of about ``--batch-ms``; the variants are
  interleaved (one batch each per round, in a rotating order) so that the machine's drift hits them all alike.
  A row shows the median ns per call over the rounds, its interquartile range, and the median of its per-round
  ratios to the reference row. Times include the ``timeit`` loop itself (printed once as "loop overhead").

* Activation: 100 distinct functions (distinct code objects) are decorated (with the ``bytecode`` backend, decorating
  builds each function's instrumented code), then ``get_local.activate()`` and ``get_local.deactivate()`` are timed,
  per backend: the first cycle (which makes the sinks and stores) and the median of ``--cycles`` later ones, in
  microseconds for all 100 functions together.

Run from the repository root, with anycapture installed (``pip install -e .``) or ``PYTHONPATH=src``::

    python benchmarks/bench_overhead.py              # about half a minute
    python benchmarks/bench_overhead.py --quick      # a smoke test: few rounds, short batches
    bash benchmarks/run_all.sh                        # CPython 3.11, 3.12 and 3.13, each in its own venv

It prints markdown. ``--no-install`` skips the AnyCapture 0.1.4 rows unless that version is already in the cache.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import types
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anycapture
from anycapture import get_local

ENV_VAR = "ANYCAPTURE_BACKEND"
OLD_VERSION = "0.1.4"
OLD_MODULE = "anycapture014"
DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"
BASELINE = "undecorated"

# Each variant gets its own function compiled from this source: its own code object, so instrumenting one (the
# monitoring backend enables events per *code object*) never touches another, and all compile to the same bytecode.
FUNCTION_SOURCE = """
def {name}(x):
    y = x + 1
    return y
"""
FLOOR_SOURCE = """
def {name}(x):
    y = x + 1
    _FLOOR.append(y)
    return y
"""
MODULE_SOURCE = """
class {name}(torch.nn.Module):
    def forward(self, x):
        y = x + 1
        return y
"""


def _noop(*_args: object) -> None:
    pass


def make_function(name: str, source: str = FUNCTION_SOURCE, **namespace: Any) -> Any:
    """A fresh function (or class) called ``name``, defined by ``source`` in a namespace of its own."""
    scope: dict[str, Any] = {"__name__": "bench_overhead", **namespace}
    exec(compile(source.format(name=name), f"<bench {name}>", "exec"), scope)
    return scope[name]


def make_functions(prefix: str, count: int) -> list[types.FunctionType]:
    """``count`` functions with distinct code objects whose globals do not refer back to them.

    Dropping the list frees them at once (no reference cycle), so they leave get_local's weak registry and do not
    weigh on the next backend's activations.
    """
    source = "".join(FUNCTION_SOURCE.format(name=f"{prefix}_{i:03d}") for i in range(count))
    module = compile(source, f"<bench {prefix}>", "exec")
    scope = {"__name__": "bench_overhead"}
    return [types.FunctionType(code, scope) for code in module.co_consts if isinstance(code, types.CodeType)]


def attached_backend(func: Any) -> str | None:
    """The backend now capturing ``func``, or ``"?"`` if the engine's private helper is gone (a sanity check only)."""
    probe = getattr(sys.modules.get("anycapture._engine"), "attached_backend", None)
    return probe(func) if callable(probe) else "?"


def force_backend(name: str | None) -> None:
    """Make the next installation use backend ``name`` (``None``: anycapture's own choice)."""
    if name is None:
        os.environ.pop(ENV_VAR, None)
    else:
        os.environ[ENV_VAR] = name


# -- AnyCapture 0.1.4 ---------------------------------------------------------------------------------------------
def load_old_anycapture(cache: Path, install: bool) -> types.ModuleType | str:
    """AnyCapture 0.1.4 as module ``anycapture014``, installed into ``cache`` first if needed; else why not."""
    folder = cache / f"anycapture-{OLD_VERSION}"
    init = folder / "anycapture" / "__init__.py"
    if not init.exists():
        if not install:
            return f"not in {folder} and --no-install was given"
        cache.mkdir(parents=True, exist_ok=True)
        # Install next to the final folder and rename it into place, so an interrupted install is never half used.
        staging = Path(tempfile.mkdtemp(prefix="install-", dir=cache))
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check"]
        command += ["--target", str(staging), f"anycapture=={OLD_VERSION}"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not (staging / "anycapture" / "__init__.py").exists():
            shutil.rmtree(staging, ignore_errors=True)
            why = (done.stderr or done.stdout).strip().splitlines()
            return f"pip could not install anycapture=={OLD_VERSION}: {why[-1] if why else done.returncode}"
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    spec = importlib.util.spec_from_file_location(OLD_MODULE, init, submodule_search_locations=[str(init.parent)])
    if spec is None or spec.loader is None:
        return f"cannot load {init}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[OLD_MODULE] = module  # its `from .anycapture import get_local` resolves through this name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[OLD_MODULE]
        return f"importing it failed: {type(exc).__name__}: {exc}"
    if getattr(module, "__version__", None) != OLD_VERSION:
        return f"{init} is version {getattr(module, '__version__', '?')}, not {OLD_VERSION}"
    return module


# -- per-call timing ----------------------------------------------------------------------------------------------
@dataclass
class Variant:
    """One row of the per-call table: what to call, and how to put the libraries in its state around a batch."""

    label: str
    call: Callable[[Any], Any]
    reference: str = BASELINE  # label of the row this one's ratio is against
    enter: Callable[[], None] = _noop  # before a batch: activate whatever this row measures
    leave: Callable[[int], None] = _noop  # after a batch of n calls: check what was captured, free it, switch off
    finish: Callable[[], object] | None = None  # after the calls, timed with them: work the row defers to a read
    arg: Any = 1
    number: int = 0  # calls per batch, from calibrate()
    samples: list[float] = field(default_factory=list)  # ns per call, one per round

    def __post_init__(self) -> None:
        # Names are locals of timeit's loop function (set up once), so the loop body is just the call.
        names = {"_call": self.call, "_arg": self.arg}
        self.timer = timeit.Timer("call(arg)", setup="call = _call; arg = _arg", globals=names)

    def batch(self, number: int) -> float:
        """Seconds for ``number`` calls, in this variant's state; timeit turns the garbage collector off meanwhile."""
        self.enter()
        try:
            elapsed = self.timer.timeit(number)
            if self.finish is not None:
                gc.disable()  # as timeit does
                try:
                    start = time.perf_counter()
                    self.finish()
                    elapsed += time.perf_counter() - start
                finally:
                    gc.enable()
            return elapsed
        finally:
            self.leave(number)

    def calibrate(self, batch_s: float) -> None:
        estimate = self.batch(2000) / 2000
        self.number = max(2000, round(batch_s / estimate))
        self.batch(self.number)  # warm-up: specialisation, list growth, first conversions


def checked_leave(
    label: str, values: Callable[[], Sequence[Any]], free: Callable[[], None], captures: bool = True
) -> Callable[[int], None]:
    """After a batch: check one value was captured per call (else the row would time a no-op), then ``free()``.

    ``captures=False``: nothing may have been captured at all (capture is off).
    """

    def leave(calls: int) -> None:
        try:
            got, expected = len(values()), calls if captures else 0
            if got != expected:
                raise RuntimeError(f"{label}: {calls} calls captured {got} values, expected {expected}")
        finally:
            free()  # empties what was captured, so memory does not grow from batch to batch

    return leave


def anycapture_variant(
    label: str, func: Any, call: Any, key: str, backend: str | None, values: str | None, reference: str = BASELINE
) -> Variant:
    """A row for ``get_local`` on ``func``: off when ``values`` is None, else active with that backend and mode."""

    def captured() -> Sequence[Any]:
        return get_local.cache.get(key, ())

    if values is None:
        # Off: the original code runs, and nothing may be captured.
        return Variant(label, call, reference, leave=checked_leave(label, captured, _noop, captures=False))

    def enter() -> None:
        force_backend(backend)  # read when activate() installs capture, so it must be set before
        get_local.activate(values=values)  # type: ignore[arg-type]
        used = attached_backend(func)
        if used is None or (backend is not None and used not in (backend, "?")):
            get_local.deactivate()
            raise RuntimeError(f"{label}: expected backend {backend!r}, got {used!r}")

    def free() -> None:
        get_local.clear()
        get_local.deactivate()  # also drops the backend, so the next activate() chooses again

    return Variant(label, call, reference, enter, checked_leave(label, captured, free))


def capture_variant(when: str) -> Variant:
    """A ``capture()`` block held open around each batch: the per-call cost of its records (layer, call, thread).

    A block may make its records when it is read rather than in the call; reading it once (``len``) at the end of
    the batch is timed with the calls, so that the row pays for every record.
    """
    func = make_function(f"f_capture_{when}")
    label = f"capture(f, 'y', when={when!r}) block open, values='raw'"
    held: list[Any] = []

    def enter() -> None:
        force_backend("bytecode")
        block = anycapture.capture(func, "y", when=when, values="raw")  # type: ignore[arg-type]
        block.__enter__()
        held.append(block)

    def free() -> None:
        held.pop().close(report=False)

    return Variant(
        label,
        func,
        enter=enter,
        leave=checked_leave(label, lambda: held[-1].get(f"{func.__qualname__}.y", ()), free),
        finish=lambda: len(held[-1]),
    )


def monitoring_floor_variant() -> Variant:
    """The least a sys.monitoring backend can do: a PY_RETURN callback that reads ``y`` from the returning frame and
    appends it, nothing else (no lookup of what to capture, no conversion, no error handling). Its own tool id."""
    monitoring = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
    func = make_function("f_monitoring_floor")
    code = func.__code__
    values: list[Any] = []
    getframe = sys._getframe
    held: list[int] = []

    def on_return(_code: Any, _offset: int, _retval: object) -> None:
        values.append(getframe(1).f_locals["y"])

    def enter() -> None:
        tool = next(t for t in (5, 2, 1, 0, 3, 4) if monitoring.get_tool(t) is None)
        monitoring.use_tool_id(tool, "bench-floor")
        monitoring.register_callback(tool, monitoring.events.PY_RETURN, on_return)
        monitoring.set_local_events(tool, code, monitoring.events.PY_RETURN)
        held.append(tool)

    def free() -> None:
        values.clear()
        tool = held.pop()
        monitoring.set_local_events(tool, code, 0)
        monitoring.register_callback(tool, monitoring.events.PY_RETURN, None)
        monitoring.free_tool_id(tool)

    label = "sys.monitoring floor: a PY_RETURN callback doing only `append(sys._getframe(1).f_locals['y'])`"
    return Variant(label, func, enter=enter, leave=checked_leave(label, lambda: values, free))


def build_variants(old: types.ModuleType | str, with_torch: bool, notes: list[str]) -> list[Variant]:
    variants = [Variant(BASELINE, make_function("f_plain"))]

    f_off = make_function("f_off")
    get_local("y")(f_off)
    # activate() installs every decorated function, so the other rows' batches switch capture on and off for this
    # one too: it measures the state a user gets after deactivate(), not merely a decorator that never ran.
    label = "get_local('y'), deactivated (active in other batches)"
    variants.append(anycapture_variant(label, f_off, f_off, "f_off.y", None, None))

    floor: list[Any] = []
    f_floor = make_function("f_floor", FLOOR_SOURCE, _FLOOR=floor)
    label = "hand-written floor: `_FLOOR.append(y)` in f"
    variants.append(Variant(label, f_floor, leave=checked_leave(label, lambda: floor, floor.clear)))

    for backend in anycapture.backends():
        for values in ("numpy", "raw"):
            func = make_function(f"f_{backend}_{values}")
            get_local("y")(func)
            label = f"get_local active: backend={backend}, values={values!r}"
            variants.append(anycapture_variant(label, func, func, f"{func.__qualname__}.y", backend, values))

    if sys.version_info >= (3, 12):
        variants.append(monitoring_floor_variant())

    # Every assignment instead of the return (one assignment per call here, so one value per call either way).
    func = make_function("f_each")
    get_local("y", when="each")(func)
    # Rows that force sys.monitoring activate it too; it cannot capture every assignment there.
    warnings.filterwarnings("ignore", message=".*Its values are not captured", category=anycapture.CaptureWarning)
    label = "get_local('y', when='each') active: backend=bytecode, values='raw'"
    variants.append(anycapture_variant(label, func, func, "f_each.y", "bytecode", "raw"))
    for when in ("return", "each"):
        variants.append(capture_variant(when))

    if isinstance(old, str):
        notes.append(f"AnyCapture {OLD_VERSION} rows skipped: {old}")
    else:
        old_get_local = old.get_local
        old_off = old_get_local("y")(make_function("f_old_off"))  # 0.1.4 returns a wrapper, not the function
        old_on = old_get_local("y")(make_function("f_old_on"))

        def old_free() -> None:
            old_get_local.clear()
            old_get_local.deactivate()

        label = f"AnyCapture {OLD_VERSION}, active (default collate)"
        old_leave = checked_leave(label, lambda: old_get_local.cache.get("f_old_on.y", []), old_free)
        variants.append(
            Variant(f"AnyCapture {OLD_VERSION}, decorated, not activated", old_off, enter=old_get_local.deactivate)
        )
        variants.append(Variant(label, old_on, enter=old_get_local.activate, leave=old_leave))

    if with_torch:
        variants += torch_variants(notes)
    return variants


def torch_variants(notes: list[str]) -> list[Variant]:
    """The same two lines as an ``nn.Module`` forward: unhooked, forward-hooked, and captured by get_local."""
    try:
        import torch
    except ImportError as exc:
        notes.append(f"torch rows skipped: torch is not importable on this Python ({exc})")
        return []
    reference = "nn.Module, no hook"
    module_type = make_function("TinyModule", MODULE_SOURCE, torch=torch)
    plain, hooked = module_type(), module_type()
    outputs: list[Any] = []
    hooked.register_forward_hook(lambda _module, _args, output: outputs.append(output))
    hook_label = "nn.Module + forward hook appending the output"

    # A class of its own, so that capture on its forward never touches the two modules above.
    captured_type = make_function("CapturedModule", MODULE_SOURCE, torch=torch)
    get_local("y")(captured_type.forward)
    label = f"nn.Module + get_local('y') on forward, active (backend={anycapture.backends()[0]}, values='numpy')"
    forward_key = "CapturedModule.forward.y"
    notes.append(
        f"torch {torch.__version__}: the nn.Module rows call a module on a Python int; their ratio is against the "
        "unhooked module"
    )
    return [
        Variant(reference, plain, reference),
        Variant(hook_label, hooked, reference, leave=checked_leave(hook_label, lambda: outputs, outputs.clear)),
        anycapture_variant(label, captured_type.forward, captured_type(), forward_key, None, "numpy", reference),
    ]


def time_variants(variants: list[Variant], rounds: int, batch_s: float) -> None:
    for variant in variants:
        variant.calibrate(batch_s)
    for round_index in range(rounds):
        # Rotate the order each round so no variant always runs right after the same other one.
        start = round_index % len(variants)
        for variant in variants[start:] + variants[:start]:
            variant.samples.append(variant.batch(variant.number) * 1e9 / variant.number)


def loop_overhead(rounds: int) -> float:
    """ns per iteration of timeit's loop with an empty body: part of every per-call time below."""
    timer = timeit.Timer("pass")
    return statistics.median(timer.timeit(200_000) * 1e9 / 200_000 for _ in range(min(rounds, 11)))


def per_call_table(variants: list[Variant]) -> list[str]:
    by_label = {variant.label: variant for variant in variants}
    lines = [
        "| variant | ns/call (median) | IQR ns | ratio (median of rounds) | ratio against |",
        "|---|---:|---:|---:|---|",
    ]
    for variant in variants:
        reference = by_label[variant.reference]
        ratios = [mine / theirs for mine, theirs in zip(variant.samples, reference.samples, strict=True)]
        q1, _, q3 = statistics.quantiles(variant.samples, n=4)
        lines.append(
            f"| {variant.label} | {statistics.median(variant.samples):.1f} | {q1:.1f}-{q3:.1f} "
            f"| {statistics.median(ratios):.2f}x | {variant.reference} |"
        )
    return lines


# -- activation cost ----------------------------------------------------------------------------------------------
@dataclass
class ActivationRow:
    label: str
    decorate_us: float
    first_us: float
    steady_activate_us: list[float] = field(default_factory=list)
    steady_deactivate_us: list[float] = field(default_factory=list)


def _us_since(start: float) -> float:
    return (time.perf_counter() - start) * 1e6


def time_activation(backend: str, count: int, cycles: int) -> ActivationRow:
    force_backend(backend)
    # Warm up with a throwaway function so that one-time imports (the bytecode package, the backend module) are not
    # billed to the decoration or the first cycle below.
    warm = make_function(f"warm_{backend}")
    get_local("y")(warm)
    get_local.activate()
    get_local.deactivate()
    del warm
    gc.collect()

    functions = make_functions(f"act_{backend}", count)
    start = time.perf_counter()
    for func in functions:
        get_local("y")(func)
    decorate = _us_since(start)

    gc.disable()  # as timeit does: a collection landing in one cycle would swamp it
    try:
        start = time.perf_counter()
        get_local.activate()
        first_activate = _us_since(start)
        wrong = [f.__qualname__ for f in functions if attached_backend(f) not in (backend, "?")]
        start = time.perf_counter()
        get_local.deactivate()
        row = ActivationRow(f"anycapture, backend={backend}", decorate, first_activate + _us_since(start))
        if wrong:
            raise RuntimeError(f"activation with {backend}: {len(wrong)} functions not captured by it, e.g. {wrong[0]}")
        for _ in range(cycles):
            start = time.perf_counter()
            get_local.activate()
            row.steady_activate_us.append(_us_since(start))
            start = time.perf_counter()
            get_local.deactivate()
            row.steady_deactivate_us.append(_us_since(start))
    finally:
        gc.enable()
        get_local.deactivate()
        get_local.clear()
    del functions
    gc.collect()
    return row


def time_old_activation(old: types.ModuleType, count: int, cycles: int) -> ActivationRow:
    """AnyCapture 0.1.4 rewrites at decoration; its activate()/deactivate() only flip a class attribute."""
    functions = make_functions("old_act", count)
    start = time.perf_counter()
    wrappers = [old.get_local("y")(func) for func in functions]
    decorate = _us_since(start)
    start = time.perf_counter()
    old.get_local.activate()
    old.get_local.deactivate()
    row = ActivationRow(f"AnyCapture {OLD_VERSION} (rewrites when decorating)", decorate, _us_since(start))
    for _ in range(cycles):
        start = time.perf_counter()
        old.get_local.activate()
        row.steady_activate_us.append(_us_since(start))
        start = time.perf_counter()
        old.get_local.deactivate()
        row.steady_deactivate_us.append(_us_since(start))
    del wrappers, functions
    return row


def activation_table(rows: list[ActivationRow], count: int, cycles: int) -> list[str]:
    lines = [
        f"| implementation | decorate {count} (us) | first activate+deactivate (us) "
        f"| steady activate+deactivate (us, median of {cycles}) | steady activate (us) | steady deactivate (us) "
        "| steady cycle per function (us) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        cycle = statistics.median(a + d for a, d in zip(row.steady_activate_us, row.steady_deactivate_us, strict=True))
        lines.append(
            f"| {row.label} | {row.decorate_us:.0f} | {row.first_us:.0f} | {cycle:.0f} "
            f"| {statistics.median(row.steady_activate_us):.0f} | {statistics.median(row.steady_deactivate_us):.0f} "
            f"| {cycle / count:.2f} |"
        )
    return lines


# -- main ---------------------------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=51, help="interleaved rounds per variant (default 51)")
    parser.add_argument("--batch-ms", type=float, default=30.0, help="approximate ms per batch (default 30)")
    parser.add_argument("--functions", type=int, default=100, help="functions decorated for activation timing")
    parser.add_argument("--cycles", type=int, default=30, help="steady activate/deactivate cycles per backend")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help=f"where AnyCapture {OLD_VERSION} lives")
    parser.add_argument("--no-install", action="store_true", help=f"never pip install AnyCapture {OLD_VERSION}")
    parser.add_argument("--no-torch", action="store_true", help="skip the nn.Module rows even if torch imports")
    parser.add_argument("--quick", action="store_true", help="a smoke test: 5 rounds of 2 ms batches, 5 cycles")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.batch_ms, args.cycles = 5, 2.0, 5
    if args.rounds < 2 or args.cycles < 1 or args.functions < 1 or args.batch_ms <= 0:
        parser.error("--rounds must be at least 2, --cycles and --functions at least 1, --batch-ms positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    saved_env = os.environ.get(ENV_VAR)
    notes: list[str] = []
    try:
        available = anycapture.backends()
        unavailable = [f"{info.name} ({info.reason})" for info in anycapture.backend_info() if not info.available]
        old = load_old_anycapture(args.cache_dir, install=not args.no_install)

        # Activation first, while get_local's registry holds nothing else that activate() would also install.
        activation = [time_activation(backend, args.functions, args.cycles) for backend in available]
        if not isinstance(old, str):
            activation.append(time_old_activation(old, args.functions, args.cycles))

        variants = build_variants(old, with_torch=not args.no_torch, notes=notes)
        overhead = loop_overhead(args.rounds)
        time_variants(variants, args.rounds, args.batch_ms / 1000)
    finally:
        force_backend(saved_env)

    print(
        f"# anycapture {anycapture.__version__} overhead on {platform.python_implementation()} "
        f"{platform.python_version()}"
    )
    print()
    print(
        f"- backends: {', '.join(available) or 'none'}"
        + (f"; unavailable: {'; '.join(unavailable)}" if unavailable else "")
    )
    print(
        f"- {args.rounds} interleaved rounds, batches of about {args.batch_ms:g} ms; timeit loop overhead "
        f"{overhead:.1f} ns per call, included in every time below"
    )
    for note in notes:
        print(f"- {note}")
    print()
    print("## Per call: `def f(x): y = x + 1; return y`, called as `f(1)`")
    print()
    print("\n".join(per_call_table(variants)))
    print()
    print(f"## Activation: `get_local.activate(); get_local.deactivate()` with {args.functions} decorated functions")
    print()
    print("\n".join(activation_table(activation, args.functions, args.cycles)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
