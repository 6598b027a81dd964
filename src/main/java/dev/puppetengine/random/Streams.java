package dev.puppetengine.random;

/**
 * Disjoint Philox counter ranges for the engine's named random draws. A Philox offset counts blocks of four
 * elements, so two draws at nearby offsets would overlap; each (step, stream) pair instead starts at its own
 * 2^32-block boundary (room for 16 G elements per draw). A run that resumes at step t draws exactly what an
 * uninterrupted run draws at step t: no generator state is carried, only the counter.
 */
public final class Streams {
    private Streams() {}

    /**
     * Training: log-normal sigma per sample, the noise epsilon, the drag condition dropout, the data order, the
     * posterior sample of the latents, the drags chosen from a clip's candidates.
     */
    public static final int SIGMA = 0, NOISE = 1, DROPOUT = 2, DATA = 3, LATENT = 4, DRAGS = 5, COUNT = 6;

    /** The version of this layout, recorded in a training run's config.json: a run is resumed only under the same one. */
    public static final int LAYOUT = 2;

    public static long offset(long step, int stream) {
        if (stream < 0 || stream >= COUNT) throw new IllegalArgumentException("stream " + stream);
        return (step * COUNT + stream) << 32;
    }
}
