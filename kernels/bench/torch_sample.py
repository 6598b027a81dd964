#!/usr/bin/env python3
"""PyTorch reference side of `puppet-engine bench sample`: one whole Puppet-Master sample through the REFERENCE
code (Puppet-Master's networks.py on diffusers, fp16, PyTorch SDPA), timed stage by stage like the engine.

Nothing of the reference code is in this repository: it is imported from the directories given on the command
line (`kernels/bench/pack-reference.sh` exports them into .device-ref/ for the GPU machine). Weights are random
(the released ones cannot be downloaded there); the cost of a forward does not depend on the weights' values.

What runs (the reference demo's procedure, spec 1.2 and 5; batch 1, CFG on):
  preprocess   the engine's deterministic test image (same formula, --size square) -> tensor in [-1, 1]; CLIP input
               by the SVD pipeline's preprocessing (antialiased resize to 224: Gaussian blur + bicubic, then CLIP's
               mean/std); the drag tensor (1, F, 5, 4) with --drags straight drags
  clip         CLIP ViT-H/14 vision tower + projection -> (1, 1, 1024)          (see "CLIP" below)
  vae_encode   diffusers AutoencoderKLTemporalDecoder.encode(...).latent_dist.mean (unscaled, no noise augmentation)
  unet         noise x init_noise_sigma; EulerDiscreteScheduler (SVD scheduler config: Karras sigmas, v-prediction)
               for --steps steps; each step one UNet forward on the CFG batch [cond, uncond] (uncond: zero image
               latent, zero CLIP embedding, zero drags), per-frame guidance linspace(1, --guidance, F), scheduler.step
  vae_decode   latents / 0.18215 -> temporal decoder with num_frames = F (all frames in one call) -> uint8 frames on
               the host
The UNet is networks.UNetDragSpatioTemporalConditionModel with SVD img2vid's UNet config and Puppet-Master's
model_args (configs/train-puppet-master.yaml: 5 drags, pos_embed_dim 64, drag tokens, modulation, drag embedder
(256, 320, 320)), in eval mode, zero_init() applied as train.py does. All-to-first attention sits on the 16 modules
train.py gives AllToFirstXFormersAttnProcessor (spatial attn1 of the drag blocks and the mid block). xformers is not
available, so those modules get AllToFirstSDPAProcessor (below): the same computation -- queries of every frame,
keys/values of frame 0 projected once and expanded (materialised) to all F frames, as the reference does, then
F.scaled_dot_product_attention with the module's scale -- set through the model's own set_attn_processor, the
diffusers attention-processor mechanism. Every other attention keeps diffusers' default AttnProcessor2_0 (SDPA);
the script checks that and reports the processor counts.

CLIP: transformers is normally not installed on the GPU machine (and needs tokenizers, safetensors, huggingface_hub
...), so by default (--clip standin) the vision tower is ClipVisionStandIn below: our own module with
transformers' CLIPVisionModelWithProjection parameter names and its computation (conv patch embedding 14x14/14 without
bias, class token, learned positions, pre-LayerNorm, 32 pre-LN blocks of 16-head SDPA attention (q/k/v/out with
bias, scale 80^-0.5) and an exact-GELU MLP 1280->5120->1280, post-LayerNorm of the class token, 1280->1024
projection without bias). `kernels/bench/check_clip_standin.py` checks that it reproduces transformers' output
(the committed parity fixture, computed by transformers 5.18 in float64) from the same weights. --clip transformers
uses the real class instead (needs transformers and its dependencies, so also --no-shims).

Imports without diffusers' dependencies: with only torch and numpy installed, diffusers at the pinned commit still
imports huggingface_hub, PIL, safetensors and yaml at module level (for downloads, image I/O, weight files, single-
file configs) though none of them runs on this path. Unless --no-shims, this script puts small stand-in modules for
exactly those four in sys.modules (IMPORT_SHIMS below): constants get real values, everything else is a placeholder
that raises if it is ever called, so a shim can never silently change what is computed. The pure-python packages
diffusers needs for real (packaging; requests and its pure-python dependencies for diffusers' import-time version
check; tqdm) are packed by pack-reference.sh into .device-ref/site: pass it with --extra-path.

Timing: --warmup untimed samples, then --repeat timed ones; each stage boundary synchronizes the device and reads a
host clock (so launch overhead counts, as in the engine); the report is the run with the median total, as the
engine's. peak_bytes = torch.cuda.max_memory_allocated() over a sample (reset at its start; null on the CPU).
unet_flops_per_step: torch.utils.flop_counter.FlopCounterMode over one CFG UNet forward (2 FLOPs per multiply-add
of matmuls, convolutions and SDPA, the engine's convention), counted once outside the timed runs.

Usage (repository root; CPU test in seconds: --tiny --device cpu --dtype fp32):
  python3 kernels/bench/torch_sample.py --puppet-master .device-ref/puppet-master --diffusers .device-ref/diffusers/src \\
      --extra-path .device-ref/site --device cuda --dtype fp16 --steps 50 --json out.json
The JSON uses the keys of the engine's `bench sample --json` (median_ms.{preprocess, clip, vae_encode, unet_per_step,
unet_total, vae_decode, total}, peak_bytes, unet_flops_per_step, unet_tflops_per_s, mfu, ...);
kernels/bench/compare_sample.py prints the two side by side.
"""
import argparse
import importlib.abc
import importlib.machinery
import json
import math
import os
import re
import sys
import time
import types
from datetime import datetime, timezone

