package dev.puppetengine.convert;

import dev.puppetengine.cli.DeviceArgs;
import dev.puppetengine.cli.OutputPaths;
import dev.puppetengine.cli.StopNote;
import dev.puppetengine.cli.UserError;
import dev.puppetengine.io.AtomicFile;
import dev.puppetengine.io.LockFile;
import dev.puppetengine.io.pickle.PickleException;
import dev.puppetengine.io.safetensors.SafetensorsException;
import dev.puppetengine.model.ModelPresets;
import dev.puppetengine.model.checkpoint.CheckpointException;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.train.GracefulStop;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code convert}: checkpoints (sgm single file, diffusers folder, Puppet-Master UNet, torch state dicts) to
 * an engine model directory, or an engine model directory back to a diffusers folder.
 */
@Command(name = "convert", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Convert checkpoints into an engine model directory (default), or export one as a diffusers folder (--to diffusers).",
                "Inputs: a Stability single-file SVD checkpoint (svd.safetensors), a diffusers SVD folder, Puppet-Master's model.safetensors,"
                        + " torch .pt/.bin state dicts (EMA); any of them sharded (give the *.index.json). Several inputs combine; a later one's component replaces an earlier one's,"
                        + " e.g. 'convert svd-folder/ ckpts/model.safetensors' takes the VAE and image encoder from SVD and the UNet from Puppet-Master.",
                "A plain SVD UNet becomes Puppet-Master's: add_embedding dropped, drag modules added with zero output convs.",
                "--to diffusers writes unet/, vae/ and image_encoder/ (config.json + weights) to load one by one with diffusers /"
                        + " transformers / Puppet-Master's networks.py; no model_index.json: a Puppet-Master UNet needs its own forward (image latents,"
                        + " drags) and, as in its train.py, the all-to-first attention processors set after loading."})
public final class ConvertCommand implements Callable<Integer> {
    @Parameters(arity = "1..*", paramLabel = "INPUT", description = "Checkpoint files or folders (one engine model directory with --to diffusers).")
    List<Path> inputs;

    @Option(names = "--out", description = "Directory to create (required unless --dry-run).")
    Path out;

    @Option(names = "--to", defaultValue = "engine", description = "engine or diffusers (default: ${DEFAULT-VALUE}).")
    String to;

    @Option(names = "--preset", defaultValue = "puppet-master", description = "Architecture to build and check against: puppet-master or toy "
            + "(default: ${DEFAULT-VALUE}). An engine export's config.json takes precedence (its architecture, and the model's kind and resolution).")
    String preset;

    @Option(names = "--dtype", description = "Storage dtype: bf16 (default for engine output), fp16, fp32 or fp64; --to diffusers keeps the stored dtype unless given.")
    String dtype;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the drag modules created for an SVD UNet (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--allow-partial", description = "Convert even when tensors are missing, unexpected or mis-shaped (warnings; missing ones are initialised).")
    boolean allowPartial;

    @Option(names = "--dry-run", description = "Only detect and check the inputs (and --out, if given) and print what would be written.")
    boolean dryRun;

    @Option(names = "--force", description = "Replace --out if it is an engine model directory (with manifest.json; with --to diffusers: an earlier"
            + " export, only unet/, vae/, image_encoder/) or empty; any other directory is refused, as is an --out that is, holds or lies in an input.")
    boolean force;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintStream log = System.out;
        try {
            if (out == null && !dryRun) throw new UserError("--out is required (or use --dry-run)");
            if (out != null) {   // before minutes of reading; a dry run says what the real one would refuse
                for (Path in : inputs) OutputPaths.notInput("--out", out, "checkpoint", in, true);   // with or without --force: it would replace or delete the input
                OutputPaths.directory("--out", out, false);
            }
            DType dt = dtype == null ? null : DeviceArgs.dtypeOption("--dtype", dtype);   // before any input is read
            String target = to.toLowerCase(Locale.ROOT);
            if (!target.equals("engine") && !target.equals("diffusers")) throw new UserError("--to must be engine or diffusers, got '" + to + "'");
            if (target.equals("diffusers"))   // an export writes the model as it is: these would be ignored
                for (String o : new String[]{"--preset", "--seed", "--allow-partial"})
                    if (spec.commandLine().getParseResult().hasMatchedOption(o))
                        throw new UserError(o + " applies to converting into an engine model directory, not to --to diffusers (which exports the model as it is)");
            // the stop before the lock: a signal's interrupt unwinds the write (its temporary folder removed) and releases the lock first
            try (GracefulStop note = dryRun ? null : StopNote.saying("nothing was written (" + out + " is written whole or not at all)");
                 LockFile lock = dryRun ? null : lockOut()) {
                return target.equals("engine") ? toEngine(log, dt == null ? DType.BF16 : dt) : toDiffusers(log, dt);
            }
        } catch (CheckpointException | PickleException | SafetensorsException e) {
            throw new UserError(e.getMessage(), e);
        }
    }

