package dev.puppetengine.model;

import dev.puppetengine.model.clip.ClipVisionConfig;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.vae.VaeConfig;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The whole-model presets: components that fit together, the released ones by name, an unknown name refused. */
class ModelPresetsTest {
    @Test
    void eachPresetsComponentsFitTogether() {
        for (String name : new String[]{"puppet-master", "svd-img2vid", "toy"}) {
            ModelPresets p = ModelPresets.named(name);
            assertEquals(name, p.name());
            assertEquals(p.clip().projectionDim(), p.unet().crossAttentionDim(), name + ": the UNet attends to the CLIP embedding");
            int latent = p.resolution() / p.vae().downscaleFactor();
            assertTrue(p.unet().takesLatents(latent, latent), name + ": the image side gives latents the UNet takes");
        }
        assertEquals(new ModelPresets("puppet-master", UNetConfig.puppetMaster(), VaeConfig.svd(), ClipVisionConfig.vitH14(), 256),
                ModelPresets.named("puppet-master"));
        assertEquals(UNetConfig.svdImg2vid(), ModelPresets.named("svd-img2vid").unet());
        var e = assertThrows(IllegalArgumentException.class, () -> ModelPresets.named("pm"));
        assertEquals("unknown model preset 'pm' (expected puppet-master, svd-img2vid or toy)", e.getMessage());
    }
}
