package dev.puppetengine.model.unet;

/**
 * Forward options. {@code training} turns on Puppet-Master's condition dropout: each sample's drags are
 * zeroed with probability cond_dropout_prob, drawn from the Philox uniform stream (dropoutSeed,
 * dropoutOffset) so a resumed run draws the same. {@code checkpointing}: recompute each resnet, transformer
 * and drag embedder in backward instead of keeping their activations. {@code detachDragFeatures}: drag tokens
 * sample the features without gradient (the reference behaviour, always true in real use); false only lets
 * a finite-difference check see the same function as backward.
 */
public record UNetOptions(boolean training, long dropoutSeed, long dropoutOffset, boolean checkpointing, boolean detachDragFeatures) {
    public static final UNetOptions INFERENCE = new UNetOptions(false, 0, 0, false, true);

    public static UNetOptions training(long dropoutSeed, long dropoutOffset, boolean checkpointing) {
        return new UNetOptions(true, dropoutSeed, dropoutOffset, checkpointing, true);
    }
}
