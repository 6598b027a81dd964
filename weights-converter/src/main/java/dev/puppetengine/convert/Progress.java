package dev.puppetengine.convert;

import dev.puppetengine.cli.ProgressBars;
import me.tongfei.progressbar.ProgressBar;

/** Counts converted tensors: a console progress bar, or nothing (tests). */
interface Progress extends AutoCloseable {
    void step(String tensor);

    @Override
    void close();

    Progress NONE = new Progress() {
        @Override
        public void step(String tensor) {}

        @Override
        public void close() {}
    };

    static Progress bar(String task, long tensors) {
        ProgressBar bar = ProgressBars.of(task, tensors, null);
        return new Progress() {
            @Override
            public void step(String tensor) {
                bar.step();
                bar.setExtraMessage(" " + tensor);
            }

            @Override
            public void close() {
                bar.close();
            }
        };
    }
}
