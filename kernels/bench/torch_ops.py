#!/usr/bin/env python3
"""PyTorch side of `puppet-engine bench gemm` and `bench kernels` (stdlib + torch only).

Usage: torch_ops.py CASES.json OUT.json [--device cuda|cpu] [--warmup 3] [--iters 10]

CASES.json is what the engine wrote (its --json report, or the file it passes when it runs this script
itself): {"cases": [{"id": ..., "spec": {"kind": ..., "pass": ..., "dtype": ..., shapes...}}, ...]}.
For every case this builds the PyTorch equivalent on fresh random tensors and times it: warm-up calls, then
--iters calls each between two CUDA events (wall clock on the CPU), median. OUT.json gets
{"torch", "device", "results": {id: {"ms": median} or {"error": message}}}, rewritten after every case so a
run cut short still leaves what it finished. The engine merges it by id.

Layouts: the engine's shapes are channels-last (N, H, W, C). Every case is first timed in PyTorch's default
contiguous layout ((N, C, H, W), what the reference code runs); then each convolution again in channels-last
(torch.channels_last, channels_last_3d for the temporal conv), and its result gets "ms_nchw",
"ms_channels_last", "layout" (the faster) and "ms" = the faster time. fp32 stays real fp32 (TF32 off) like the
engine.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16, "F64": torch.float64}


def backward_of(fn, inputs):
    """Runs fn once with autograd; returns a call that repeats only its backward (the graph is retained)."""
    out = fn()
    g = torch.randn_like(out)
    return lambda: torch.autograd.grad(out, inputs, g, retain_graph=True)


def gemm(s, new):
    b, m, n, k = s["batch"], s["m"], s["n"], s["k"]
    if s["kind"] == "linear" and s["pass"] == "forward":  # x (m, k) w^T with w stored (n, k), and what the engine fuses after it
        x, w = new(m, k), new(n, k)
        bias = new(n) if s["bias"] else None
        epilogue = s.get("epilogue", "none")
        if epilogue == "geglu":
            def fn():
                a, gate = F.linear(x, w, bias).chunk(2, dim=-1)
                return a * F.gelu(gate)
            return fn
        if epilogue == "residual":
            r = new(m, n)
            return lambda: F.linear(x, w, bias) + r
        return lambda: F.linear(x, w, bias)

    def operand(rows, cols, transposed):  # stored the other way round when the engine's operand was a transposed view
        shape = (cols, rows) if transposed else (rows, cols)
        t = new(*(((b,) if b > 1 else ()) + shape))
        return t.transpose(-1, -2) if transposed else t

    x, y = operand(m, k, s["ta"]), operand(k, n, s["tb"])
    return lambda: torch.matmul(x, y)


def conv(s, new, channels_last=False):
    n, h, w, cin = s["x"]
    cout, kh, kw, _ = s["w"]
    top, bottom, left, right = s["pad"]
    if top != bottom or left != right:
        raise ValueError("asymmetric padding has no F.conv2d equivalent")
    x_shape, w_shape, stride, pad = [n, cin, h, w], [cout, cin, kh, kw], list(s["stride"]), [top, left]
    op = F.conv2d
    if s["temporal"]:
        # The engine's (3, 1) conv over (B, F, H*W, C) is the reference's conv3d (3, 1, 1) over (B, C, F, H, W).
        side = math.isqrt(w)
        hw = [side, side] if side * side == w else [w, 1]
        x_shape, w_shape, stride, pad, op = [n, cin, h] + hw, [cout, cin, kh, 1, 1], stride + [1], pad + [0], F.conv3d
    x, wt = new(*x_shape), new(*w_shape)
    if channels_last:  # the engine's own layout; cuDNN has kernels for it (randn_like below keeps the format)
        fmt = torch.channels_last if len(x_shape) == 4 else torch.channels_last_3d
        x, wt = x.contiguous(memory_format=fmt), wt.contiguous(memory_format=fmt)
    if s["pass"] == "forward":
        bias = new(cout) if s["bias"] else None
        if s.get("epilogue", "none") == "residual":
            r = torch.randn_like(op(x, wt, None, stride, pad))
            return lambda: op(x, wt, bias, stride, pad) + r
        return lambda: op(x, wt, bias, stride, pad)
    gy = torch.randn_like(op(x, wt, None, stride, pad))
    mask = [True, False, False] if s["pass"] == "backward_input" else [False, True, False]
    dims = len(stride)
    return lambda: torch.ops.aten.convolution_backward(gy, x, wt, None, stride, pad, [1] * dims, False, [0] * dims, 1, mask)


def attention(s, new):
    bq, bk, lq, lk, c, h = s["bq"], s["bk"], s["lq"], s["lk"], s["c"], s["heads"]
    d = c // h
    q, k, v = new(bq, lq, c), new(bk, lk, c), new(bk, lk, c)

    def fn():
        # The engine's heads are contiguous channel slices: (b, l, c) -> (b, heads, l, d) is a view.
        qh = q.view(bq, lq, h, d).transpose(1, 2)
        kh = k.view(bk, lk, h, d).transpose(1, 2)
        vh = v.view(bk, lk, h, d).transpose(1, 2)
        if bk != bq:  # query batch i uses key batch i // (bq // bk): frame-0 K/V expanded to every frame, as the reference does
            r = bq // bk
            kh = kh.unsqueeze(1).expand(bk, r, h, lk, d).reshape(bq, h, lk, d)
            vh = vh.unsqueeze(1).expand(bk, r, h, lk, d).reshape(bq, h, lk, d)
        o = F.scaled_dot_product_attention(qh, kh, vh)  # scale 1/sqrt(d), as the engine's
        return o.transpose(1, 2).reshape(bq, lq, c)

    return fn if s["pass"] == "forward" else backward_of(fn, (q, k, v))


def group_norm_silu(s, new):
    shape = s["shape"]  # channels-last (N, [F,] H, W, C); statistics over every dim after C, as the engine's
    c = shape[-1]
    x, gamma, beta = new(shape[0], c, *shape[1:-1]), new(c), new(c)
    fn = lambda: F.silu(F.group_norm(x, s["groups"], gamma, beta, s["eps"]))
    return fn if s["pass"] == "forward" else backward_of(fn, (x, gamma, beta))


def film(s, new):
    # a drag layer's resblock output: the time mixer's blend of the spatial and temporal branch, then the FiLM
    n, h, w, c = s["shape"]
    x, y, mix, gb = new(n, c, h, w), new(n, c, h, w), new(1), new(n, 2 * c, h, w)

    def fn():
        alpha = torch.sigmoid(mix)
        gamma, beta = gb.chunk(2, dim=1)  # the drag embedding's two channel halves, as the model slices them
        return (alpha * x + (1 - alpha) * y) * (1 + gamma) + beta

    return fn if s["pass"] == "forward" else backward_of(fn, (x, y, mix, gb))


def linear_epilogue(s, new):
    """bench kernels' linear_geglu / linear_residual cases: the biased linear of gemm() with that epilogue."""
    return gemm(dict(s, kind="linear", batch=1, bias=True, epilogue=s["kind"][len("linear_"):]), new)


