package dev.puppetengine.model.unet;

import dev.puppetengine.autograd.F;
import dev.puppetengine.model.AlphaBlender;
import dev.puppetengine.model.TimestepEmbedding;
import dev.puppetengine.nn.GroupNorm;
import dev.puppetengine.nn.Linear;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.ModuleList;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.DeviceConstants;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;

import java.util.List;

/**
 * SVD's spatio-temporal transformer (spec 2.5): GN, proj_in, a spatial {@link BasicTransformerBlock} per
 * frame, a {@link TemporalBasicTransformerBlock} per pixel with a frame positional embedding and the
 * frame-0 context, an AlphaBlender between the two, proj_out and the residual. h (B*F, H, W, C).
 */
public final class TransformerSpatioTemporalModel extends Module {
    private final GroupNorm norm;
    private final Linear projIn, projOut;
    private final BasicTransformerBlock spatial;
    private final TemporalBasicTransformerBlock temporal;
    private final TimestepEmbedding timePosEmbed;
    private final AlphaBlender mixer;
    private final int channels;

    public TransformerSpatioTemporalModel(int channels, int heads, int contextDim, int groups, boolean allToFirst) {
        this.channels = channels;
        int dimHead = channels / heads;
        this.norm = add("norm", new GroupNorm(groups, channels, 1e-6));
        this.projIn = add("proj_in", new Linear(channels, channels, true));
        this.spatial = add("transformer_blocks", new ModuleList<BasicTransformerBlock>())
                .append(new BasicTransformerBlock(channels, heads, dimHead, contextDim, allToFirst));
        this.temporal = add("temporal_transformer_blocks", new ModuleList<TemporalBasicTransformerBlock>())
                .append(new TemporalBasicTransformerBlock(channels, heads, dimHead, contextDim));
        this.timePosEmbed = add("time_pos_embed", new TimestepEmbedding(channels, 4 * channels, channels));
        this.mixer = add("time_mixer", new AlphaBlender(0.5, false));
        this.projOut = add("proj_out", new Linear(channels, channels, true));
    }

    /** context (B*F, Lc, Cc); the temporal cross-attention uses frame 0's context of each video. */
    public Tensor forward(Tensor h, Tensor context, int frames) {
        int[] s = h.shape();
        int n = s[0], hw = s[1] * s[2], b = n / frames;
        Tensor x = projIn.forward(F.reshape(norm.forward(h), n, hw, channels));
        x = spatial.forward(x, context, frames);

        Tensor pos = stepInvariant(List.of(frames, h.dtype(), h.backend()), () -> frameEmbedding(h, frames));   // (F, C)
        // x read in the temporal order (B, HW, F, C): the add writes the frame sequences, no separate reordering copy
        Tensor y = F.add(F.permute(F.reshape(x, b, frames, hw, channels), 0, 2, 1, 3), F.reshape(pos, 1, 1, frames, channels));
        y = F.reshape(y, b * hw, frames, channels);
        y = temporal.forward(y, BasicTransformerBlock.firstFrame(context, frames));
        y = F.reshape(F.contiguous(F.permute(F.reshape(y, b, hw, frames, channels), 0, 2, 1, 3)), n, hw, channels);

        return F.reshape(projOut.forward(mixer.forward(x, y), F.reshape(h, n, hw, channels)), s);
    }

    /** time_pos_embed(sinus(f, C)) for f = 0..F-1 in the dtype of h: (F, C). */
    private Tensor frameEmbedding(Tensor h, int frames) {
        double[] idx = new double[frames];
        for (int f = 0; f < frames; f++) idx[f] = f;
        DType t = h.dtype().full();
        Tensor index = DeviceConstants.get(List.of("frame-index", h.backend(), t, frames), () -> Tensor.of(h.backend(), t, new int[]{frames}, idx));
        try (Scope s = Scope.open()) {
            return Scope.escape(timePosEmbed.forward(F.to(F.sinusoidal(index, channels), h.dtype())));
        }
    }
}
