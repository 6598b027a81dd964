package dev.puppetengine.model.vae;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.Collections;
import java.util.List;

/**
 * AutoencoderKLTemporalDecoder configuration with diffusers' vae/config.json field names (unknown fields
 * such as "_class_name" are ignored). norm_num_groups is an engine field: diffusers hard-codes 32 groups in
 * this model, and a config without the field (0 after parsing) gets 32.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record VaeConfig(
        @JsonProperty("in_channels") int inChannels,
        @JsonProperty("out_channels") int outChannels,
        @JsonProperty("latent_channels") int latentChannels,
        @JsonProperty("down_block_types") List<String> downBlockTypes,
        @JsonProperty("block_out_channels") List<Integer> blockOutChannels,
        @JsonProperty("layers_per_block") int layersPerBlock,
        @JsonProperty("sample_size") int sampleSize,
        @JsonProperty("scaling_factor") double scalingFactor,
        @JsonProperty("force_upcast") boolean forceUpcast,
        // engine field
        @JsonProperty("norm_num_groups") int normNumGroups) {

    public static final String DOWN_ENCODER = "DownEncoderBlock2D";
    static final int DIFFUSERS_GROUPS = 32;

    public VaeConfig {
        if (normNumGroups == 0) normNumGroups = DIFFUSERS_GROUPS;
        if (blockOutChannels == null || blockOutChannels.isEmpty()) throw new IllegalArgumentException("VAE config: block_out_channels must not be empty");
        if (downBlockTypes == null || downBlockTypes.size() != blockOutChannels.size())
            throw new IllegalArgumentException("VAE config: down_block_types must have one entry per block_out_channels entry ("
                    + blockOutChannels.size() + "), got " + downBlockTypes);
        for (String t : downBlockTypes)
            if (!t.equals(DOWN_ENCODER)) throw new IllegalArgumentException("VAE config: unsupported down block type " + t + " (only " + DOWN_ENCODER + ")");
        if (layersPerBlock < 1) throw new IllegalArgumentException("VAE config: layers_per_block must be at least 1, got " + layersPerBlock);
        if (!(scalingFactor > 0 && scalingFactor < Double.POSITIVE_INFINITY))   // 1e999 in a config.json reads as infinity
            throw new IllegalArgumentException("VAE config: scaling_factor must be a finite number > 0, got " + scalingFactor);
        for (int c : blockOutChannels)
            if (c % normNumGroups != 0) throw new IllegalArgumentException("VAE config: " + c + " channels not divisible by norm_num_groups " + normNumGroups);
        if (inChannels < 1 || outChannels < 1 || latentChannels < 1)
            throw new IllegalArgumentException("VAE config: in_channels, out_channels and latent_channels must be positive");
        blockOutChannels = List.copyOf(blockOutChannels);
        downBlockTypes = List.copyOf(downBlockTypes);
    }

    /** The same VAE with another latent scaling factor (set after training a toy VAE: 1 / std of its latents). */
    public VaeConfig withScalingFactor(double f) {
        return new VaeConfig(inChannels, outChannels, latentChannels, downBlockTypes, blockOutChannels, layersPerBlock, sampleSize, f, forceUpcast,
                normNumGroups);
    }

    /** stabilityai/stable-video-diffusion-img2vid, vae/config.json. */
    public static VaeConfig svd() {
        return new VaeConfig(3, 3, 4, Collections.nCopies(4, DOWN_ENCODER), List.of(128, 256, 512, 512), 2, 768, 0.18215, true, DIFFUSERS_GROUPS);
    }

    /** The same architecture at toy size: channels c, 2c, 2c, 2c with min(8, c) groups (8x downscale, like SVD). */
    public static VaeConfig tiny(int channels) {
        int c = channels;
        return new VaeConfig(3, 3, 4, Collections.nCopies(4, DOWN_ENCODER), List.of(c, 2 * c, 2 * c, 2 * c), 2, 64, 0.18215, true, Math.min(8, c));
    }

    /** Pixels per latent cell along each side. */
    public int downscaleFactor() { return 1 << (blockOutChannels.size() - 1); }
}
