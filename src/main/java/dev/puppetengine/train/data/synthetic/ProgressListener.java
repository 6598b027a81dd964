package dev.puppetengine.train.data.synthetic;

/** Told after each clip of a dataset generation, whether written or found already complete. */
@FunctionalInterface
public interface ProgressListener {
    ProgressListener NONE = (done, total) -> {};

    void onClip(int done, int total);
}
