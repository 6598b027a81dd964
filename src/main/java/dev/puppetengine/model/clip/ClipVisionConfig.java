package dev.puppetengine.model.clip;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * CLIP vision tower configuration with transformers' CLIPVisionConfig field names (image_encoder/config.json;
 * unknown fields ignored). Only the exact-erf "gelu" activation is supported (SVD's ViT-H/14 uses it).
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ClipVisionConfig(
        @JsonProperty("hidden_size") int hiddenSize,
        @JsonProperty("intermediate_size") int intermediateSize,
        @JsonProperty("num_hidden_layers") int numHiddenLayers,
        @JsonProperty("num_attention_heads") int numAttentionHeads,
        @JsonProperty("num_channels") int numChannels,
        @JsonProperty("image_size") int imageSize,
        @JsonProperty("patch_size") int patchSize,
        @JsonProperty("projection_dim") int projectionDim,
        @JsonProperty("layer_norm_eps") double layerNormEps,
        @JsonProperty("hidden_act") String hiddenAct) {

    public ClipVisionConfig {
        if (numChannels == 0) numChannels = 3;     // transformers' default when the field is absent
        if (hiddenSize < 1 || numAttentionHeads < 1 || hiddenSize % numAttentionHeads != 0)
            throw new IllegalArgumentException("CLIP config: hidden_size " + hiddenSize + " must be a positive multiple of num_attention_heads " + numAttentionHeads);
        if (patchSize < 1 || imageSize < patchSize || imageSize % patchSize != 0)   // 0: the field is missing
            throw new IllegalArgumentException("CLIP config: image_size " + imageSize + " must be a positive multiple of patch_size " + patchSize);
        if (intermediateSize < 1 || numHiddenLayers < 0 || projectionDim < 1 || layerNormEps <= 0)
            throw new IllegalArgumentException("CLIP config: intermediate_size, projection_dim and layer_norm_eps must be positive, num_hidden_layers non-negative");
        if (!"gelu".equals(hiddenAct))
            throw new IllegalArgumentException("CLIP config: hidden_act must be \"gelu\" (exact erf form), got " + hiddenAct);
    }

    /** The SVD image encoder: OpenCLIP ViT-H/14 vision tower with its 1024-d projection. */
    public static ClipVisionConfig vitH14() {
        return new ClipVisionConfig(1280, 5120, 32, 16, 3, 224, 14, 1024, 1e-5, "gelu");
    }

    /** Toy size: hidden 32 (2 heads of 16), 2 layers, intermediate 128. */
    public static ClipVisionConfig tiny(int imageSize, int patchSize, int projectionDim) {
        return new ClipVisionConfig(32, 128, 2, 2, 3, imageSize, patchSize, projectionDim, 1e-5, "gelu");
    }

    public int gridSize() { return imageSize / patchSize; }

    /** Patch tokens plus the class token. */
    public int numPositions() { return gridSize() * gridSize() + 1; }
}
