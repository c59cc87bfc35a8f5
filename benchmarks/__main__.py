"""`python -m benchmarks [--quick | --gpu] [--only NAME ...]`: run every throughput benchmark, print
its table, and save JSON and Markdown under `benchmarks/results/` named after the device.

Sizes (`benchmarks.scale`): today's CPU sizes on a CPU, GPU sizes (10^5-10^7 trajectories, 10^4-10^5
books, 10^4 environments) when JAX's default backend is a GPU or with `--gpu`; `--quick` smaller.

A benchmark is any module in this package with `run(quick: bool) -> dict` returning
`{"name", "description", "rows": [flat dicts], "notes"}`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import platform
import sys
import time
from pathlib import Path

# One XLA host device per core, so CPU benchmarks can use every core, and XLA:CPU's concurrency
# scheduler off: with it, the vmapped training sweep of `training_throughput` hangs (STYLE.md's
# known pitfall). Both are set before JAX starts. Both flags affect only the CPU backend (on a GPU
# machine they leave the GPUs alone); `cpu_tricks` reports what the device count buys.
_FLAGS = {
    "xla_force_host_platform_device_count": f"--xla_force_host_platform_device_count={os.cpu_count() or 1}",
    "xla_cpu_enable_concurrency_optimized_scheduler": "--xla_cpu_enable_concurrency_optimized_scheduler=false",
}
for _name, _flag in _FLAGS.items():
    if _name not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _flag).strip()

import jax  # noqa: E402

import benchmarks  # noqa: E402
from benchmarks import scale  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def discover() -> dict[str, object]:
    """Benchmark modules by name (those defining `run`)."""
    found = {}
    for info in pkgutil.iter_modules(benchmarks.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"benchmarks.{info.name}")
        if callable(getattr(module, "run", None)):
            found[info.name] = module
    return found


def to_markdown(result: dict) -> str:
    rows = result["rows"]
    if not rows:  # a skipped benchmark: its notes say why
        return f"### {result['name']}\n\n(no rows) {result.get('notes', '')}".rstrip() + "\n"
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = [f"### {result['name']}", "", result.get("description", ""), ""]
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "---|" * len(columns))
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(c, "")) for c in columns) + " |")
    if result.get("notes"):
        lines += ["", result["notes"]]
    return "\n".join(lines) + "\n"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"{value:,}"
    return str(value)


def device_label() -> str:
    device = jax.devices()[0]
    if device.platform == "cpu":
        return f"cpu-{platform.machine()}"
    return device.device_kind.replace(" ", "-").lower()


def _suffix(size_class: str) -> str:
    """quick, full (the backend's own sizes), or gpu-sizes (GPU sizes forced on another backend)."""
    natural = "gpu" if jax.default_backend() in ("gpu", "cuda", "rocm") else "cpu"
    if size_class == "quick":
        return "quick"
    return "full" if size_class == natural else f"{size_class}-sizes"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument(
        "--gpu", action="store_true", help="GPU sizes even if JAX's default backend is not a GPU"
    )
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = parser.parse_args(argv)
    if args.gpu:
        os.environ[scale.ENV_VAR] = "gpu"  # read by every benchmark and its subprocesses
    size_class = scale.scale(args.quick)
    available = discover()
    names = args.only or sorted(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        parser.error(
            f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(sorted(available))}"
        )
    label = device_label()
    header = (
        f"device: {jax.devices()[0].device_kind} ({label}), jax {jax.__version__}, "
        f"{'quick' if args.quick else 'full'} run, {size_class} sizes, "
        f"{time.strftime('%Y-%m-%d %H:%M')}, command: python -m benchmarks"
        f"{' --quick' if args.quick else ''}{' --gpu' if args.gpu else ''}"
        f"{' --only ' + ' '.join(args.only) if args.only else ''}"
    )
    print(header, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in names:
        result = available[name].run(quick=args.quick)
        result["header"] = header
        text = to_markdown(result)
        print("\n" + text, flush=True)
        suffix = _suffix(size_class)
        (args.out / f"{name}-{label}-{suffix}.json").write_text(json.dumps(result, indent=2))
        (args.out / f"{name}-{label}-{suffix}.md").write_text(header + "\n\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
