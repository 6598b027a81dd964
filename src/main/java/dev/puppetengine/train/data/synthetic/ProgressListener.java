package dev.puppetengine.train.data.synthetic;

/**
 * Told on the generating thread after each clip of a dataset generation: generated and queued for writing,
 * or found already complete. All clips are on disk when the generation call returns.
 */
@FunctionalInterface
public interface ProgressListener {
    ProgressListener NONE = (done, total) -> {};

    void onClip(int done, int total);
}
