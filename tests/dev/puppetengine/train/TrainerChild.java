package dev.puppetengine.train;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;

import java.nio.file.Path;

/**
 * A training process for the kill-and-resume test: java ... TrainerChild RUN_DIR STEPS [hold]. With "hold" it keeps the
 * run directory (its lock) once trained, until it is killed (10 minutes at most): a test that checks that another run
 * is refused there meanwhile does not race the end of the training.
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
        try (RunDirectory run = RunDirectory.lock(Path.of(args[0])); ParameterStore ps = ParameterStore.initialize(unet, CpuBackend.get(), DType.F32, 1)) {
            Trainer t = Trainer.forUNet(run, unet, ps, data(), config(Long.parseLong(args[1])));
            try (GracefulStop stop = t.stopOnSignal(60)) {
                t.run(p -> System.out.println("step " + p.step()));
            }
            if (args.length > 2 && args[2].equals("hold")) {
                System.out.println("holding");
                Thread.sleep(600_000);
            }
        }
    }
}
