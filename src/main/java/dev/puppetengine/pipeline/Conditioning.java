package dev.puppetengine.pipeline;

/**
 * What the UNet is conditioned on besides the drags (spec 1.2), precomputed: frame 0's VAE posterior mean, unscaled,
 * channels-last (side, side, channels), and its image embedding (width values). The DragAMove test batches carry
 * both ({@code cond_latent}, {@code embedding}), and the reference's test loop samples from them.
 */
public record Conditioning(int side, int channels, float[] latent, float[] embedding) {
    public Conditioning {
        if (side < 1 || channels < 1 || latent.length != side * side * channels || embedding.length == 0)
            throw new IllegalArgumentException("conditioning: a " + side + "x" + side + "x" + channels + " latent needs " + side * side * channels
                    + " values, got " + latent.length + "; embedding of " + embedding.length);
        latent = latent.clone();
        embedding = embedding.clone();
    }

    /** From a (1, channels, side, side) channels-first latent, as torch stores it. */
    public static Conditioning fromChannelsFirst(float[] nchw, int channels, int side, float[] embedding) {
        float[] nhwc = new float[nchw.length];
        for (int c = 0; c < channels; c++)
            for (int p = 0; p < side * side; p++) nhwc[p * channels + c] = nchw[c * side * side + p];
        return new Conditioning(side, channels, nhwc, embedding);
    }

    @Override
    public float[] latent() { return latent.clone(); }

    @Override
    public float[] embedding() { return embedding.clone(); }
}