# ---- configurations ------------------------------------------------------------------------------------------------
# stabilityai/stable-video-diffusion-img2vid unet/config.json (spec 2.1) with Puppet-Master's model_args and num_drags.
UNET_FULL = dict(
    sample_size=96, in_channels=8, out_channels=4,
    down_block_types=("CrossAttnDownBlockSpatioTemporal",) * 3 + ("DownBlockSpatioTemporal",),
    up_block_types=("UpBlockSpatioTemporal",) + ("CrossAttnUpBlockSpatioTemporal",) * 3,
    block_out_channels=(320, 640, 1280, 1280), addition_time_embed_dim=256, projection_class_embeddings_input_dim=768,
    layers_per_block=2, cross_attention_dim=1024, transformer_layers_per_block=1, num_attention_heads=(5, 10, 20, 20),
    num_frames=14, num_drags=5, cond_dropout_prob=0.1, pos_embed_dim=64, drag_token_cross_attn=True, use_modulate=True,
    drag_embedder_out_channels=(256, 320, 320))
# vae/config.json (spec 2.9)
VAE_FULL = dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4, sample_size=768,
                scaling_factor=0.18215, force_upcast=True)
# image_encoder/config.json (spec 2.10): ViT-H/14
CLIP_FULL = dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=16, num_channels=3,
                 image_size=224, patch_size=14, projection_dim=1024, layer_norm_eps=1e-5)
# --tiny: the same architecture families, narrow and shallow (CPU test in seconds). The latent side must be one the drag
# rasters exist for (32, 16, 8) at every drag level: 128 px -> latent 16 -> drag levels at 16 and 8.
UNET_TINY = dict(
    sample_size=16, in_channels=8, out_channels=4,
    down_block_types=("CrossAttnDownBlockSpatioTemporal", "CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
    up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
    block_out_channels=(32, 64, 64), layers_per_block=1, cross_attention_dim=32, transformer_layers_per_block=1,
    num_attention_heads=(2, 2, 2), num_frames=14, num_drags=5, cond_dropout_prob=0.1, pos_embed_dim=16,
    drag_token_cross_attn=True, use_modulate=True, drag_embedder_out_channels=(8, 16, 16))
VAE_TINY = dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                block_out_channels=(32, 32, 32, 32), layers_per_block=1, latent_channels=4, sample_size=128,
                scaling_factor=0.18215, force_upcast=True)
CLIP_TINY = dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=2, num_channels=3,
                 image_size=224, patch_size=14, projection_dim=32, layer_norm_eps=1e-5)
# stabilityai/stable-video-diffusion-img2vid scheduler/scheduler_config.json (spec 5.1)
SCHEDULER = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                 prediction_type="v_prediction", interpolation_type="linear", use_karras_sigmas=True, sigma_min=0.002,
                 sigma_max=700.0, timestep_spacing="leading", timestep_type="continuous", steps_offset=1,
                 set_alpha_to_one=False, skip_prk_steps=True, clip_sample=False)
