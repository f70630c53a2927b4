"""LightGBM on CPU vs GPU: one configuration, a synthetic 200,000 x 50 binary table, held-out AUC.

Run through ``benchmarks/gpu.sh`` (which also prints ``nvidia-smi``); a few minutes at most.
The same LightGBM configuration is trained with ``device_type="cpu"`` and ``device_type="gpu"``
(LightGBM's OpenCL backend; ``--gpu-device-type cuda`` for a CUDA build) on the same 80 % of the
rows, and scored on the other 20 %. Whether the GPU backend works is decided first by autometa's
own probe (:func:`autometa.gpu.gpu_unavailable_reason`, the check ``autometa fit --device gpu``
makes); when it does not, the GPU line says ``gpu unavailable: <reason>``.

Each device gets an untimed warm-up fit first (a GPU compiles its kernels on first use), then the
timed fit. The Markdown report is printed; it is written to benchmarks/results/gpu.md only when
the GPU run happened (a CPU-only machine must not overwrite a GPU result), unless ``--out`` names
another file or ``--no-write`` is given.
"""
from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))  # autometa from the checkout when it is not installed
sys.path.insert(0, str(BENCH_DIR))  # machine.py beside this file, also when imported from elsewhere
from machine import cores, cpu_model, memory_gib  # noqa: E402
DEFAULT_OUT = BENCH_DIR / "results" / "gpu.md"


def _shown(path: Path) -> str:
    """A path relative to the repository when it is inside it."""
    root = BENCH_DIR.parent
    full = path.resolve()
    return str(full.relative_to(root)) if full.is_relative_to(root) else str(path)


