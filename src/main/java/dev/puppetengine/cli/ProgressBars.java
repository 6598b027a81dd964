package dev.puppetengine.cli;

import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.time.Duration;

/** The one console progress bar every long command shows (ASCII, so logs and Windows consoles render it): count, ETA, a free message. */
public final class ProgressBars {
    private ProgressBars() {}

    /** {@code unit}: a label such as " steps" to show the speed in (then twice a second), or null (once a second, no speed). */
    public static ProgressBar of(String task, long total, String unit) {
        return of(task, total, unit, 0);
    }

    /** A bar for work resumed with {@code done} of {@code total} already done (its speed and ETA count only what this run does). */
    public static ProgressBar of(String task, long total, String unit, long done) {
        ProgressBarBuilder b = new ProgressBarBuilder().setTaskName(task).setInitialMax(total).setStyle(ProgressBarStyle.ASCII)
                .setMaxRenderedLength(130).setUpdateIntervalMillis(unit != null ? 250 : 1000).startsFrom(done, Duration.ZERO);
        if (unit != null) b.showSpeed(new java.text.DecimalFormat("0.0")).setUnit(unit, 1);   // "0.2 steps/s", not ".2"
        return b.build();
    }
}
