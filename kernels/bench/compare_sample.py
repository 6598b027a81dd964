#!/usr/bin/env python3
"""Side by side: the engine's `bench sample --json` report and torch_sample.py's (stdlib only).

Usage: compare_sample.py ENGINE.json TORCH.json [--json OUT]
Prints per stage the engine's ms, PyTorch's ms and speedup = PyTorch ms / engine ms (above 1: the engine is faster),
then UNet FLOPs per step (each side's own count), TFLOP/s, MFU and peak memory. Warns when the two runs' settings
(resolution, frames, steps, CFG) differ. OUT gets the same as JSON.
"""
import json
import sys

STAGES = ["preprocess", "clip", "vae_encode", "unet_per_step", "unet_total", "vae_decode", "total"]


def main(argv):
    args = [x for x in argv if not x.startswith("--")]
    out = argv[argv.index("--json") + 1] if "--json" in argv else None
    if out in args:
        args.remove(out)
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(args[0]) as fh:
        eng = json.load(fh)
    with open(args[1]) as fh:
        ref = json.load(fh)
    for key in ("resolution", "frames", "steps", "cfg"):
        if eng.get(key) != ref.get(key):
            print(f"WARNING: {key} differs: engine {eng.get(key)}, torch {ref.get(key)}")
    print(f"engine: {eng.get('what')}")
    print(f"torch:  {ref.get('what')}")
    rows = {}
    print(f"{'stage':<16} {'engine ms':>12} {'torch ms':>12} {'speedup':>9}")
    for s in STAGES:
        e, t = eng["median_ms"].get(s), ref["median_ms"].get(s)
        sp = t / e if e and t is not None else None
        rows[s] = {"engine_ms": e, "torch_ms": t, "speedup": sp}
        fmt = lambda v: f"{v:12.1f}" if v is not None else f"{'-':>12}"
        print(f"{s:<16} {fmt(e)} {fmt(t)} {f'{sp:9.2f}' if sp is not None else '-':>9}")
    other = {}
    for key, scale, unit in (("unet_flops_per_step", 1e12, "TFLOP/step"), ("unet_tflops_per_s", 1, "TFLOP/s"),
                             ("mfu", 0.01, "% MFU"), ("peak_bytes", 1048576, "MiB peak")):
        e, t = eng.get(key), ref.get(key)
        other[key] = {"engine": e, "torch": t}
        f = lambda v: f"{v / scale:.3f}" if isinstance(v, (int, float)) else "-"
        print(f"{unit:<16} {f(e):>12} {f(t):>12}")
    if out:
        with open(out, "w") as fh:
            json.dump({"engine": eng.get("what"), "torch": ref.get("what"), "stages": rows, "other": other}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
