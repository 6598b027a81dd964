package dev.puppetengine.train.data;

import dev.puppetengine.io.AtomicFile;
import dev.puppetengine.io.InputFileException;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.LockFile;
import dev.puppetengine.io.image.PngEncoder;
import org.apache.commons.io.file.PathUtils;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Writes a clip dataset, resumably. Each clip is written into {@code clips/000123.tmp-<hex>/} (every file
 * fsynced) and renamed to {@code clips/000123/}, so a clip directory under its final name is always whole;
 * leftovers of an interrupted run are removed when the writer opens. {@code dataset.json} says
 * {@code "complete": false} until {@link #finish()}. One writer per directory at a time: {@code dataset.lock} refuses a
 * second (whose open would remove the first one's clips in progress as leftovers).
 *
 * <p>Clips are encoded and written on a few I/O threads: an fsync costs about a millisecond here and a clip
 * has 15 files, so done one after another the syncs would take longer than generating the clips, while
 * concurrent syncs share the file system's journal commits.
 */
public final class ClipDatasetWriter implements AutoCloseable {
    private static final int IO_THREADS = 4;
    private static final int MAX_IN_FLIGHT = 16;
    static final String LOCK = "dataset.lock";

    private final Path root;
    private final DatasetManifest manifest;
    private final LockFile lock;
    private final ExecutorService io = Executors.newFixedThreadPool(IO_THREADS, r -> {
        Thread t = new Thread(r, "clip-writer");
        t.setDaemon(true);
        return t;
    });
    private final Semaphore inFlight = new Semaphore(MAX_IN_FLIGHT);
    private final ThreadLocal<PngEncoder> png = ThreadLocal.withInitial(PngEncoder::new);
    private final AtomicReference<IOException> failure = new AtomicReference<>();

    private ClipDatasetWriter(Path root, DatasetManifest manifest, LockFile lock) {
        this.root = root;
        this.manifest = manifest;
        this.lock = lock;
    }

    /**
     * Opens {@code root} for writing {@code manifest}'s clips. An existing dataset there must come from the
     * same generator, seed, parameters and geometry (its complete clips are then kept); anything else is an
     * error, so that one directory never mixes clips of two configurations.
     */
    public static ClipDatasetWriter open(Path root, DatasetManifest manifest) throws IOException {
        LockFile lock = LockFile.acquire(root.resolve(LOCK), root + ": another dataset run is writing there; wait for it to end or choose another --out");
        try {
            Path clips = ClipDataset.clipsDir(root);
            Files.createDirectories(clips);
            Path file = ClipDataset.manifestFile(root);
            if (Files.exists(file)) {
                String conflict = manifest.conflictWith(DatasetManifest.fromJson(Json.read(file), file));
                if (conflict != null)
                    throw new InputFileException(file + ": the existing dataset differs (" + conflict + "); write to a new directory");
            }
            AtomicFile.removeLeftovers(clips);   // interrupted clips (NNNNNN.tmp-<hex>): no other writer is at work here
            AtomicFile.writeBytes(file, Json.bytes(manifest.withComplete(false).toJson()));
            return new ClipDatasetWriter(root, manifest, lock);
        } catch (IOException | RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    /** Whether clip {@code index} is already on disk with all its files. */
    public boolean isComplete(int index) {
        Path dir = ClipDataset.clipDir(root, index);
        if (!Files.isRegularFile(ClipDataset.dragsFile(dir))) return false;
        for (int f = 0; f < manifest.frames(); f++)
            if (!Files.isRegularFile(ClipDataset.frameFile(dir, f))) return false;
        return true;
    }

    /**
     * Queues clip {@code index} (frames (F, H, W, 3) uint8, not modified afterwards by the caller) for
     * writing, replacing an incomplete one. A failure of an earlier queued clip is thrown here or by {@link #finish()}.
     */
    public void write(int index, byte[] rgb, ClipDrags drags) throws IOException {
        int frameBytes = manifest.width() * manifest.height() * 3;
        if (rgb.length != manifest.frames() * frameBytes)
            throw new IllegalArgumentException("clip " + index + ": " + rgb.length + " frame bytes, expected " + manifest.frames() + " x "
                    + manifest.height() + " x " + manifest.width() + " x 3");
        if (drags.width() != manifest.width() || drags.height() != manifest.height() || drags.frames() != manifest.frames())
            throw new IllegalArgumentException("clip " + index + ": drags for " + drags.frames() + " frames of " + drags.width() + "x"
                    + drags.height() + ", the dataset has " + manifest.frames() + " of " + manifest.width() + "x" + manifest.height());
        drags.tensor(); // fails here, naming the drag, rather than in a reader later
        throwFailure();
        inFlight.acquireUninterruptibly();
        io.execute(() -> {
            try {
                writeNow(index, rgb, drags);
            } catch (IOException e) { // recorded for the generating thread: finish() must not mark the dataset complete
                failure.compareAndSet(null, e);   // names the clip's directory (a full disk: "writing .../000001: No space left on device")
            } catch (Throwable e) {
                failure.compareAndSet(null, new IOException("writing clip " + index + " under " + root + " failed: " + e, e));
            } finally {
                inFlight.release();
            }
        });
    }

    private void writeNow(int index, byte[] rgb, ClipDrags drags) throws IOException {
        int frameBytes = manifest.width() * manifest.height() * 3;
        Path dir = ClipDataset.clipDir(root, index);
        if (Files.exists(dir)) PathUtils.deleteDirectory(dir);     // incomplete: redo it whole
        AtomicFile.publishDirectory(dir, tmp -> {
            for (int f = 0; f < manifest.frames(); f++)
                Files.write(ClipDataset.frameFile(tmp, f), png.get().encode(rgb, f * frameBytes, manifest.width(), manifest.height()));
            Files.write(ClipDataset.dragsFile(tmp), Json.bytes(drags.toJson()));
        });
    }

    /** Waits for the queued clips, makes their renames durable and marks the dataset complete. */
    public void finish() throws IOException {
        inFlight.acquireUninterruptibly(MAX_IN_FLIGHT);
        inFlight.release(MAX_IN_FLIGHT);
        throwFailure();
        AtomicFile.writeBytes(ClipDataset.manifestFile(root), Json.bytes(manifest.withComplete(true).toJson()));
    }

    /** Lets queued clips finish (without marking the dataset complete), stops the I/O threads and releases the directory. */
    @Override
    public void close() throws IOException {
        io.shutdown();
        boolean idle = false;
        try {
            idle = io.awaitTermination(1, TimeUnit.HOURS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            idle = inFlight.availablePermits() == MAX_IN_FLIGHT;   // no clip queued or being written: nothing for the lock to guard
        }
        if (idle) lock.close();   // else clips are still being written: the lock stays until the process ends
    }

    private void throwFailure() throws IOException {
        IOException e = failure.get();
        if (e != null) throw e;
    }
}