# The engine's bench sample drags first (normalised x, y start -> end), then three more: the cost does not depend on
# how many of the 5 slots are used (rasters and drag tokens are computed for all slots, absent ones masked).
DRAGS = [(0.3, 0.5, 0.6, 0.55), (0.7, 0.3, 0.7, 0.1), (0.2, 0.2, 0.35, 0.1), (0.5, 0.8, 0.45, 0.95), (0.85, 0.7, 0.9, 0.85)]
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def median_run(runs):
    """The run with the median total, as the engine picks it (bench/Median.index): of an even count the faster middle one."""
    return sorted(runs, key=lambda r: r["total"])[(len(runs) - 1) // 2]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--puppet-master", required=True, help="directory holding Puppet-Master's networks.py and network_utils.py")
    p.add_argument("--diffusers", required=True, help="diffusers source root (the directory holding the 'diffusers' package)")
    p.add_argument("--extra-path", action="append", default=[], help="more import roots, searched after those two "
                   "(pack-reference.sh's .device-ref/site: packaging, tqdm, requests ...); repeatable")
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--dtype", default=None, choices=["fp16", "bf16", "fp32"], help="default fp16 on cuda, fp32 on cpu")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--frames", type=int, default=14)
    p.add_argument("--size", type=int, default=None, help="square side in pixels (default 256; --tiny 128)")
    p.add_argument("--guidance", type=float, default=5.0, help="max guidance; > 1 runs the CFG batch of 2 (default 5)")
    p.add_argument("--drags", type=int, default=5, help="drags used, 0..5 (default 5; the cost does not depend on it)")
    p.add_argument("--warmup", type=int, default=1, help="untimed samples first (default 1)")
    p.add_argument("--repeat", type=int, default=3, help="timed samples; the report is the median-total run (default 3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tiny", action="store_true", help="tiny architecture (same block types, narrow, shallow) for CPU tests")
    p.add_argument("--clip", default="standin", choices=["standin", "transformers"])
    p.add_argument("--no-shims", action="store_true", help="import diffusers' dependencies as installed (a full reference env)")
    p.add_argument("--no-flops", action="store_true", help="skip the FLOP count of one UNet forward")
    p.add_argument("--flops-only", action="store_true", help="only count one CFG UNet forward's FLOPs, on the meta "
                   "device (no memory, no compute: the full model at any frame count in seconds, on any machine)")
    p.add_argument("--no-cudnn-benchmark", action="store_true", help="leave torch.backends.cudnn.benchmark off")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads on the CPU (default: torch's choice; "
                   "use 1 on a shared machine: oversubscribed OpenMP threads made a tiny step 30x slower here)")
    p.add_argument("--peak-tflops", type=float, default=None, help="device dense peak for the dtype, for MFU")
    p.add_argument("--json", default=None, help="also write the report here")
    a = p.parse_args(argv)
    a.dtype = a.dtype or ("fp16" if a.device == "cuda" else "fp32")
    a.size = a.size or (128 if a.tiny else 256)
    if a.steps < 1 or a.frames < 1 or a.repeat < 1 or a.warmup < 0 or not 0 <= a.drags <= 5:
        p.error("need --steps >= 1, --frames >= 1, --repeat >= 1, --warmup >= 0, 0 <= --drags <= 5")
    return a


# ---- import shims (only for modules diffusers imports but this path never calls) -----------------------------------
class _ShimError(RuntimeError):
    pass


class _PlaceholderMeta(type):
    """Any attribute of a placeholder is another placeholder (e.g. PIL.Image.Resampling.BILINEAR)."""

    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _placeholder(cls.__qualname__ + "." + name)


def _placeholder(qualname):
    """A class standing for a name of a module that is not installed: usable as a base class, in `except`, as a value;
    calling or instantiating it raises, so no shim can take part in the computation unnoticed."""

    def fail(*args, **kwargs):
        raise _ShimError(f"{qualname} is an import shim (the package is not installed here) and must not be called "
                         "on the benchmark path; run with the real package and --no-shims")

    return _PlaceholderMeta(qualname, (Exception,), {"__new__": lambda cls, *a, **k: fail(), "__qualname__": qualname})


