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

    public Tensor forward(Tensor spatial, Tensor temporal) { return forward(spatial, temporal, null, null); }

    /** The blend, then the drag FiLM out * (1 + gamma) + beta when gamma is given, in one op (F.blendFilm). */
    public Tensor forward(Tensor spatial, Tensor temporal, Tensor gamma, Tensor beta) {
        Tensor alpha = stepInvariant("alpha", () -> F.sigmoid(mixFactor.value()));   // weights only: once per sample
        return switched ? F.blendFilm(temporal, spatial, alpha, gamma, beta) : F.blendFilm(spatial, temporal, alpha, gamma, beta);
    }
}
