package dev.puppetengine.eval;

import dev.puppetengine.io.image.ModelInput;
import dev.puppetengine.io.image.RgbImage;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The metrics of one generated video against its example: per-frame PSNR and SSIM against the ground truth
 * brought to the model resolution the way the input is ({@link ModelInput}: centre square, LANCZOS), and the
 * drag error. Every frame counts, frame 0 included (the model regenerates it too). {@code truthDrag} is the
 * same drag error measured on the ground-truth video: the tracker's own error floor on that example. {@code files}: the
 * SHA-256 of the files the example was read from ({@link Example#files}), so a resumed evaluation keeps these scores only
 * while those files are unchanged.
 */
public record VideoScore(String name, int drags, double[] psnr, double[] ssim, DragError drag, DragError truthDrag, Map<String, String> files) {
    public VideoScore {
        if (files == null) files = Map.of();   // a progress line of a source without file digests, written before they were recorded
    }

    public static VideoScore measure(Example ex, List<RgbImage> generated, PointTracker tracker) {
        if (ex.groundTruth().size() != generated.size())
            throw new IllegalArgumentException(ex.name() + ": " + ex.groundTruth().size() + " ground-truth frames, " + generated.size() + " generated");
        int side = generated.get(0).width();
        List<RgbImage> truth = new ArrayList<>();
        for (RgbImage f : ex.groundTruth()) truth.add(ModelInput.prepare(f, side));
        return new VideoScore(ex.name(), ex.drags().size(), ImageMetrics.perFrame(generated, truth, ImageMetrics::psnr),
                ImageMetrics.perFrame(generated, truth, ImageMetrics::ssim), DragError.measure(generated, ex.drags(), tracker),
                DragError.measure(truth, ex.drags(), tracker), ex.files());
    }

    /** Mean of the per-frame PSNRs. */
    public double meanPsnr() { return Arrays.stream(psnr).average().orElse(Double.NaN); }

    public double meanSsim() { return Arrays.stream(ssim).average().orElse(Double.NaN); }
}