def copy(s, new):
    x = new(s["numel"])
    return lambda: x.clone()


BUILD = {"matmul": gemm, "linear": gemm, "conv2d": conv, "attention": attention, "group_norm_silu": group_norm_silu,
         "film": film, "copy": copy, "linear_geglu": linear_epilogue, "linear_residual": linear_epilogue}


def median_ms(fn, device, warmup, iters):
    for _ in range(warmup):
        fn()
    if device == "cuda":
        torch.cuda.synchronize()
    ms = []
    for _ in range(iters):
        if device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            ms.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            ms.append((time.perf_counter() - t0) * 1e3)
    ms.sort()
    return ms[(len(ms) - 1) // 2]  # the engine's index (bench/Median.index): of an even count the lower middle


def write(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases")
    ap.add_argument("out")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    a = ap.parse_args()
    with open(a.cases) as f:
        cases = json.load(f)["cases"]
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True  # PyTorch at its best: cuDNN picks its fastest algorithm during the warm-up
    name = torch.cuda.get_device_name() if a.device == "cuda" else "cpu"
    out = {"torch": torch.__version__, "cuda": torch.version.cuda, "device": name, "results": {}}
    def maker(s):
        dt = DTYPES[s["dtype"]]
        return lambda *shape: torch.randn(*shape, dtype=dt, device=a.device, requires_grad=s["pass"] == "backward")

    for case in cases:
        s = case["spec"]
        try:
            fn = BUILD[s["kind"]](s, maker(s))
            ms = median_ms(fn, a.device, a.warmup, a.iters)
            out["results"][case["id"]] = {"ms": ms}
            print(f"torch {case['id']}: {ms:.4f} ms", file=sys.stderr)
        except Exception as e:  # one case failing (unsupported, out of memory) must not lose the others
            out["results"][case["id"]] = {"error": f"{type(e).__name__}: {e}"}
            print(f"torch {case['id']}: FAILED {type(e).__name__}: {e}", file=sys.stderr)
        fn = None
        write(a.out, out)
    # Convolutions again in channels-last, once every case has its default-layout time (a run cut short keeps
    # those): "ms" becomes the faster layout's, so the engine is compared with cuDNN at its best, and the two
    # times say which layout cuDNN itself prefers at each shape. TORCH_OPS_CHANNELS_LAST_SECONDS bounds this pass
    # (a device visit's budget; cases not reached keep their default-layout time only).
    limit = float(os.environ.get("TORCH_OPS_CHANNELS_LAST_SECONDS", "inf"))
    start = time.perf_counter()
    for case in cases:
        s, r = case["spec"], out["results"][case["id"]]
        if s["kind"] != "conv2d" or "ms" not in r:
            continue
        if time.perf_counter() - start > limit:
            print(f"torch: channels-last pass stopped after {limit:g} s (TORCH_OPS_CHANNELS_LAST_SECONDS)", file=sys.stderr)
            break
        try:
            cl = median_ms(conv(s, maker(s), channels_last=True), a.device, a.warmup, a.iters)
            r.update(ms_nchw=r["ms"], ms_channels_last=cl, layout="channels_last" if cl < r["ms"] else "nchw", ms=min(cl, r["ms"]))
            print(f"torch {case['id']} channels-last: {cl:.4f} ms", file=sys.stderr)
        except Exception as e:
            r["channels_last_error"] = f"{type(e).__name__}: {e}"
            print(f"torch {case['id']} channels-last: FAILED {type(e).__name__}: {e}", file=sys.stderr)
        write(a.out, out)


if __name__ == "__main__":
    main()
