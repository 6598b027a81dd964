package dev.puppetengine.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.image.Animation;
import dev.puppetengine.io.image.GifFiles;
import dev.puppetengine.io.image.ImageFiles;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.model.ModelPresets;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.pipeline.SamplingOptions;
import dev.puppetengine.testing.CliRun;
import dev.puppetengine.testing.ImageBytes;
import dev.puppetengine.testing.ProcDir;
import org.apache.commons.io.FileUtils;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** ./puppet-engine sample end to end on a tiny random model: determinism, outputs, and every bad input (exit 2, one line, nothing written). */
class SampleCommandTest {
    @TempDir
    static Path dir;
    static Path model, image;

    @BeforeAll
    static void setUp() throws IOException {
        model = TinyModel.write(dir.resolve("tiny"));
        byte[] rgb = new byte[80 * 60 * 3];
        for (int i = 0; i < rgb.length; i++) rgb[i] = (byte) (i * 37 % 251);
        image = dir.resolve("in.png");
        ImageFiles.writePng(image, new RgbImage(80, 60, rgb));
    }

    private static String[] sample(Path out, String... extra) {
        return sample(out.toString(), extra);
    }

    private static String[] sample(String out, String... extra) {
        List<String> a = new ArrayList<>(List.of("sample", "--model", model.toString(), "--image", image.toString(), "--out", out,
                "--steps", "1", "--frames", "2"));
        a.addAll(Arrays.asList(extra));
        return a.toArray(new String[0]);
    }

    @Test
    void sameSeedGivesIdenticalFramesAndAnotherSeedDiffers() throws IOException {
        Path a = dir.resolve("a/"), b = dir.resolve("b/"), c = dir.resolve("c/");
        assertEquals(0, CliRun.of(sample(a, "--drag", "30,20:40,25", "--seed", "7")).code());
        assertEquals(0, CliRun.of(sample(b, "--drag", "30,20:40,25", "--seed", "7")).code());
        assertEquals(0, CliRun.of(sample(c, "--drag", "30,20:40,25", "--seed", "8")).code());
        List<Path> fa = frames(a), fb = frames(b), fc = frames(c);
        assertEquals(2, fa.size());
        for (int i = 0; i < fa.size(); i++) assertArrayEquals(Files.readAllBytes(fa.get(i)), Files.readAllBytes(fb.get(i)), "frame " + i);
        assertFalse(Arrays.equals(Files.readAllBytes(fa.get(1)), Files.readAllBytes(fc.get(1))), "another seed must change the video");
    }

