package dev.puppetengine.model;

import dev.puppetengine.model.clip.ClipVisionConfig;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.vae.VaeConfig;

/**
 * Whole-model presets: the configs of the three components that work together, and the image side they
 * generate. "puppet-master" is the released architecture at 256 x 256; "toy" the few-million-parameter
 * model of the same architecture that the repository ships and trains at 64 x 64 on synthetic clips.
 */
public record ModelPresets(String name, UNetConfig unet, VaeConfig vae, ClipVisionConfig clip, int resolution) {

    public static ModelPresets named(String name) {
        switch (name) {
            case "puppet-master":
                return new ModelPresets(name, UNetConfig.puppetMaster(), VaeConfig.svd(), ClipVisionConfig.vitH14(), 256);
            case "svd-img2vid":
                return new ModelPresets(name, UNetConfig.svdImg2vid(), VaeConfig.svd(), ClipVisionConfig.vitH14(), 256);
            case "toy":
                return new ModelPresets(name, UNetConfig.tiny(32, 14, 64), VaeConfig.tiny(16), ClipVisionConfig.tiny(32, 8, 64), 64);
            default:
                throw new IllegalArgumentException("unknown model preset '" + name + "' (expected puppet-master, svd-img2vid or toy)");
        }
    }
}