    /**
     * Refuses a second convert to the same --out while this one runs (two replacing it at once, one fails mid-swap and
     * leaves its complete copy beside it): {@code <out>.lock}, beside where the output is swapped (what a link names).
     */
    private LockFile lockOut() throws IOException {
        Path at = AtomicFile.throughLinks(out);
        return LockFile.acquire(at.resolveSibling(at.getFileName() + ".lock"), out + ": another convert is writing there; wait for it to end or choose another --out");
    }

    private int toEngine(PrintStream log, DType dt) throws IOException {
        ModelPresets p;
        try {
            p = ModelPresets.named(preset);
        } catch (IllegalArgumentException unknown) {
            p = null;   // refused below with the presets convert takes, not every preset (svd-img2vid has no drag modules)
        }
        if (p == null || !p.unet().hasDrags()) throw new UserError("--preset must be a Puppet-Master architecture (puppet-master or toy), got '" + preset + "'");
        if (out != null) ModelDirectory.checkReplaceable(out, force);
        try (Inputs in = Inputs.open(inputs, log)) {
            EngineConversion conv = new EngineConversion(p, dt, seed, allowPartial);
            List<EngineConversion.Planned> plan = conv.plan(in);
            long tensors = 0;
            for (EngineConversion.Planned c : plan) {
                log.printf(Locale.ROOT, "%-14s %5d tensors %,15d params  from %s%n", c.component(), c.tensors().size(), c.parameters(), c.input().file());
                c.notes().forEach(n -> log.println("               " + n));
                tensors += c.tensors().size();
            }
            List<String> absent = new ArrayList<>(Inputs.COMPONENTS);
            plan.forEach(c -> absent.remove(c.component()));
            if (!absent.isEmpty()) log.println("note: no " + String.join(", ", absent) + " in the inputs; sampling needs unet, vae and image_encoder");
            if (dryRun) {
                log.printf(Locale.ROOT, "dry run: checks passed; would write %,d tensors as %s (%,d bytes of weights); nothing written%n", tensors, dt,
                        plan.stream().mapToLong(c -> c.parameters() * dt.bytes()).sum());
                return 0;
            }
            String source = "converted from " + String.join("; ", in.descriptions) + " (preset " + p.name() + ", drag seed " + seed + ")";
            ModelDirectory.Manifest m;
            try (Progress bar = Progress.bar("convert", tensors)) {
                m = conv.write(out, plan, source, force, bar);
            }
            m.components().forEach((k, v) -> log.printf(Locale.ROOT, "%-26s %5d tensors %,15d params %,15d bytes  %s  sha256 %s%n", v.file(), v.tensors(),
                    v.parameters(), v.bytes(), m.dtype(), v.sha256()));
            log.println("wrote " + out);
            return 0;
        }
    }

    /** {@code dt} null: the stored dtype. */
    private int toDiffusers(PrintStream log, DType dt) throws IOException {
        if (inputs.size() != 1) throw new UserError("--to diffusers takes one engine model directory, got " + inputs.size() + " inputs");
        Path dir = inputs.get(0);
        if (out != null) DiffusersExport.checkReplaceable(out, force);
        ModelDirectory.Manifest man = ModelDirectory.read(dir);
        log.println("detected " + dir + ": engine model directory (" + man.kind() + ", " + man.dtype() + ", " + String.join(", ", man.components().keySet()) + ")");
        for (String c : DiffusersExport.caveats(dir)) System.err.println("warning: " + c);   // stdout is the report; no bar open yet
        if (dryRun) {
            DiffusersExport.check(dir);   // the real run's checks: configs, tensor names and shapes
            man.components().forEach((k, v) -> log.printf(Locale.ROOT, "%-14s %5d tensors %,15d params%n", k, v.tensors(), v.parameters()));
            log.println("dry run: checks passed; would export to diffusers layout in " + (dt == null ? man.dtype() : dt) + "; nothing written");
            return 0;
        }
        List<DiffusersExport.Written> files;
        try (Progress bar = Progress.bar("export", DiffusersExport.tensorCount(dir))) {
            files = DiffusersExport.export(dir, out, dt, force, bar);
        }
        files.forEach(w -> log.printf(Locale.ROOT, "%-45s %5d tensors %,15d bytes  sha256 %s%n", w.file(), w.tensors(), w.bytes(), w.sha256()));
        log.println("wrote " + out);
        return 0;
    }
}
