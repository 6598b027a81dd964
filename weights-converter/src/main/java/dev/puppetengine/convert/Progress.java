package dev.puppetengine.convert;

import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** Counts converted tensors: a console progress bar, or nothing (tests, --quiet). */
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
        ProgressBar bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(tensors).setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(500).setMaxRenderedLength(120).build();
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
