package dev.puppetengine.cli;

import dev.puppetengine.model.unet.UNetConfig;

/** Built-in model presets by name. */
final class Presets {
    private Presets() {}

    static UNetConfig unet(String name) {
        switch (name) {
            case "puppet-master": return UNetConfig.puppetMaster();
            case "svd-img2vid": return UNetConfig.svdImg2vid();
            case "tiny": return UNetConfig.tiny(16, 14, 64);
            default: throw new UserError("unknown preset '" + name + "' (expected puppet-master, svd-img2vid or tiny)");
        }
    }
}
