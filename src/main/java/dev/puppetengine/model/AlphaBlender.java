package dev.puppetengine.model;

import dev.puppetengine.autograd.F;
import dev.puppetengine.nn.Init;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.Parameter;
import dev.puppetengine.tensor.Tensor;

/**
 * Learned mix of a spatial and a temporal branch: alpha = sigmoid(mix_factor), out = alpha * spatial +
 * (1 - alpha) * temporal; with {@code switched} (the VAE decoder's convention) the roles of alpha and
 * 1 - alpha swap. SVD's image_only_indicator is always 0 in Puppet-Master, so the "with images" override
 * (alpha = 1 for image frames) never applies and is not modelled.
 */
public final class AlphaBlender extends Module {
    private final Parameter mixFactor;
    private final boolean switched;

    public AlphaBlender(double initial, boolean switched) {
        this.mixFactor = param("mix_factor", Init.constant(initial), 1);
        this.switched = switched;
    }

    public Tensor forward(Tensor spatial, Tensor temporal) {
        return switched ? F.blend(temporal, spatial, mixFactor.value()) : F.blend(spatial, temporal, mixFactor.value());
    }
}