def _hf_home():
    return os.path.expanduser(os.getenv("HF_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "huggingface")))


# Names whose value matters at import time; everything else a shim is asked for becomes a placeholder.
IMPORT_SHIMS = {
    "huggingface_hub": {},
    "huggingface_hub.constants": {
        "HF_HOME": _hf_home(), "HF_HUB_CACHE": os.path.join(_hf_home(), "hub"),
        "HF_HUB_OFFLINE": True, "HF_HUB_DISABLE_TELEMETRY": True},
    "huggingface_hub.file_download": {"REGEX_COMMIT_HASH": re.compile(r"^[0-9a-f]{40}$")},
    "huggingface_hub.utils": {
        "validate_hf_hub_args": lambda fn: fn,  # a decorator applied at import time: the identity
        "is_jinja_available": lambda: False},
    # diffusers.utils.pil_utils reads PIL.__version__ to pick attribute names (PIL.Image.Resampling.* from 9.1);
    # 10.2.0 is the Pillow version Puppet-Master pins.
    "PIL": {"__version__": "10.2.0"},
    "safetensors": {},
    "yaml": {},
}
SHIM_ROOTS = sorted({k.split(".")[0] for k in IMPORT_SHIMS})
shim_names_used = set()


class _ShimModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        shim_names_used.add(self.__name__ + "." + name)
        v = _placeholder(self.__name__ + "." + name)
        setattr(self, name, v)
        return v


class _ShimFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] in SHIM_ROOTS:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        m = _ShimModule(spec.name)
        m.__path__ = []
        m.__dict__.update(IMPORT_SHIMS.get(spec.name, {}))
        return m

    def exec_module(self, module):
        pass


def setup_imports(a):
    for d in reversed([a.puppet_master, a.diffusers]):
        sys.path.insert(0, os.path.abspath(d))
    for d in a.extra_path:
        sys.path.append(os.path.abspath(d))
    if not a.no_shims:
        for root in SHIM_ROOTS:
            if root in sys.modules:
                raise SystemExit(f"torch_sample: {root} is already imported; cannot shim it (use --no-shims)")
        sys.meta_path.insert(0, _ShimFinder())


# ---- our pieces: all-to-first SDPA processor, CLIP stand-in, preprocessing -----------------------------------------
def make_all_to_first_processor(torch, F):
    class AllToFirstSDPAProcessor:
        """All-to-first self-attention through PyTorch SDPA, for diffusers' Attention modules (spec 3.6): queries from
        every frame; keys and values from frame 0 only (projected once per video), expanded to all frames and
        materialised, as Puppet-Master's AllToFirstXFormersAttnProcessor does before calling xformers; attention scale
        attn.scale; then to_out. Inputs (B*F, L, C), frames consecutive per video."""

        def __init__(self, num_frames):
            self.num_frames = num_frames

        def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, *args, **kwargs):
            if encoder_hidden_states is not None or attention_mask is not None or hidden_states.ndim != 3:
                raise ValueError("all-to-first is a self-attention over (B*F, L, C) tokens without a mask")
            if attn.spatial_norm is not None or attn.group_norm is not None:
                raise ValueError("all-to-first: this Attention has a spatial/group norm the reference path never has")
            residual = hidden_states
            n, length, c = hidden_states.shape
            f = self.num_frames
            b = n // f
            heads = attn.heads
            query = attn.to_q(hidden_states)
            first = hidden_states.view(b, f, length, c)[:, 0]  # frame 0 of each video
            key, value = attn.to_k(first), attn.to_v(first)
            d = query.shape[-1] // heads

            def split(t, batch):  # (batch, L, heads*d) -> (batch, heads, L, d)
                return t.view(batch, length, heads, d).transpose(1, 2)

            q = split(query, n)
            k = split(key, b)[:, None].expand(b, f, heads, length, d).reshape(n, heads, length, d)
            v = split(value, b)[:, None].expand(b, f, heads, length, d).reshape(n, heads, length, d)
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.0, is_causal=False, scale=attn.scale)
            out = out.transpose(1, 2).reshape(n, length, heads * d).to(query.dtype)
            out = attn.to_out[0](out)
            out = attn.to_out[1](out)
            if attn.residual_connection:
                out = out + residual
            return out / attn.rescale_output_factor

    return AllToFirstSDPAProcessor


