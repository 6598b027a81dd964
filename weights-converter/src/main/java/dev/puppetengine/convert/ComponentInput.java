package dev.puppetengine.convert;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Path;
import java.util.Map;

/**
 * Where one component's tensors come from: a file, the tensors under its names (sgm names relative to the
 * component's prefix), and the config.json beside it in a diffusers folder (null when there is none).
 */
record ComponentInput(String component, Naming naming, Path file, String prefix, Map<String, SourceTensor> tensors, JsonNode config, Path configFile) {
    enum Naming { DIFFUSERS, SGM }

    static final String UNET = "unet", VAE = "vae", IMAGE_ENCODER = "image_encoder";

    boolean hasDragModules() {
        return tensors.keySet().stream().anyMatch(ComponentInput::isDragModule);
    }

    static boolean isDragModule(String key) {
        return key.contains(".flow_convs.") || key.contains(".drag_token_mlps.");
    }
}