def nvidia_smi() -> str:
    """GPU name, driver and memory from nvidia-smi, or why there is none."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return "none (nvidia-smi not found)"
    try:
        out = subprocess.run([exe, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown (nvidia-smi failed: {type(exc).__name__})"
    lines = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    if out.returncode != 0 or not lines:
        return f"none (nvidia-smi: {(out.stderr or out.stdout).strip()[:160] or f'exit {out.returncode}'})"
    return "; ".join(f"{name} (driver {driver}, {mem})" for name, driver, mem in
                     (([*line.split(", "), "", ""])[:3] for line in lines))


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = [f"Python {platform.python_version()}"]
    for dist in ("autometa", "lightgbm", "scikit-learn", "numpy"):
        try:
            out.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            pass
    return ", ".join(out)


def make_data(rows: int, features: int, seed: int) -> tuple[Any, Any, Any, Any]:
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    X, y = make_classification(n_samples=rows, n_features=features, n_informative=features * 3 // 5,
                               n_redundant=features // 5, flip_y=0.05, class_sep=0.8, random_state=seed)
    X = X.astype("float32")
    return train_test_split(X, y, test_size=0.2, random_state=seed, stratify=y)


def config(args: argparse.Namespace) -> dict[str, Any]:
    """The LightGBM configuration both devices train (max_bin 63: LightGBM's advice for its GPU
    backend, used on the CPU too so that the two runs fit the same model)."""
    return {"n_estimators": args.rounds, "learning_rate": 0.05, "num_leaves": 63, "max_bin": 63,
            "min_child_samples": 20, "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8,
            "n_jobs": args.threads or cores(), "random_state": args.seed, "verbose": -1}


def fit_once(device_type: str, params: dict, data: tuple) -> dict[str, Any]:
    """Warm-up fit (untimed), then the timed fit and the held-out AUC."""
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score

    X_tr, X_te, y_tr, y_te = data
    t0 = time.perf_counter()
    lgb.LGBMClassifier(**{**params, "n_estimators": 5}, device_type=device_type).fit(X_tr[:20_000], y_tr[:20_000])
    warmup = time.perf_counter() - t0
    model = lgb.LGBMClassifier(**params, device_type=device_type)
    t0 = time.perf_counter()
    model.fit(X_tr, y_tr)
    seconds = time.perf_counter() - t0
    auc = roc_auc_score(y_te, model.predict_proba(X_te)[:, 1])
    return {"device": device_type, "seconds": seconds, "warmup": warmup, "auc": float(auc), "note": ""}


def gpu_reason(device_type: str) -> str:
    """"" when LightGBM's GPU backend works (autometa's probe), else the reason."""
    if device_type == "gpu":
        from autometa.gpu import gpu_unavailable_reason

        return gpu_unavailable_reason()
    try:  # cuda: the same tiny probe fit as autometa's, with device_type="cuda"
        import lightgbm as lgb
        import numpy as np

        X = np.random.default_rng(0).normal(size=(64, 3))
        lgb.LGBMClassifier(device_type="cuda", n_estimators=2, num_leaves=4, min_child_samples=2,
                           verbose=-1).fit(X, (X[:, 0] > 0).astype(int))
    except Exception as exc:
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return ""


def report(args: argparse.Namespace, command: str, results: list[dict], machine: dict[str, str]) -> str:
    cpu = next(r for r in results if r["device"] == "cpu")
    lines = ["# LightGBM: CPU vs GPU", "",
             f"Command (from the repository root): `{command}`", "",
             f"Run at {datetime.now(timezone.utc).isoformat(timespec='minutes')}.", "",
             f"- CPU: {machine['cpu']}", f"- GPU: {machine['gpu']}", f"- Versions: {machine['versions']}", "",
             f"Data: `sklearn.datasets.make_classification`, {args.rows:,} rows x {args.features} float32 features "
             f"(seed {args.seed}), stratified 80/20 split; held-out ROC AUC. LightGBM configuration (both devices): "
             f"`{config(args)}`. Seconds are the wall-clock time of `fit` after an untimed warm-up fit "
             "(5 rounds on 20,000 rows; a GPU compiles its kernels then).", "",
             "| device | fit seconds | warm-up seconds | held-out AUC | note |", "|---|---|---|---|---|"]
    if all(r.get("seconds") is None for r in results if r["device"] != "cpu"):
        lines[1:1] = ["", "**CPU only: the GPU run did not happen on this machine (see the note below).**"]
    for r in results:
        if r.get("seconds") is None:
            lines.append(f"| {r['device']} | – | – | – | {r['note']} |")
        else:
            lines.append(f"| {r['device']} | {r['seconds']:.2f} | {r['warmup']:.2f} | {r['auc']:.5f} | {r['note']} |")
    gpu = [r for r in results if r["device"] != "cpu" and r.get("seconds") is not None]
    if gpu:
        g = gpu[0]
        lines += ["", f"GPU speed-up: {cpu['seconds'] / g['seconds']:.2f}x; AUC difference (GPU - CPU): "
                  f"{g['auc'] - cpu['auc']:+.5f} (LightGBM's GPU backend accumulates histograms in single "
                  "precision, so the trees can differ slightly)."]
    return "\n".join(lines) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=300, help="boosting rounds (n_estimators)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="LightGBM threads (default: every core available)")
    parser.add_argument("--gpu-device-type", choices=["gpu", "cuda"], default="gpu",
                        help="LightGBM device_type for the GPU run: gpu (OpenCL, the pip wheel's) or cuda")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"write the report here (default: {_shown(DEFAULT_OUT)}, "
                             "only when the GPU ran)")
    parser.add_argument("--no-write", action="store_true", help="only print the report")
    args = parser.parse_args(argv)
    argv_text = " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    command = (os.environ.get("AUTOMETA_GPU_BENCH_COMMAND") or f"python benchmarks/gpu.py {argv_text}").strip()

    machine = {"cpu": f"{cpu_model()}, {cores()} cores"
                      + (f", {memory_gib():.0f} GiB RAM" if memory_gib() else "")
                      + f"; {platform.system()} {platform.release()}",
               "gpu": nvidia_smi(), "versions": versions()}
    print(f"CPU: {machine['cpu']}\nGPU: {machine['gpu']}\nversions: {machine['versions']}", flush=True)
    t0 = time.perf_counter()
    data = make_data(args.rows, args.features, args.seed)
    print(f"data: {args.rows:,} x {args.features} in {time.perf_counter() - t0:.1f} s", flush=True)
    params = config(args)

    results = [fit_once("cpu", params, data)]
    print(f"cpu: fit {results[0]['seconds']:.2f} s, held-out AUC {results[0]['auc']:.5f}", flush=True)
    device = args.gpu_device_type
    reason = gpu_reason(device)
    if reason:
        results.append({"device": device, "seconds": None, "note": f"gpu unavailable: {reason}"})
    else:
        try:
            results.append(fit_once(device, params, data))
        except Exception as exc:  # the probe passed but the full-size fit did not
            detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            results.append({"device": device, "seconds": None, "note": f"gpu unavailable: fit failed: {detail}"})
    g = results[-1]
    print(f"{device}: " + (f"fit {g['seconds']:.2f} s, held-out AUC {g['auc']:.5f}" if g.get("seconds") is not None
                           else g["note"]), flush=True)

    text = report(args, command, results, machine)
    print("\n" + text)
    gpu_ran = g.get("seconds") is not None
    out = args.out or DEFAULT_OUT
    if args.no_write:
        print("report not written (--no-write)")
    elif gpu_ran or args.out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        print(f"wrote {out}")
    else:
        print(f"no GPU run: {_shown(out)} not written (it holds GPU results only)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
