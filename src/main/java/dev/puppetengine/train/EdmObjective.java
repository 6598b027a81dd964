package dev.puppetengine.train;

import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.Tensor;

import java.io.IOException;

/** Fine-tuning the UNet on prepared clips with the EDM loss (spec 4). */
public final class EdmObjective implements Objective {
    private final EdmLoss edm;
    private final TrainingData data;
    private final ParameterStore store;
    private final long seed;

    public EdmObjective(UNetSpatioTemporalConditionModel unet, ParameterStore store, TrainingData data, boolean applyCIn, long seed) {
        this.edm = new EdmLoss(unet, applyCIn);
        this.data = data;
        this.store = store;
        this.seed = seed;
    }

    @Override
    public int size() { return data.size(); }

    @Override
    public Tensor loss(int[] items, long microStep, boolean checkpointing) throws IOException {
        return edm.loss(data.batch(items, seed, microStep, store.backend(), store.dtype()), seed, microStep, checkpointing);
    }
}
