#!/usr/bin/env python3
"""Checks that what kernels/bench/torch_sample.py runs computes what the reference computes (CPU, float64, seconds),
against the golden fixtures tests/fixtures/gen_reference_parity.py made with the REFERENCE code
(tests/resources/dev/puppetengine/parity/, weights by formula):

  unet   networks.UNetDragSpatioTemporalConditionModel at the fixture's (tiny) config, with torch_sample's
         all-to-first SDPA processors and diffusers' default SDPA processors elsewhere, vs `out_f64`, which the
         reference computed with AllToFirstXFormersAttnProcessor (xformers' documented function) and AttnProcessor.
         (The fixture config is torch_sample's --tiny UNet.)
  clip   torch_sample's ClipVisionStandIn vs `image_embeds_f64`, computed by transformers' CLIPVisionModelWithProjection.

Usage (same import arguments as torch_sample.py; torch and numpy only, shims as there):
  python3 kernels/bench/check_torch_sample.py --puppet-master .device-ref/puppet-master \\
      --diffusers .device-ref/diffusers/src --extra-path .device-ref/site
Exit 0 when both relative L2 errors are below 1e-10.
"""
import hashlib
import json
import os
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
PARITY = os.path.join(ROOT, "tests", "resources", "dev", "puppetengine", "parity")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures"))
import torch_sample  # noqa: E402


def read_safetensors(np, path):
    """{name: numpy array} of a .safetensors file (F32/F64 only)."""
    with open(path, "rb") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        header = json.loads(fh.read(n))
        data = fh.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        dt = {"F32": "<f4", "F64": "<f8"}[t["dtype"]]
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=dt).reshape(t["shape"]).copy()
    return out


def formula_load(torch, np, module, manifest_path):
    """Sets every parameter by the fixture's weight formula; checks keys, shapes and the manifest's sha256."""
    from gen_reference_parity import FORMULA, formula_values
    with open(manifest_path) as fh:
        man = json.load(fh)
    assert man["formula"] == FORMULA, man["formula"]
    state = module.state_dict()
    want = [k for k, _ in man["tensors"]]
    if sorted(want) != sorted(state):
        raise SystemExit(f"state dict keys differ from {manifest_path}: only ours {sorted(set(state) - set(want))[:5]}, "
                         f"only the manifest's {sorted(set(want) - set(state))[:5]}")
    sha = hashlib.sha256()
    with torch.no_grad():
        for key, shape in man["tensors"]:
            assert list(state[key].shape) == shape, (key, list(state[key].shape), shape)
            v = formula_values(np, key, shape)
            sha.update(v.astype("<f4").tobytes())
            state[key].copy_(torch.from_numpy(v.astype(np.float64)))
    assert sha.hexdigest() == man["sha256"], "weights differ from the fixture's"


def rel(torch, a, b):
    return ((a - b).norm() / b.norm()).item()


def main():
    a = torch_sample.parse_args(sys.argv[1:] + ["--device", "cpu", "--tiny"])
    torch_sample.setup_imports(a)
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import networks
    from diffusers.models.attention_processor import Attention, AttnProcessor2_0
    torch.set_num_threads(1)
    ok = True

    model = networks.UNetDragSpatioTemporalConditionModel(**torch_sample.UNET_TINY).double().eval()
    formula_load(torch, np, model, os.path.join(PARITY, "unet", "weights_manifest.json"))
    chosen = torch_sample.set_all_to_first(torch, F, model, 14)
    io = read_safetensors(np, os.path.join(PARITY, "unet_io.safetensors"))
    with open(os.path.join(PARITY, "unet_io.safetensors"), "rb") as fh:
        meta = json.loads(fh.read(struct.unpack("<Q", fh.read(8))[0]))["__metadata__"]
    if sorted(chosen) != sorted(n[: -len(".processor")] + ".processor" for n in meta["all_to_first"].split(",")):
        print(f"unet: all-to-first modules differ from the fixture's: {sorted(chosen)} vs {meta['all_to_first']}")
        ok = False
    others = {type(m.processor).__name__ for m in model.modules() if isinstance(m, Attention)} - {"AllToFirstSDPAProcessor", "AttnProcessor2_0"}
    assert not others, others
    t = {k: torch.from_numpy(v).double() for k, v in io.items()}
    with torch.no_grad():
        out = model(t["sample"], t["timestep"], t["image_latents"], t["encoder_hidden_states"],
                    torch.tensor([[6.0, 127.0, 0.02]] * 2, dtype=torch.float64), t["drags"])
    r = rel(torch, out, t["out_f64"])
    print(f"unet: {len(chosen)} all-to-first SDPA modules; output vs the reference's float64 output: rel L2 {r:.3e}")
    ok &= r < 1e-10

    with open(os.path.join(PARITY, "image_encoder", "config.json")) as fh:
        c = json.load(fh)
    cfg = {k: c[k] for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_channels",
                             "image_size", "patch_size", "projection_dim", "layer_norm_eps")}
    assert c["hidden_act"] == "gelu"
    clip = torch_sample.make_clip_standin(torch, nn, F)(cfg).double().eval()
    formula_load(torch, np, clip, os.path.join(PARITY, "image_encoder", "weights_manifest.json"))
    io = read_safetensors(np, os.path.join(PARITY, "image_encoder_io.safetensors"))
    with torch.no_grad():
        emb = clip(torch.from_numpy(io["pixels"]).double())
    r = rel(torch, emb, torch.from_numpy(io["image_embeds_f64"]))
    print(f"clip: ClipVisionStandIn vs transformers' CLIPVisionModelWithProjection (float64): rel L2 {r:.3e}")
    ok &= r < 1e-10
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
