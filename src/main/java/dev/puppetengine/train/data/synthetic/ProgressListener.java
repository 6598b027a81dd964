package dev.puppetengine.train.data.synthetic;

/**
 * Told on the generating thread after each clip a dataset generation makes (generated and queued for writing), with
 * the clips complete so far: those found complete when the dataset was opened count from the start, so that a
 * resumed generation's count never steps back over a clip missing between complete ones. All clips are on disk when
 * the generation call returns.
 */
@FunctionalInterface
public interface ProgressListener {
    ProgressListener NONE = (done, total) -> {};

    void onClip(int done, int total);
}