def make_clip_standin(torch, nn, F):
    class _Attention(nn.Module):
        def __init__(self, c, heads):
            super().__init__()
            self.heads = heads
            self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(c, c) for _ in range(4))

        def forward(self, x):
            b, length, c = x.shape
            d = c // self.heads
            q, k, v = (p(x).view(b, length, self.heads, d).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
            o = F.scaled_dot_product_attention(q, k, v, scale=d ** -0.5)
            return self.out_proj(o.transpose(1, 2).reshape(b, length, c))

    class _Mlp(nn.Module):
        def __init__(self, c, inner):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(c, inner), nn.Linear(inner, c)

        def forward(self, x):
            return self.fc2(F.gelu(self.fc1(x)))  # exact (erf) GELU: hidden_act "gelu"

    class _Layer(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            c, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
            self.self_attn = _Attention(c, cfg["num_attention_heads"])
            self.layer_norm1 = nn.LayerNorm(c, eps=eps)
            self.mlp = _Mlp(c, cfg["intermediate_size"])
            self.layer_norm2 = nn.LayerNorm(c, eps=eps)

        def forward(self, x):
            x = x + self.self_attn(self.layer_norm1(x))
            return x + self.mlp(self.layer_norm2(x))

    class _Embeddings(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            c, p = cfg["hidden_size"], cfg["patch_size"]
            self.class_embedding = nn.Parameter(torch.randn(c))
            self.patch_embedding = nn.Conv2d(cfg["num_channels"], c, kernel_size=p, stride=p, bias=False)
            self.position_embedding = nn.Embedding((cfg["image_size"] // p) ** 2 + 1, c)

        def forward(self, pixels):
            x = self.patch_embedding(pixels.to(self.patch_embedding.weight.dtype)).flatten(2).transpose(1, 2)
            cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
            return torch.cat([cls, x], dim=1) + self.position_embedding.weight[None]

    class _Encoder(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.layers = nn.ModuleList(_Layer(cfg) for _ in range(cfg["num_hidden_layers"]))

    class _VisionModel(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            c, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
            self.embeddings = _Embeddings(cfg)
            self.pre_layrnorm = nn.LayerNorm(c, eps=eps)  # (sic: the checkpoint's key)
            self.encoder = _Encoder(cfg)
            self.post_layernorm = nn.LayerNorm(c, eps=eps)

    class ClipVisionStandIn(nn.Module):
        """CLIPVisionModelWithProjection's computation and parameter names (see the module docstring)."""

        def __init__(self, cfg):
            super().__init__()
            self.vision_model = _VisionModel(cfg)
            self.visual_projection = nn.Linear(cfg["hidden_size"], cfg["projection_dim"], bias=False)

        def forward(self, pixel_values):
            vm = self.vision_model
            x = vm.pre_layrnorm(vm.embeddings(pixel_values))
            for layer in vm.encoder.layers:
                x = layer(x)
            return self.visual_projection(vm.post_layernorm(x[:, 0]))  # image_embeds (B, projection_dim)

    return ClipVisionStandIn


def build_clip(torch, nn, F, a, cfg):
    if a.clip == "transformers":
        from transformers.models.clip.configuration_clip import CLIPVisionConfig
        from transformers.models.clip.modeling_clip import CLIPVisionModelWithProjection
        m = CLIPVisionModelWithProjection(CLIPVisionConfig(hidden_act="gelu", **cfg))
        m.config._attn_implementation = "sdpa"
        return m, (lambda pixels: m(pixel_values=pixels).image_embeds)
    m = make_clip_standin(torch, nn, F)(cfg)
    return m, m


def set_all_to_first(torch, F, unet, frames):
    """Puts AllToFirstSDPAProcessor on the modules train.py gives AllToFirstXFormersAttnProcessor (the spatial attn1 of
    every drag block and of the mid block: 16 in the full model), through the model's set_attn_processor; the other
    processors stay as built. Also sets the drag blocks' frame count (an attribute, 14 at construction, which the
    reference hard-codes) to `frames`. Returns the all-to-first module names."""
    for blk in list(unet.down_blocks) + list(unet.up_blocks):
        if hasattr(blk, "flow_convs"):
            blk.num_frames = frames
    AllToFirst = make_all_to_first_processor(torch, F)
    drag_blocks = [f"{side}_blocks.{i}." for side, blocks in (("down", unet.down_blocks), ("up", unet.up_blocks))
                   for i, blk in enumerate(blocks) if hasattr(blk, "flow_convs")] + ["mid_block."]
    procs, chosen = {}, []
    for name, proc in unet.attn_processors.items():
        spatial_attn1 = ".transformer_blocks.0.attn1." in name and ".temporal_transformer_blocks." not in name
        if spatial_attn1 and any(name.startswith(p) for p in drag_blocks):
            procs[name] = AllToFirst(frames)
            chosen.append(name)
        else:
            procs[name] = proc
    unet.set_attn_processor(procs)
    return chosen


def test_image(np, side):
    """The engine's BenchSampleCommand.testImage: rgb[y][x][c] = (x*(c+1) + y*(3-c)*2) & 0xff."""
    y, x, c = np.meshgrid(np.arange(side), np.arange(side), np.arange(3), indexing="ij")
    return ((x * (c + 1) + y * (3 - c) * 2) & 0xFF).astype(np.uint8)


def clip_preprocess(torch, F, x, size=224):
    """The SVD pipeline's CLIP input for an image tensor in [-1, 1] (spec 2.10): antialiased resize (Gaussian blur,
    sigma = max((s-1)/2, 0.001) per axis for the size ratio s, odd kernel of max(int(4 sigma), 3) taps, reflect
    padding; then bicubic with align_corners=True), back to [0, 1], CLIP mean/std."""
    _, ch, h, w = x.shape

    def gauss(ratio):
        sigma = max((ratio - 1.0) / 2.0, 0.001)
        k = max(int(4.0 * sigma), 3)
        k += 1 - k % 2
        t = torch.arange(k, dtype=torch.float32, device=x.device) - (k - 1) / 2
        g = torch.exp(-t * t / (2 * sigma * sigma))
        return (g / g.sum()).to(x.dtype), k

    gy, ky = gauss(h / size)
    gx, kx = gauss(w / size)
    x = F.pad(x, (kx // 2, kx // 2, ky // 2, ky // 2), mode="reflect")
    x = F.conv2d(x, gy.view(1, 1, ky, 1).expand(ch, 1, ky, 1), groups=ch)
    x = F.conv2d(x, gx.view(1, 1, 1, kx).expand(ch, 1, 1, kx), groups=ch)
    x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=True)
    x = (x + 1) / 2
    mean = torch.tensor(CLIP_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def drag_tensor(torch, frames, count, dtype, device):
    """(1, F, 5, 4): slot k = (x0, y0, x_f, y_f) with the target moving linearly from start (frame 0) to end (last
    frame); unused slots all zero (spec 1.2 step 4, 3.2)."""
    d = torch.zeros(1, frames, 5, 4, dtype=torch.float32)
    for k, (x0, y0, x1, y1) in enumerate(DRAGS[:count]):
        for f in range(frames):
            a = f / (frames - 1) if frames > 1 else 0.0
            d[0, f, k] = torch.tensor([x0, y0, x0 + (x1 - x0) * a, y0 + (y1 - y0) * a])
    return d.to(device=device, dtype=dtype)


# ---- the benchmark ---------------------------------------------------------------------------------------------------
def count_flops_on_meta(a, torch, F):
    """The FLOPs of one UNet forward over the CFG batch (2 per multiply-add, FlopCounterMode), with every tensor on
    the meta device. The drag blocks' nonzero() cannot be sized on meta: it is assumed all nonzero, which only
    shapes an index tensor."""
    import networks
    import torch.fx.experimental._config as fx_config
    from torch.utils.flop_counter import FlopCounterMode
    fx_config.meta_nonzero_assume_all_nonzero = True
    unet_cfg = UNET_TINY if a.tiny else UNET_FULL
    torch.set_default_device("meta")
    unet = networks.UNetDragSpatioTemporalConditionModel(**unet_cfg)
    unet = unet.to("meta").eval().requires_grad_(False)  # .to: some buffers are made on the CPU whatever the default
    set_all_to_first(torch, F, unet, a.frames)
    b, latent = 2 if a.guidance > 1 else 1, a.size // 8
    kw = dict(sample=torch.randn(b, a.frames, 4, latent, latent), timestep=torch.tensor(1.0),
              image_latents=torch.randn(b, 4, latent, latent), encoder_hidden_states=torch.randn(b, 1, unet_cfg["cross_attention_dim"]),
              added_time_ids=torch.randn(b, 3), drags=torch.randn(b, a.frames, 5, 4))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        unet(**kw)
    flops = counter.get_total_flops()
    print(f"unet_flops_per_step: {flops} ({flops / 1e12:.3f} TFLOP; batch {b}, {a.frames} frames, latents {latent}x{latent}, "
          f"counted on the meta device)")
    return 0


def main(argv=None):
    a = parse_args(argv)
    setup_imports(a)
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    if a.flops_only:
        return count_flops_on_meta(a, torch, F)
    dev = torch.device(a.device)
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[a.dtype]
    cuda = dev.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = not a.no_cudnn_benchmark
    elif a.threads:
        torch.set_num_threads(a.threads)

    import networks  # Puppet-Master's
    from diffusers.models.attention_processor import Attention, AttnProcessor2_0
    from diffusers.models.autoencoders.autoencoder_kl_temporal_decoder import AutoencoderKLTemporalDecoder
    from diffusers.schedulers.scheduling_euler_discrete import EulerDiscreteScheduler

    unet_cfg, vae_cfg, clip_cfg = (UNET_TINY, VAE_TINY, CLIP_TINY) if a.tiny else (UNET_FULL, VAE_FULL, CLIP_FULL)
    down = 2 ** (len(vae_cfg["block_out_channels"]) - 1)
    if a.size % down:
        raise SystemExit(f"torch_sample: --size {a.size} is not a multiple of the VAE's downscale factor {down}")
    latent = a.size // down
    drag_levels = [latent >> i for i, t in enumerate(unet_cfg["down_block_types"]) if t.startswith("CrossAttn")]
    if any(r not in (32, 16, 8) for r in drag_levels):
        raise SystemExit(f"torch_sample: --size {a.size} puts drag blocks at latent sides {drag_levels}; Puppet-Master "
                         f"rasterises drags only at 32, 16 and 8 (use --size {256 if not a.tiny else 128})")

    t_build = time.perf_counter()
    torch.manual_seed(a.seed)
    with torch.device(dev):  # build (and randomly initialise) on the device directly
        unet = networks.UNetDragSpatioTemporalConditionModel(**unet_cfg)
        unet.zero_init()  # as train.py does (zero_init: true); the drag embedders' output convs start at zero
        vae = AutoencoderKLTemporalDecoder(**vae_cfg)
        clip_module, clip_fn = build_clip(torch, nn, F, a, clip_cfg)
    for m in (unet, vae, clip_module):
        m.to(device=dev, dtype=dtype).eval()
        m.requires_grad_(False)
    all_to_first = set_all_to_first(torch, F, unet, a.frames)
    counts = {}
    for owner, mod in (("unet", unet), ("vae", vae)):
        for sub in mod.modules():
            if isinstance(sub, Attention):
                key = f"{owner}:{type(sub.processor).__name__}"
                counts[key] = counts.get(key, 0) + 1
    others = {k: v for k, v in counts.items() if not k.endswith((":AllToFirstSDPAProcessor", ":AttnProcessor2_0"))}
    if others:
        raise SystemExit(f"torch_sample: attention processors other than SDPA ones: {others}")
    if not a.tiny and len(all_to_first) != 16:
        raise SystemExit(f"torch_sample: {len(all_to_first)} all-to-first modules, expected 16 (train.py)")

    sched = EulerDiscreteScheduler.from_config(SCHEDULER)
    params = {name: sum(p.numel() for p in m.parameters()) for name, m in (("unet", unet), ("vae", vae), ("clip", clip_module))}
    if cuda:
        torch.cuda.synchronize()
    build_s = time.perf_counter() - t_build
    image_u8 = test_image(np, a.size)
    cfg_on = a.guidance > 1
    frames = a.frames

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def unet_inputs(x_in, t, z, emb, drags):
        """The UNet's keyword arguments for a model input x_in (already the CFG batch when CFG is on)."""
        ids = torch.tensor([[6.0, 127.0, 0.02]] * x_in.shape[0], dtype=dtype, device=dev)  # passed, ignored by PM
        if cfg_on:  # [cond, uncond]: the unconditional half has zero image latent, CLIP embedding and drags
            z, emb, drags = (torch.cat([u, torch.zeros_like(u)]) for u in (z, emb, drags))
        return dict(sample=x_in, timestep=t, image_latents=z, encoder_hidden_states=emb, added_time_ids=ids, drags=drags)

    def sample_once():
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        marks = []
        with torch.no_grad():
            sync()
            marks.append(time.perf_counter())
            # preprocess
            img = torch.from_numpy(image_u8).to(dev).permute(2, 0, 1)[None].to(torch.float32)
            pixels = (img / 127.5 - 1.0).to(dtype)
            clip_in = clip_preprocess(torch, F, pixels)
            drags = drag_tensor(torch, frames, a.drags, dtype, dev)
            sync()
            marks.append(time.perf_counter())
            # clip
            emb = clip_fn(clip_in)[:, None]  # (1, 1, projection_dim)
            sync()
            marks.append(time.perf_counter())
            # vae encode: the posterior mean, unscaled
            z = vae.encode(pixels).latent_dist.mean
            sync()
            marks.append(time.perf_counter())
            # unet: Euler over Karras sigmas, CFG per frame
            sched.set_timesteps(a.steps, device=dev)
            g = torch.Generator(device=dev).manual_seed(a.seed)
            x = torch.randn((1, frames, 4, latent, latent), generator=g, device=dev).to(dtype) * sched.init_noise_sigma
            guidance = torch.linspace(1.0, a.guidance, frames, device=dev).to(dtype)[None, :, None, None, None]
            for t in sched.timesteps:
                x_in = torch.cat([x, x]) if cfg_on else x
                x_in = sched.scale_model_input(x_in, t)
                v = unet(**unet_inputs(x_in, t, z, emb, drags))
                if cfg_on:
                    v_cond, v_uncond = v.chunk(2)
                    v = v_uncond + guidance * (v_cond - v_uncond)
                x = sched.step(v, t, x).prev_sample
            sync()
            marks.append(time.perf_counter())
            # vae decode: all frames in one call, then uint8 frames on the host
            video = vae.decode(x.flatten(0, 1) / vae_cfg["scaling_factor"], num_frames=frames).sample
            out = ((video.float() + 1) / 2).clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
            sync()
            marks.append(time.perf_counter())
        ms = [(marks[i + 1] - marks[i]) * 1e3 for i in range(5)]
        return dict(preprocess=ms[0], clip=ms[1], vae_encode=ms[2], unet_total=ms[3], vae_decode=ms[4],
                    total=(marks[-1] - marks[0]) * 1e3, peak_bytes=torch.cuda.max_memory_allocated() if cuda else None,
                    finite=bool(np.isfinite(x.float().cpu().numpy()).all()), frames_shape=list(out.shape))

    what = (f"reference puppet-master{' (tiny)' if a.tiny else ''} (random weights), {a.size}x{a.size}, {frames} frames, "
            f"{a.steps} steps, CFG {'on (batch 2)' if cfg_on else 'off'}, torch {a.device} {a.dtype}, SDPA")
    print(f"torch_sample: {what}; built in {build_s:.1f} s, params {params}", file=sys.stderr)

    flops = None
    if not a.no_flops:
        from torch.utils.flop_counter import FlopCounterMode
        with torch.no_grad():
            z0 = torch.zeros(1, 4, latent, latent, dtype=dtype, device=dev)
            e0 = torch.zeros(1, 1, clip_cfg["projection_dim"], dtype=dtype, device=dev)
            x0 = torch.zeros(2 if cfg_on else 1, frames, 4, latent, latent, dtype=dtype, device=dev)
            kw = unet_inputs(x0, torch.tensor(1.0, device=dev), z0, e0, drag_tensor(torch, frames, a.drags, dtype, dev))
            counter = FlopCounterMode(display=False)
            # torch has FLOP formulas for its CUDA SDPA kernels but not for the CPU one: on the CPU, count through
            # SDPA's math backend, whose matmuls are counted (this forward is outside the timed runs).
            import contextlib
            from torch.nn.attention import SDPBackend, sdpa_kernel
            with counter, (contextlib.nullcontext() if cuda else sdpa_kernel(SDPBackend.MATH)):
                unet(**kw)
            flops = int(counter.get_total_flops())
        sync()

    for i in range(a.warmup):
        r = sample_once()
        print(f"  warm-up {i + 1}: {r['total']:.0f} ms", file=sys.stderr)
    runs = []
    for i in range(a.repeat):
        r = sample_once()
        runs.append(r)
        print(f"  run {i + 1}: {r['total']:.0f} ms (unet {r['unet_total'] / a.steps:.1f} ms/step)", file=sys.stderr)
    med = median_run(runs)
    per_step = med["unet_total"] / a.steps
    tflops = flops / (per_step / 1e3) / 1e12 if flops else None
    mfu = tflops / a.peak_tflops if tflops is not None and a.peak_tflops else None

    print(f"{'stage':<22} {'ms':>10}")
    for label, key in (("preprocess", "preprocess"), ("clip", "clip"), ("vae encode", "vae_encode")):
        print(f"{label:<22} {med[key]:>10.1f}")
    print(f"{'unet per step':<22} {per_step:>10.1f}")
    for label, key in (("unet total", "unet_total"), ("vae decode", "vae_decode"), ("total", "total")):
        print(f"{label:<22} {med[key]:>10.1f}")
    peak = f"{med['peak_bytes'] / 1048576:.1f} MiB" if med["peak_bytes"] is not None else "n/a (cpu)"
    print(f"unet: {flops / 1e12 if flops else float('nan'):.3f} TFLOP/step, "
          f"{tflops if tflops is not None else float('nan'):.4f} TFLOP/s"
          f"{f', MFU {100 * mfu:.1f}%' if mfu is not None else ''}; peak memory {peak}; output finite: {med['finite']}")

    ref = {}
    ref_file = os.path.join(os.path.dirname(os.path.abspath(a.diffusers)), "..", "REF.txt")
    if os.path.isfile(ref_file):
        with open(ref_file) as fh:
            ref = dict(line.rstrip("\n").split(" ", 1) for line in fh if " " in line)
    report = {
        "date": datetime.now(timezone.utc).isoformat(),
        "what": what,
        "model": "reference puppet-master" + (" tiny" if a.tiny else "") + " (random weights)",
        "backend": f"torch {a.device}",
        "dtype": {"fp16": "F16", "bf16": "BF16", "fp32": "F32"}[a.dtype],
        "resolution": a.size,
        "frames": frames,
        "steps": a.steps,
        "cfg": cfg_on,
        "repeat": a.repeat,
        "warmup": a.warmup,
        "median_ms": {"preprocess": med["preprocess"], "clip": med["clip"], "vae_encode": med["vae_encode"],
                      "unet_per_step": per_step, "unet_total": med["unet_total"], "vae_decode": med["vae_decode"],
                      "total": med["total"]},
        "total_ms_all_runs": [r["total"] for r in runs],
        "unet_flops_per_step": flops,
        "unet_flops_counter": "torch.utils.flop_counter.FlopCounterMode, one CFG forward" if flops else None,
        "unet_tflops_per_s": tflops,
        "mfu": mfu,
        "peak_bytes": med["peak_bytes"],
        "output_finite": med["finite"],
        "decoded_frames_shape": med["frames_shape"],
        "drags": a.drags,
        "guidance": [1.0, a.guidance],
        "params": params,
        "build_s": build_s,
        "attention_processors": counts,
        "all_to_first_modules": len(all_to_first),
        "clip_implementation": "ClipVisionStandIn (torch_sample.py)" if a.clip == "standin" else "transformers CLIPVisionModelWithProjection",
        "import_shims": [] if a.no_shims else SHIM_ROOTS,
        "shim_names_touched": sorted(shim_names_used),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark) if cuda else None,
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "device_name": torch.cuda.get_device_name() if cuda else "cpu",
        "python": sys.version.split()[0],
        "cpu_threads": None if cuda else torch.get_num_threads(),
        "reference": ref,
        "command": " ".join(sys.argv),
    }
    if a.json:
        tmp = a.json + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(report, fh, indent=1)
        os.replace(tmp, a.json)
        print(f"wrote {a.json}", file=sys.stderr)
    return report


if __name__ == "__main__":
    main()
