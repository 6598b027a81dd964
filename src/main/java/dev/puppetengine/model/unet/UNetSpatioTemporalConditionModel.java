package dev.puppetengine.model.unet;

import dev.puppetengine.autograd.F;
import dev.puppetengine.model.TimestepEmbedding;
import dev.puppetengine.model.drag.DragConditioning;
import dev.puppetengine.nn.Conv2d;
import dev.puppetengine.nn.GroupNorm;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.ModuleList;
import dev.puppetengine.random.Philox;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.DeviceConstants;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * SVD's UNetSpatioTemporalConditionModel and, when the config has drags, Puppet-Master's
 * UNetDragSpatioTemporalConditionModel (no add_embedding; drag embedders and tokens in the cross-attention
 * blocks; all-to-first spatial attention). Parameter names equal the diffusers / Puppet-Master state dicts.
 * Returns v (B, F, H, W, 4).
 */
public final class UNetSpatioTemporalConditionModel extends Module {
    private final UNetConfig cfg;
    private final Conv2d convIn, convOut;
    private final TimestepEmbedding timeEmbedding, addEmbedding;
    private final List<UNetBlock> down = new ArrayList<>(), up = new ArrayList<>();
    private final UNetMidBlockSpatioTemporal mid;
    private final GroupNorm convNormOut;
    private final Set<Integer> dragLevels = new TreeSet<>();   // levels (0 = full latent size) with drag layers

    public UNetSpatioTemporalConditionModel(UNetConfig cfg) {
        this.cfg = cfg;
        List<Integer> boc = cfg.blockOutChannels();
        int levels = boc.size();
        this.convIn = add("conv_in", Conv2d.same(cfg.inChannels(), boc.get(0), 3));
        this.timeEmbedding = add("time_embedding", new TimestepEmbedding(boc.get(0), cfg.timeEmbedDim(), cfg.timeEmbedDim()));
        this.addEmbedding = cfg.useAddEmbedding()
                ? add("add_embedding", new TimestepEmbedding(cfg.projectionClassEmbeddingsInputDim(), cfg.timeEmbedDim(), cfg.timeEmbedDim())) : null;

        ModuleList<Module> downBlocks = add("down_blocks", new ModuleList<>());
        int out = boc.get(0);
        for (int i = 0; i < levels; i++) {
            int in = out;
            out = boc.get(i);
            boolean last = i == levels - 1;
            double eps = cfg.resnetEpsDown().get(i);
            Module b;
            if (cfg.downBlockTypes().get(i).equals(UNetConfig.CROSS_DOWN)) {
                b = new CrossAttnDownBlockSpatioTemporal(cfg, in, out, cfg.numAttentionHeads().get(i), eps, !last);
                if (cfg.hasDrags()) dragLevels.add(i);
            } else {
                b = new DownBlockSpatioTemporal(cfg, in, out, eps, !last);
            }
            down.add((UNetBlock) downBlocks.append(b));
        }
        this.mid = add("mid_block", new UNetMidBlockSpatioTemporal(cfg, boc.get(levels - 1), cfg.numAttentionHeads().get(levels - 1)));

        ModuleList<Module> upBlocks = add("up_blocks", new ModuleList<>());
        List<Integer> heads = cfg.reversedHeads();
        out = boc.get(levels - 1);
        for (int i = 0; i < levels; i++) {
            int prev = out;
            out = boc.get(levels - 1 - i);
            int skipIn = boc.get(Math.max(levels - 2 - i, 0));
            boolean last = i == levels - 1;
            int layers = cfg.layersPerBlock() + 1;
            int[] resnetIn = new int[layers];
            for (int j = 0; j < layers; j++) resnetIn[j] = (j == 0 ? prev : out) + (j == layers - 1 ? skipIn : out);
            double eps = cfg.resnetEpsUp().get(i);
            Module b;
            if (cfg.upBlockTypes().get(i).equals(UNetConfig.CROSS_UP)) {
                b = new CrossAttnUpBlockSpatioTemporal(cfg, resnetIn, out, heads.get(i), eps, !last);
                if (cfg.hasDrags()) dragLevels.add(levels - 1 - i);
            } else {
                b = new UpBlockSpatioTemporal(cfg, resnetIn, out, eps, !last);
            }
            up.add((UNetBlock) upBlocks.append(b));
        }
        this.convNormOut = add("conv_norm_out", new GroupNorm(cfg.normNumGroups(), boc.get(0), 1e-5));
        this.convOut = add("conv_out", Conv2d.same(boc.get(0), cfg.outChannels(), 3));
    }

    public UNetConfig config() { return cfg; }

