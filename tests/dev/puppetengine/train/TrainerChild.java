package dev.puppetengine.train;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;

import java.nio.file.Path;
import java.util.List;

/**
 * A training process for the kill-and-resume test: java ... TrainerChild RUN_DIR STEPS [hold] [f64]. With "hold" it keeps
 * the run directory (its lock) once trained, until it is killed (10 minutes at most): a test that checks that another
 * run is refused there meanwhile does not race the end of the training. With "f64" the weights are F64 (F32 otherwise).
 */
public final class TrainerChild {
    static TrainingConfig config(long steps) {
        return new TrainingConfig(5, 1, 2, steps, 1e-3, false, 0, 1.0, 0, 0.9, false, "all", true, 1, 2);
    }

    static UNetSpatioTemporalConditionModel model() {
        return new UNetSpatioTemporalConditionModel(UNetConfig.tiny(8, 2, 16));
    }

    static RandomClips data() {
        return new RandomClips(5, 2, 8, 16);
    }

    public static void main(String[] args) throws Exception {
        UNetSpatioTemporalConditionModel unet = model();
        List<String> flags = List.of(args).subList(2, args.length);
        DType dtype = flags.contains("f64") ? DType.F64 : DType.F32;
        try (RunDirectory run = RunDirectory.lock(Path.of(args[0])); ParameterStore ps = ParameterStore.initialize(unet, CpuBackend.get(), dtype, 1)) {
            Trainer t = Trainer.forUNet(run, unet, ps, data(), config(Long.parseLong(args[1])));
            try (GracefulStop stop = t.stopOnSignal(60, System.out::println)) {
                t.run(p -> System.out.println("step " + p.step()));
            }
            if (flags.contains("hold")) {
                System.out.println("holding");
                Thread.sleep(600_000);
            }
        }
    }
}
