package dev.puppetengine.backend;

/**
 * Hyper-parameters of one Adam step. {@code decoupled} selects AdamW (weight decay applied to the weights)
 * over Adam's L2 form (decay added to the gradient, as torch.optim.Adam). {@code step} counts from 1.
 */
public record AdamParams(double lr, double beta1, double beta2, double eps, double weightDecay, boolean decoupled, long step, double gradScale) {
}