    public Tensor forward(UNetInputs x, UNetOptions opt) {
        int[] s = x.sample().shape();
        int b = s[0], frames = s[1], h = s[2], w = s[3], n = b * frames;
        if (!cfg.takesLatents(h, w))
            throw new IllegalArgumentException("UNet: latents must be square with a side divisible by " + cfg.latentMultiple() + ", got " + h + "x" + w);
        DType dt = convIn.weight.value().dtype();
        try (Scope scope = Scope.open()) {
            Tensor temb = timeEmbedding.forward(F.to(F.sinusoidal(x.timestep(), cfg.blockOutChannels().get(0)), dt));
            if (addEmbedding != null) {
                Tensor ids = F.reshape(x.addedTimeIds(), b * 3);
                Tensor e = F.reshape(F.to(F.sinusoidal(ids, cfg.additionTimeEmbedDim()), dt), b, 3 * cfg.additionTimeEmbedDim());
                temb = F.add(temb, addEmbedding.forward(e));
            }
            Tensor siluTemb = perFrame(F.silu(temb), frames);   // what every resblock's time_emb_proj reads
            Tensor context = perFrame(F.to(x.context(), dt), frames);

            Tensor cond = F.expand(F.unsqueeze(F.to(x.imageLatents(), dt), 1), b, frames, h, w, x.imageLatents().size(3));
            Tensor in = F.reshape(F.concat(List.of(F.to(x.sample(), dt), cond), 4), n, h, w, cfg.inChannels());

            DragConditioning drags = cfg.hasDrags() ? dragConditioning(x, opt, b, frames, h, dt) : null;
            BlockInputs bi = new BlockInputs(siluTemb, context, frames, drags, opt.checkpointing(), opt.detachDragFeatures());

            Deque<Tensor> skips = new ArrayDeque<>();
            Tensor hs = convIn.forward(in);
            skips.push(hs);
            for (UNetBlock blk : down) hs = blk.forward(hs, bi, skips);
            hs = mid.forward(hs, bi);
            for (UNetBlock blk : up) hs = blk.forward(hs, bi, skips);
            Tensor v = convOut.forward(convNormOut.forwardSilu(hs));
            return Scope.escape(F.reshape(v, b, frames, h, w, cfg.outChannels()));
        }
    }

    /** (B, ...) -> (B*F, ...), each video's row repeated for its frames (index b*F + f). */
    private static Tensor perFrame(Tensor t, int frames) {
        int[] s = t.shape();
        int[] e = new int[s.length + 1];
        e[0] = s[0];
        e[1] = frames;
        System.arraycopy(s, 1, e, 2, s.length - 1);
        int[] r = new int[s.length];
        System.arraycopy(s, 0, r, 0, s.length);
        r[0] = s[0] * frames;
        return F.reshape(F.expand(F.unsqueeze(t, 1), e), r);
    }

    /**
     * The drag conditioning of this forward. Built from host values (the drag tensor is read back), so at inference
     * it goes through {@link DeviceConstants}: one build per drag tensor while a sampler's memo is open.
     */
    private DragConditioning dragConditioning(UNetInputs x, UNetOptions opt, int b, int frames, int h, DType dt) {
        if (opt.training()) return buildDragConditioning(x, opt, b, frames, h, dt);
        Object key = List.of("drag-conditioning", DeviceConstants.identity(this), x.drags() == null ? "none" : DeviceConstants.identity(x.drags()), b, frames, h,
                convIn.weight.value().backend(), dt);
        return DeviceConstants.get(key, () -> buildDragConditioning(x, opt, b, frames, h, dt));
    }

    private DragConditioning buildDragConditioning(UNetInputs x, UNetOptions opt, int b, int frames, int h, DType dt) {
        int k = cfg.numDrags();
        float[] d = new float[b * frames * k * 4];
        if (x.drags() != null) {
            int[] ds = x.drags().shape();
            if (ds.length != 4 || ds[0] != b || ds[1] != frames || ds[2] != k || ds[3] != 4)
                throw new IllegalArgumentException("UNet: drags must have shape [" + b + ", " + frames + ", " + k + ", 4], got " + Arrays.toString(ds));
            d = x.drags().toFloatArray();
        }
        if (opt.training() && cfg.condDropoutProb() > 0) {
            int per = frames * k * 4;
            for (int v = 0; v < b; v++)
                if (Philox.uniform(opt.dropoutSeed(), opt.dropoutOffset(), v) < cfg.condDropoutProb())
                    Arrays.fill(d, v * per, (v + 1) * per, 0f);
        }
        Set<Integer> res = new TreeSet<>();
        for (int level : dragLevels) res.add(h >> level);
        return DragConditioning.build(d, b, frames, k, res, cfg.posEmbedDim(), convIn.weight.value().backend(), dt);
    }
}
