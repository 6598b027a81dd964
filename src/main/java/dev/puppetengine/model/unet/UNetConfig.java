package dev.puppetengine.model.unet;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * UNet configuration with diffusers' config.json field names (unknown fields such as "_class_name" are
 * ignored). Puppet-Master's constructor arguments (num_drags, pos_embed_dim, ...) use its names; fields the
 * engine adds are marked. numDrags 0 means stock SVD (no drag modules).
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record UNetConfig(
        @JsonProperty("in_channels") int inChannels,
        @JsonProperty("out_channels") int outChannels,
        @JsonProperty("block_out_channels") List<Integer> blockOutChannels,
        @JsonProperty("layers_per_block") int layersPerBlock,
        @JsonProperty("down_block_types") List<String> downBlockTypes,
        @JsonProperty("up_block_types") List<String> upBlockTypes,
        @JsonProperty("num_attention_heads") List<Integer> numAttentionHeads,
        @JsonProperty("transformer_layers_per_block") int transformerLayersPerBlock,
        @JsonProperty("cross_attention_dim") int crossAttentionDim,
        @JsonProperty("addition_time_embed_dim") int additionTimeEmbedDim,
        @JsonProperty("projection_class_embeddings_input_dim") int projectionClassEmbeddingsInputDim,
        @JsonProperty("num_frames") int numFrames,
        @JsonProperty("sample_size") int sampleSize,
        // Puppet-Master (UNetDragSpatioTemporalConditionModel) arguments
        @JsonProperty("num_drags") int numDrags,
        @JsonProperty("pos_embed_dim") int posEmbedDim,
        @JsonProperty("drag_embedder_out_channels") List<Integer> dragEmbedderOutChannels,
        @JsonProperty("cond_dropout_prob") double condDropoutProb,
        // engine fields: structure choices diffusers/Puppet-Master hard-code
        @JsonProperty("use_add_embedding") boolean useAddEmbedding,
        @JsonProperty("all_to_first_attention") boolean allToFirstAttention,
        @JsonProperty("norm_num_groups") int normNumGroups,
        @JsonProperty("resnet_eps_down") List<Double> resnetEpsDown,
        @JsonProperty("resnet_eps_mid") double resnetEpsMid,
        @JsonProperty("resnet_eps_up") List<Double> resnetEpsUp) {

    public static final String CROSS_DOWN = "CrossAttnDownBlockSpatioTemporal", DOWN = "DownBlockSpatioTemporal",
            UP = "UpBlockSpatioTemporal", CROSS_UP = "CrossAttnUpBlockSpatioTemporal";

    public UNetConfig {
        if (dragEmbedderOutChannels == null) dragEmbedderOutChannels = List.of();   // absent: no drag modules (a config written without the Puppet-Master fields)
        int levels = blockOutChannels.size();
        if (downBlockTypes.size() != levels || upBlockTypes.size() != levels || numAttentionHeads.size() != levels
                || resnetEpsDown.size() != levels || resnetEpsUp.size() != levels)
            throw new IllegalArgumentException("UNet config: block_out_channels, down/up_block_types, num_attention_heads and resnet eps lists must all have "
                    + levels + " entries");
        for (String t : downBlockTypes)
            if (!t.equals(CROSS_DOWN) && !t.equals(DOWN)) throw new IllegalArgumentException("UNet config: unsupported down block type " + t);
        for (String t : upBlockTypes)
            if (!t.equals(CROSS_UP) && !t.equals(UP)) throw new IllegalArgumentException("UNet config: unsupported up block type " + t);
        if (transformerLayersPerBlock != 1) throw new IllegalArgumentException("UNet config: transformer_layers_per_block must be 1 (SVD)");
        if (numDrags > 0 && (posEmbedDim % 4 != 0 || dragEmbedderOutChannels.isEmpty()))
            throw new IllegalArgumentException("UNet config: pos_embed_dim must be a multiple of 4 and drag_embedder_out_channels non-empty");
        // a config.json can hold [null] or 0 heads: refused here, not a NullPointerException or "/ by zero" building the model
        for (List<?> l : new List<?>[]{blockOutChannels, numAttentionHeads, resnetEpsDown, resnetEpsUp, dragEmbedderOutChannels})
            if (l.stream().anyMatch(Objects::isNull)) throw new IllegalArgumentException("UNet config: a list holds null: " + l);
        if (layersPerBlock < 1) throw new IllegalArgumentException("UNet config: layers_per_block must be at least 1, got " + layersPerBlock);
        for (int i = 0; i < levels; i++) {
            int c = blockOutChannels.get(i), heads = numAttentionHeads.get(i);
            if (c < 1 || heads < 1 || c % heads != 0)
                throw new IllegalArgumentException("UNet config: block_out_channels " + c + " must be positive and divisible by num_attention_heads " + heads);
            if (c % normNumGroups != 0) throw new IllegalArgumentException("UNet config: " + c + " channels not divisible by norm_num_groups " + normNumGroups);
        }
    }

    public boolean hasDrags() { return numDrags > 0; }

    public int timeEmbedDim() { return 4 * blockOutChannels.get(0); }

    /** Latents' side must be a multiple of this: each down block but the last halves it, and the up path meets the skips. */
    public int latentMultiple() { return 1 << (blockOutChannels.size() - 1); }

    /** Whether this UNet takes h x w latents: square, with a side that is a multiple of {@link #latentMultiple}. */
    public boolean takesLatents(int h, int w) { return h == w && h % latentMultiple() == 0; }

    /** Stabilityai stable-video-diffusion-img2vid (14 frames), stock diffusers eps values. */
    public static UNetConfig svdImg2vid() {
        return new UNetConfig(8, 4, List.of(320, 640, 1280, 1280), 2, List.of(CROSS_DOWN, CROSS_DOWN, CROSS_DOWN, DOWN),
                List.of(UP, CROSS_UP, CROSS_UP, CROSS_UP), List.of(5, 10, 20, 20), 1, 1024, 256, 768, 14, 96,
                0, 64, List.of(), 0, true, false, 32, List.of(1e-6, 1e-6, 1e-6, 1e-5), 1e-5, List.of(1e-6, 1e-6, 1e-6, 1e-6));
    }

    /** The released Puppet-Master UNet: no add_embedding, 5 drags, all-to-first attention, its eps table. */
    public static UNetConfig puppetMaster() {
        return new UNetConfig(8, 4, List.of(320, 640, 1280, 1280), 2, List.of(CROSS_DOWN, CROSS_DOWN, CROSS_DOWN, DOWN),
                List.of(UP, CROSS_UP, CROSS_UP, CROSS_UP), List.of(5, 10, 20, 20), 1, 1024, 256, 768, 14, 96,
                5, 64, List.of(256, 320, 320), 0.1, false, true, 32, List.of(1e-6, 1e-6, 1e-6, 1e-5), 1e-5, List.of(1e-6, 1e-5, 1e-5, 1e-5));
    }

    /** The Puppet-Master architecture at toy size (tests, the embedded default model). */
    public static UNetConfig tiny(int channels, int frames, int contextDim) {
        int c = channels;
        return new UNetConfig(8, 4, List.of(c, 2 * c, 2 * c, 2 * c), 2, List.of(CROSS_DOWN, CROSS_DOWN, CROSS_DOWN, DOWN),
                List.of(UP, CROSS_UP, CROSS_UP, CROSS_UP), List.of(1, 2, 2, 2), 1, contextDim, 8, 24, frames, 8,
                5, 16, List.of(c / 2, c, c), 0.1, false, true, Math.min(8, c), List.of(1e-6, 1e-6, 1e-6, 1e-5), 1e-5,
                List.of(1e-6, 1e-5, 1e-5, 1e-5));
    }

    /**
     * The stock SVD UNet a Puppet-Master config is initialised from (spec 3.1, 3.8): same widths, with
     * add_embedding, without drag modules, plain self-attention and diffusers' own up-block eps.
     */
    public UNetConfig svdBase() {
        return new UNetConfig(inChannels, outChannels, blockOutChannels, layersPerBlock, downBlockTypes, upBlockTypes, numAttentionHeads,
                transformerLayersPerBlock, crossAttentionDim, additionTimeEmbedDim, projectionClassEmbeddingsInputDim, numFrames, sampleSize,
                0, posEmbedDim, List.of(), 0, true, false, normNumGroups, resnetEpsDown, resnetEpsMid,
                Collections.nCopies(resnetEpsUp.size(), resnetEpsDown.get(0)));
    }


    /** Up-path head counts (reversed down list). */
    List<Integer> reversedHeads() {
        List<Integer> r = new ArrayList<>(numAttentionHeads);
        Collections.reverse(r);
        return r;
    }
}
