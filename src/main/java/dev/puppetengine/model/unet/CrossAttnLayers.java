package dev.puppetengine.model.unet;

import dev.puppetengine.autograd.F;
import dev.puppetengine.model.SpatioTemporalResBlock;
import dev.puppetengine.model.drag.DragEmbedding;
import dev.puppetengine.model.drag.DragRasterizer;
import dev.puppetengine.model.drag.DragTokenMlp;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.ModuleList;
import dev.puppetengine.tensor.DeviceConstants;
import dev.puppetengine.tensor.Tensor;

import java.util.List;

/**
 * The layers shared by the cross-attention down and up blocks: per layer j a resnet (resnets.j), a
 * spatio-temporal transformer (attentions.j) and, in Puppet-Master, a drag embedder (flow_convs.j) and a
 * drag-token MLP (drag_token_mlps.j) in the order of spec 3.9: resnet -> FiLM by the drag embedding ->
 * drag tokens from the modulated features -> transformer with context [CLIP, tokens].
 */
abstract class CrossAttnLayers extends Module {
    private final ModuleList<SpatioTemporalResBlock> resnets = add("resnets", new ModuleList<>());
    private final ModuleList<TransformerSpatioTemporalModel> attentions = add("attentions", new ModuleList<>());
    private final ModuleList<DragEmbedding> flowConvs;
    private final ModuleList<DragTokenMlp> dragTokenMlps;

    CrossAttnLayers(UNetConfig cfg, int[] resnetIn, int out, int heads, double eps) {
        boolean drags = cfg.hasDrags();
        this.flowConvs = drags ? add("flow_convs", new ModuleList<>()) : null;
        this.dragTokenMlps = drags ? add("drag_token_mlps", new ModuleList<>()) : null;
        int[] hidden = cfg.dragEmbedderOutChannels().stream().mapToInt(Integer::intValue).toArray();
        for (int in : resnetIn) {
            resnets.append(SpatioTemporalResBlock.unet(in, out, cfg.timeEmbedDim(), eps, cfg.normNumGroups()));
            attentions.append(new TransformerSpatioTemporalModel(out, heads, cfg.crossAttentionDim(), cfg.normNumGroups(), cfg.allToFirstAttention()));
            if (drags) {
                flowConvs.append(new DragEmbedding(DragRasterizer.CHANNELS_PER_DRAG * cfg.numDrags(), hidden, 2 * out));
                dragTokenMlps.append(new DragTokenMlp(2 * out + 2 * cfg.posEmbedDim(), cfg.crossAttentionDim()));
            }
        }
    }

    int layers() { return resnets.size(); }

    Tensor layer(int j, Tensor h, BlockInputs in) {
        Tensor context = in.context();
        if (flowConvs != null) {   // the drag FiLM is applied inside the resnet's last pass (SpatioTemporalResBlock)
            int r = h.size(1);
            Tensor raster = in.drags().level(r).raster();   // the drags only, not the step: computed once per sampling
            Tensor gb = stepInvariant(List.of(j, DeviceConstants.identity(raster)), () -> in.run(x -> flowConvs.get(j).forward(x[0]), raster));
            int c = gb.size(3) / 2;   // gamma, then beta
            h = in.run(x -> resnets.get(j).forward(x[0], x[1], in.frames(), x[2], x[3]), h, in.siluTemb(), F.narrow(gb, 3, 0, c), F.narrow(gb, 3, c, c));
            context = in.drags().context(h, r, dragTokenMlps.get(j), context, in.detachDragFeatures());
        } else {
            h = in.run(x -> resnets.get(j).forward(x[0], x[1], in.frames()), h, in.siluTemb());
        }
        TransformerSpatioTemporalModel attn = attentions.get(j);
        return in.run(x -> attn.forward(x[0], x[1], in.frames()), h, context);
    }
}