    @Test
    void writesGifWithOverlayAndWarnsAboutRandomWeights() throws IOException {
        Path gif = dir.resolve("o.gif");
        CliRun r = CliRun.of(sample(gif, "--drag", "30,20:40,25", "--overlay", "--guidance", "3"));
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.size(gif) > 0);
        assertTrue(r.err().contains("untrained random weights"), r.err());
        assertTrue(r.err().contains("(2 frames after 5 overlay frames)"), r.err());
        assertFalse(r.err().contains("takes hours per sample"), "the toy is practical on the CPU: " + r.err());
    }

    /**
     * A GIF in folders that do not exist yet: they are made. The line that says what was written gives the frame count
     * alone without --overlay, and a healthy sample gets no non-finite warning.
     */
    @Test
    void aGifIsWrittenIntoNewFoldersAndItsLineCountsTheFrames() throws IOException {
        Path gif = dir.resolve("made/here/o.gif");
        CliRun r = CliRun.of(sample(gif, "--drag", "30,20:40,25"));
        assertEquals(0, r.code(), r.err());
        assertEquals(2, GifFiles.read(gif).frames().size());
        assertTrue(r.err().contains("wrote " + gif + " (2 frames)  [preprocess "), r.err());
        List<String> one = new ArrayList<>(Arrays.asList(sample(dir.resolve("one.gif"))));
        one.set(one.indexOf("--frames") + 1, "1");
        CliRun single = CliRun.of(one.toArray(new String[0]));
        assertTrue(single.err().contains("wrote " + dir.resolve("one.gif") + " (1 frame)  [preprocess "), single.err());
        assertEquals(List.of("warning: model 'tiny-random' at " + model + " has untrained random weights: expect noise, not motion"),
                r.err().lines().filter(l -> l.startsWith("warning: ")).toList(), "the only warning");
    }

    /** A sample that decoded all NaN is not a result: exit 1 saying why and that nothing was written (sample-batch: a failed input). */
    @Test
    void aBlankSampleWritesNothing() throws IOException {
        Path broken = TinyModel.writeDecodingNaN(dir.resolve("nan-model")), gif = dir.resolve("nan/o.gif");
        String[] args = sample(gif);
        args[Arrays.asList(args).indexOf("--model") + 1] = broken.toString();
        CliRun r = CliRun.of(args);
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("error: every decoded value was NaN or infinite: the model's weights or the conditioning are not finite")
                && r.err().strip().endsWith("; nothing was written"), r.err());
        assertFalse(Files.exists(gif.getParent()));
    }

    /**
     * The trailing slash as typed (a Path drops it) asks for PNG frames, even in a directory whose name has a dot; the
     * same command run again replaces them, as it replaces a GIF, unless the image is one of them.
     */
    /** Without drags a note says what the model does; a bad --device is said alone, not after that note. */
    @Test
    void noDragsIsNotedOnlyForASampleThatRuns() throws IOException {
        CliRun r = CliRun.of(sample(dir.resolve("undragged.gif")));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("note: no drags given: the model generates its unconditioned motion"), r.err());
        r = CliRun.of(sample(dir.resolve("nodevice.gif"), "--device", "gpu"));
        assertEquals(2, r.code(), r.err());
        assertEquals("error: --device: unknown device 'gpu' (expected cpu, cuda or auto)", r.err().strip());
    }

    @Test
    void aTrailingSlashWritesFramesIntoADottedDirectory() throws IOException {
        Path frames = dir.resolve("frames.v2");
        CliRun r = CliRun.of(sample(frames + "/"));
        assertEquals(0, r.code(), r.err());
        assertEquals(2, frames(frames).size());
        String[] oneFrame = sample(frames + "/");
        oneFrame[oneFrame.length - 1] = "1";   // --frames 2 -> 1
        r = CliRun.of(oneFrame);
        assertEquals(0, r.code(), r.err());
        assertEquals(1, frames(frames).size());
        Path first = frames(frames).get(0);   // an earlier frame as the image: replacing the directory would replace the input
        byte[] kept = Files.readAllBytes(first);
        String[] fromAFrame = sample(frames + "/");
        fromAFrame[Arrays.asList(fromAFrame).indexOf("--image") + 1] = first.toString();
        r = CliRun.of(fromAFrame);
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("contains the input --image " + first), r.err());
        assertArrayEquals(kept, Files.readAllBytes(first));
    }

    /**
     * A photo stored sideways, with an EXIF orientation: used as stored (the reference's way) with a note naming the
     * option, or turned first with --auto-orient, in sample and sample-batch --dir; then drags are positions in the turned image.
     */
    @Test
    void anExifOrientationIsNotedOrAppliedWithAutoOrient() throws IOException {
        Path photos = Files.createDirectories(dir.resolve("photos")), photo = photos.resolve("sideways.png");
        Files.write(photo, ImageBytes.png(ImageFiles.readRgb(image), ImageBytes.tiff(6, ByteOrder.BIG_ENDIAN)));
        String[] asStored = sample(dir.resolve("stored.gif"), "--drag", "65,30:50,30");
        asStored[Arrays.asList(asStored).indexOf("--image") + 1] = photo.toString();
        CliRun r = CliRun.of(asStored);
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("note: " + photo + ": its EXIF orientation says viewers show it turned 90 degrees clockwise;"
                + " the model sees the stored 80x60 pixels as they are, and drags are positions in them (add --auto-orient"), r.err());

        List<String> turned = new ArrayList<>(Arrays.asList(asStored));
        turned.add("--auto-orient");
        r = CliRun.of(turned.toArray(new String[0]));
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("(65.0, 30.0) is outside the 60x80 image"), r.err());
        turned.set(turned.indexOf("65,30:50,30"), "30,65:30,45");
        r = CliRun.of(turned.toArray(new String[0]));
        assertEquals(0, r.code(), r.err());
        assertFalse(r.err().contains("EXIF"), r.err());

        Files.writeString(photos.resolve("sideways-drags.json"), "{\"drags\": []}");
        RgbImage seen = new ImageDirSource(photos, 2, true).load("sideways").image();
        assertEquals(60, seen.width());
        assertEquals(80, seen.height());
        assertEquals(80, new ImageDirSource(photos, 2, false).load("sideways").image().width());
        r = CliRun.of("sample-batch", "--dragamove", photos.toString(), "--auto-orient", "--out", dir.resolve("batch").toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--auto-orient applies to --dir"), r.err());
    }

    /** A place where nothing can be created (/proc: even root cannot) is refused before any work, naming it (and why: {@link ProcDir}). */
    @Test
    void anOutputWhereNothingCanBeCreatedIsRefusedUpFront() {
        Assumptions.assumeTrue(Files.isDirectory(Path.of("/proc/self")), "needs Linux's /proc");
        CliRun r = CliRun.of(sample(Path.of("/proc/x.gif")));
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--out /proc/x.gif: " + ProcDir.refusal()), r.err());
        assertFalse(r.err().contains("model "), "refused before the model is loaded: " + r.err());
        CliRun d = CliRun.of("dataset", "--out", "/proc/x", "--count", "1");
        assertEquals(2, d.code(), d.err());
        assertTrue(d.err().contains("--out /proc/x: " + ProcDir.refusal()), d.err());
    }

    /** The input image as --out, however spelled, is refused before any work and left as it was. */
    @Test
    void theInputImageIsNeverTheOutput() throws IOException {
        Path gif = Files.createDirectories(dir.resolve("gif-in")).resolve("x.gif");
        GifFiles.write(gif, Animation.uniform(List.of(ImageFiles.readRgb(image)), 100));
        byte[] before = Files.readAllBytes(gif);
        for (Path out : new Path[]{gif, dir.resolve("gif-in/../gif-in/x.gif")}) {
            List<String> args = new ArrayList<>(Arrays.asList(sample(out)));
            args.set(args.indexOf("--image") + 1, gif.toString());
            CliRun r = CliRun.of(args.toArray(new String[0]));
            assertEquals(2, r.code(), r.err());
            assertTrue(r.err().contains("--out " + out + " is the input --image " + gif + ": writing it would replace the input; choose another --out"), r.err());
            assertFalse(r.err().contains("model "), "refused before the model is loaded: " + r.err());
        }
        assertArrayEquals(before, Files.readAllBytes(gif));
    }

    @Test
    void theFullSizeUNetIsCalledImpracticalOnTheCpu() {
        long full = new UNetSpatioTemporalConditionModel(ModelPresets.named("puppet-master").unet()).parameterCount();
        assertTrue(SamplingArgs.tooLargeFor(CpuBackend.get(), full), full + " parameters");
        assertFalse(SamplingArgs.tooLargeFor(CpuBackend.get(), new UNetSpatioTemporalConditionModel(ModelPresets.named("toy").unet()).parameterCount()));
    }

    private static List<Path> frames(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.sorted().toList();
        }
    }

    /** Every bad input: exit code 2, a one-line message naming the problem, and no output file. */
    @Test
    void badInputsExitTwoWithOneLineAndWriteNothing() throws IOException {
        Path textPng = dir.resolve("text.png"), empty = dir.resolve("empty.png"), zero = dir.resolve("zero.png");
        Files.writeString(textPng, "not an image");
        Files.write(empty, new byte[0]);
        Files.write(zero, ImageBytes.headerOnlyPng(0, 1));
        Path cutBmp = dir.resolve("cut.bmp");
        ImageIO.write(ImageFiles.readRgb(image).toBufferedImage(), "bmp", cutBmp.toFile());
        Files.write(cutBmp, Arrays.copyOf(Files.readAllBytes(cutBmp), 1000));
        Path badJson = dir.resolve("bad.json"), wrongJson = dir.resolve("wrong.json");
        Files.writeString(badJson, "{\"drags\": [ {\"start\": [1, 2], ");
        Files.writeString(wrongJson, "{\"drags\": [ {\"start\": [1, 2]} ]}");
        Path normalizedText = dir.resolve("normalized-text.json");
        Files.writeString(normalizedText, "{\"normalized\": \"yes\", \"drags\": [ {\"start\": [0.2, 0.3], \"end\": [0.5, 0.3]} ]}");
        Path incomplete = dir.resolve("incomplete");
        copyTree(model, incomplete);
        Files.delete(incomplete.resolve("vae.safetensors"));
        Path noFile = dir.resolve("nofile"), badRes = dir.resolve("badres");
        copyTree(model, noFile);
        copyTree(model, badRes);
        ObjectNode man = (ObjectNode) Json.mapper().readTree(noFile.resolve("manifest.json").toFile());
        ((ObjectNode) man.get("components").get("unet")).remove("file");
        Files.writeString(noFile.resolve("manifest.json"), man.toString());
        man = (ObjectNode) Json.mapper().readTree(badRes.resolve("manifest.json").toFile());
        man.put("resolution", -64);
        Files.writeString(badRes.resolve("manifest.json"), man.toString());
        Path swapped = dir.resolve("cut/swapped");   // a --force replace killed between its renames: the new copy is named
        copyTree(model, dir.resolve("cut/swapped.tmp-new-ab12"));
        Path noUnet = dir.resolve("nounet");   // what prepare takes (the encoders alone), but sampling does not
        copyTree(model, noUnet);
        man = (ObjectNode) Json.mapper().readTree(noUnet.resolve("manifest.json").toFile());
        ((ObjectNode) man.get("components")).remove("unet");
        Files.writeString(noUnet.resolve("manifest.json"), man.toString());
        Path svd = plainSvdModel();

        Map<String, String[]> cases = new LinkedHashMap<>();
        cases.put("no such image", new String[]{"--image", dir.resolve("missing.png").toString()});
        cases.put("unsupported", new String[]{"--image", textPng.toString()});
        cases.put("empty", new String[]{"--image", empty.toString()});
        cases.put("zero", new String[]{"--image", zero.toString()});
        cases.put(cutBmp + ": corrupt or truncated BMP (end of file reached)", new String[]{"--image", cutBmp.toString()});
        cases.put("outside", new String[]{"--drag", "30,20:95,25"});
        cases.put("at most 5", new String[]{"--drag", "1,1:2,2", "--drag", "1,1:2,2", "--drag", "1,1:2,2", "--drag", "1,1:2,2", "--drag", "1,1:2,2", "--drag", "1,1:2,2"});
        cases.put("malformed drag", new String[]{"--drag", "30,20-40,25"});
        cases.put("drags file", new String[]{"--drags", badJson.toString()});
        cases.put("needs \"start\" and \"end\"", new String[]{"--drags", wrongJson.toString()});
        cases.put("drags file " + normalizedText + ": \"normalized\" must be true or false", new String[]{"--drags", normalizedText.toString()});
        cases.put("component 'unet' has no \"file\"", new String[]{"--model", noFile.toString()});
        cases.put("field 'resolution' is -64", new String[]{"--model", badRes.toString()});
        cases.put("swapped: is missing: replacing it was cut short (killed between two renames); the complete new model is "
                + dir.resolve("cut/swapped.tmp-new-ab12") + ": rename it to swapped", new String[]{"--model", swapped.toString()});
        cases.put("has no 'unet' component; sampling needs unet, vae, image_encoder", new String[]{"--model", noUnet.toString()});
        cases.put("starts at the origin", new String[]{"--drag", "10,0:40,25"});   // the centred square's corner (the image is 80 x 60)
        cases.put("non-finite", new String[]{"--drag", "NaN,20:40,25"});
        cases.put("model directory", new String[]{"--model", dir.resolve("nomodel").toString()});
        cases.put("vae.safetensors", new String[]{"--model", incomplete.toString()});
        cases.put("plain SVD", new String[]{"--model", svd.toString()});
        cases.put("--steps must be 1 to " + SamplingOptions.MAX_STEPS + ", got 0", new String[]{"--steps", "0"});
        cases.put("--frames must be 1 to " + SamplingOptions.MAX_FRAMES + ", got 129", new String[]{"--frames", "129"});
        cases.put("--fps must be >= 1", new String[]{"--fps", "0"});
        cases.put("--guidance-min 1.0, --guidance 0.5: guidance must be finite and >= 1", new String[]{"--guidance", "0.5"});
        cases.put("--guidance NaN: guidance must be finite", new String[]{"--guidance", "NaN"});
        cases.put("unsupported output", new String[]{"--out", dir.resolve("x.avi").toString()});
        cases.put("unsupported output /: it names no file or directory", new String[]{"--out", "/"});
        // outputs that could not be written are refused before sampling, not after it
        Path aFile = dir.resolve("a-file"), gifDir = dir.resolve("dir.gif"), full = dir.resolve("full");
        Files.writeString(aFile, "x");
        Files.createDirectories(gifDir);
        Files.createDirectories(full);
        Files.writeString(full.resolve("mine.txt"), "keep");
        cases.put("is a file, not a directory", new String[]{"--out", aFile.resolve("o.gif").toString()});
        cases.put("is a directory; give a file name", new String[]{"--out", gifDir.toString()});
        cases.put("holds files other than PNG frames (frame_NNN.png)", new String[]{"--out", full + "/"});
        // the working directory (the checkout): its rename after all the work failed, leaving the frames hidden in it
        cases.put("--out . is or holds the working directory, which the frames would replace whole", new String[]{"--out", "./"});
        cases.put("--out is empty", new String[]{"--out", ""});
        for (Map.Entry<String, String[]> c : cases.entrySet()) {
            Path out = dir.resolve("bad-" + Math.abs(c.getKey().hashCode()) + ".gif");
            List<String> args = new ArrayList<>(Arrays.asList(sample(out, "--drag", "30,20:40,25")));
            String[] extra = c.getValue();
            for (int i = 0; i < extra.length; i++) {
                int at = args.indexOf(extra[i]);
                boolean option = extra[i].startsWith("--") && i + 1 < extra.length;
                if (option && at >= 0 && !extra[i].equals("--drag")) {
                    args.set(at + 1, extra[++i]);
                } else if (extra[i].equals("--drag")) {
                    args.add(extra[i]);
                    args.add(extra[++i]);
                } else {
                    args.add(extra[i]);
                }
            }
            if (c.getKey().equals("at most 5") || c.getKey().equals("outside") || c.getKey().equals("malformed drag") || c.getKey().equals("non-finite")
                    || c.getKey().startsWith("drags file") || c.getKey().startsWith("needs") || c.getKey().startsWith("starts at")) {
                int first = args.indexOf("--drag");
                args.remove(first);
                args.remove(first);
            }
            CliRun r = CliRun.of(args.toArray(new String[0]));
            String msg = r.err().strip();
            assertEquals(2, r.code(), c.getKey() + ": " + r.err());
            assertTrue(msg.startsWith("error: ") && msg.lines().count() == 1, c.getKey() + ": expected one line, got: " + r.err());
            assertTrue(msg.contains(c.getKey()), c.getKey() + ": message does not name the problem: " + msg);
            assertFalse(Files.exists(out), c.getKey() + ": output written");
        }
        try (Stream<Path> s = Files.list(dir)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().contains(".tmp")), "temporary files left behind");
        }
    }

    /** The test model with a stock-SVD UNet (no drag modules): the wrong kind for sampling. */
    private static Path plainSvdModel() throws IOException {
        ObjectNode json = Json.mapper().valueToTree(UNetConfig.tiny(8, 14, 16));
        json.put("num_drags", 0);
        return TinyModel.write(dir.resolve("svd"), Json.mapper().treeToValue(json, UNetConfig.class), "svd-img2vid");
    }

    private static void copyTree(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> s = Files.list(from)) {
            for (Path p : s.toList()) Files.copy(p, to.resolve(p.getFileName()));
        }
    }

    /**
     * open() says what will run: the guidance ramp, or that CFG is off at --guidance 1; a model trained on the unscaled
     * noisy latent (UNetInputTest's marked copy) gets a note that it is sampled so, unless --unscaled-input asks for it.
     */
    @Test
    void openSaysTheGuidanceAndThatAModelMarkedUnscaledIsSampledSo() throws Exception {
        Path unscaled = dir.resolve("unscaled-tiny");
        FileUtils.copyDirectory(model.toFile(), unscaled.toFile());
        UNetInputTest.setUNetInput(unscaled, "unscaled");
        SamplingArgs a = new SamplingArgs();
        a.target = new DeviceArgs();
        a.target.device = "cpu";
        a.target.dtype = "fp32";
        a.model = model;
        a.steps = 3;
        a.guidanceMin = 1.5;
        a.guidance = 2.5;
        a.seed = 9;
        String note = "note: the model was trained on the unscaled noisy latent (its manifest's unet_input): it is sampled on it";
        String said = opened(a);
        assertTrue(said.contains(" 3 steps, guidance 1.50..2.50, seed 9, cpu" + System.lineSeparator()), said);
        assertFalse(said.contains(note), said);
        a.model = unscaled;
        a.guidance = 1;
        said = opened(a);
        assertTrue(said.contains(" 3 steps, no guidance (CFG off: --guidance is 1), seed 9, cpu" + System.lineSeparator()), said);
        assertTrue(said.contains(System.lineSeparator() + note + System.lineSeparator()), said);
        a.unscaledInput = true;
        said = opened(a);
        assertFalse(said.contains(note), said);
    }

    /** What SamplingArgs.open printed, the model closed again. */
    private static String opened(SamplingArgs a) {
        return CliRun.stderrDuring(() -> {
            try (var pm = a.open()) {
                assertEquals(TinyModel.SIDE, pm.resolution());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /**
     * The bounds themselves are taken (1 and MAX_STEPS steps, 1 and MAX_FRAMES frames) and one step more is refused naming
     * --steps; --unscaled-input and --cuda-graph reach the options; only a UNet above CPU_PRACTICAL_PARAMETERS gets the CPU note.
     */
    @Test
    void samplingBoundsAreInclusiveAndTheFlagsReachTheOptions() {
        SamplingArgs a = new SamplingArgs();
        a.guidance = 5;
        a.guidanceMin = 1;
        for (int steps : new int[]{1, SamplingOptions.MAX_STEPS})
            for (int frames : new int[]{1, SamplingOptions.MAX_FRAMES}) {
                a.steps = steps;
                SamplingOptions o = a.options(frames);
                assertEquals(List.of(steps, frames, true, false), List.of(o.steps(), o.frames(), o.scaleInput(), o.cudaGraph()));
            }
        a.steps = SamplingOptions.MAX_STEPS + 1;
        assertEquals("--steps must be 1 to " + SamplingOptions.MAX_STEPS + ", got " + a.steps, assertThrows(UserError.class, () -> a.options(1)).getMessage());
        a.steps = 1;
        a.unscaledInput = true;
        a.cudaGraph = true;
        SamplingOptions o = a.options(1);
        assertEquals(List.of(false, true), List.of(o.scaleInput(), o.cudaGraph()));
        assertFalse(SamplingArgs.tooLargeFor(CpuBackend.get(), SamplingArgs.CPU_PRACTICAL_PARAMETERS));
        assertTrue(SamplingArgs.tooLargeFor(CpuBackend.get(), SamplingArgs.CPU_PRACTICAL_PARAMETERS + 1));
    }
}
