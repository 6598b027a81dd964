package dev.puppetengine.io;

import dev.puppetengine.backend.Backend;
import dev.puppetengine.io.pickle.PickleException;
import dev.puppetengine.io.pickle.TorchFile;
import dev.puppetengine.io.pickle.TorchTensor;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * One DragAMove test batch ({@code NNNNN.pkl}, ARCHITECTURE.md 7), batch size 1, read with the safe pickle
 * reader. The tensors keep the FILE's layout (PyTorch, channels-first), as F32:
 * latents (1, F, 4, H, W) = GT video latents x 0.18215, condLatent (1, 4, H, W) unscaled, embedding (1, 1, D)
 * CLIP image embedding, drags (1, F, K, 4). The engine is channels-last: the consumer permutes
 * (e.g. latents to (1, F, H, W, 4)) where it feeds the model.
 *
 * <p>Closing the batch closes its tensors; they also belong to the scope that was open when it was read.
 */
public record DragAMoveBatch(Tensor latents, Tensor condLatent, Tensor embedding, Tensor drags,
                             String category, String instanceIdx, String subsetIdx,
                             long cameraIdx, long startMotionT, long endMotionT) implements AutoCloseable {

    public static DragAMoveBatch read(Path pkl, Backend backend) throws IOException {
        String source = pkl.toString();
        try (TorchFile f = TorchFile.open(pkl)) {
            if (!(f.root() instanceof Map<?, ?> m)) throw new PickleException(source, "expected a dict at the top level, found " + PickleException.describe(f.root()));
            TorchTensor lat = tensor(source, m, "latents", 5);
            TorchTensor cond = tensor(source, m, "cond_latent", 4);
            TorchTensor emb = tensor(source, m, "embedding", 3);
            TorchTensor drg = tensor(source, m, "drags", 4);
            int[] l = lat.shape(), c = cond.shape(), e = emb.shape(), d = drg.shape();
            boolean consistent = l[0] == 1 && l[2] == 4 && c[0] == 1 && c[1] == 4 && c[2] == l[3] && c[3] == l[4]
                    && e[0] == 1 && e[1] == 1 && d[0] == 1 && d[1] == l[1] && d[3] == 4;
            if (!consistent)
                throw new PickleException(source, "inconsistent shapes: latents " + Shape.str(l) + ", cond_latent " + Shape.str(c) + ", embedding "
                        + Shape.str(e) + ", drags " + Shape.str(d) + " (expected (1,F,4,H,W), (1,4,H,W), (1,1,D), (1,F,K,4))");
            String category = string(source, m, "category");
            String instance = string(source, m, "instance_idx");
            String subset = string(source, m, "subset_idx");
            long camera = integer(source, m, "camera_idx");
            long start = integer(source, m, "start_motion_t");
            long end = integer(source, m, "end_motion_t");
            try (Scope s = Scope.open()) {  // a failed upload frees the ones before it
                Tensor latents = finite(source, "latents", lat, backend), condLatent = finite(source, "cond_latent", cond, backend);
                Tensor embedding = finite(source, "embedding", emb, backend), drags = finite(source, "drags", drg, backend);
                return new DragAMoveBatch(Scope.escape(latents), Scope.escape(condLatent), Scope.escape(embedding), Scope.escape(drags),
                        category, instance, subset, camera, start, end);
            }
        }
    }

    private static Object field(String source, Map<?, ?> m, String key) throws PickleException {
        if (!m.containsKey(key)) throw new PickleException(source, "missing key '" + key + "'");
        return m.get(key);
    }

    private static TorchTensor tensor(String source, Map<?, ?> m, String key, int rank) throws PickleException {
        if (!(field(source, m, key) instanceof TorchTensor t) || t.shape().length != rank || !t.dtype().isFloating())
            throw new PickleException(source, "'" + key + "' must be a floating tensor of rank " + rank + ", found " + PickleException.describe(m.get(key)));
        return t;
    }

    /**
     * The tensor as F32 on {@code backend}, refused when a value is NaN or infinite: conditioned on it, eval sampled NaN frames
     * (scored, or failed as blank) and named the example, not the tensor.
     */
    private static Tensor finite(String source, String key, TorchTensor t, Backend backend) throws IOException {
        ByteBuffer b = t.toBytes();
        String bad = TensorBytes.nonFinite(b, t.dtype());
        if (bad != null) throw new PickleException(source, "'" + key + "' is not finite (" + bad + ")");
        return TensorBytes.upload(backend, b, t.dtype(), t.shape(), DType.F32);
    }

    /** A one-element list of str (numpy str_ scalars are already decoded to String). */
    private static String string(String source, Map<?, ?> m, String key) throws PickleException {
        if (!(field(source, m, key) instanceof List<?> l) || l.size() != 1 || !(l.get(0) instanceof String s))
            throw new PickleException(source, "'" + key + "' must be a list of one string, found " + PickleException.describe(m.get(key)));
        return s;
    }

    /** A one-element int64 tensor. */
    private static long integer(String source, Map<?, ?> m, String key) throws IOException {
        if (!(field(source, m, key) instanceof TorchTensor t) || t.numel() != 1 || t.dtype() != DType.I64)
            throw new PickleException(source, "'" + key + "' must be a one-element int64 tensor, found " + PickleException.describe(m.get(key)));
        return t.toBytes().getLong(0);
    }

    @Override
    public void close() {
        latents.close();
        condLatent.close();
        embedding.close();
        drags.close();
    }
}
