package dev.puppetengine.cli;

import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** The one console progress bar every long command shows (ASCII, so logs and Windows consoles render it): count, ETA, a free message. */
public final class ProgressBars {
    private ProgressBars() {}

    /** {@code unit}: a label such as " steps" to show the speed in (then twice a second), or null (once a second, no speed). */
    public static ProgressBar of(String task, long total, String unit) {
        ProgressBarBuilder b = new ProgressBarBuilder().setTaskName(task).setInitialMax(total).setStyle(ProgressBarStyle.ASCII)
                .setMaxRenderedLength(130).setUpdateIntervalMillis(unit != null ? 250 : 1000);
        if (unit != null) b.showSpeed().setUnit(unit, 1);
        return b.build();
    }
}
