package dev.puppetengine.parity;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The golden fixtures written by {@code tests/fixtures/gen_reference_parity.py} (PyTorch reference code: Puppet-Master's
 * networks.py on diffusers 8e1b7a08), read back on the CPU, and the error measures the parity tests report.
 */
final class ReferenceFixtures {
    static final CpuBackend CPU = CpuBackend.get();

    private ReferenceFixtures() {}

    /** tests/resources/dev/puppetengine/parity/{name} as a file on disk. */
    static Path path(String name) {
        URL u = ReferenceFixtures.class.getResource("/dev/puppetengine/parity/" + name);
        if (u == null) throw new IllegalStateException("missing fixture dev/puppetengine/parity/" + name + " (tests/fixtures/gen_reference_parity.py)");
        try {
            return Path.of(u.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** One tensor of a fixture file as host doubles, with its shape. */
    record Array(int[] shape, double[] values) {}

    static Array read(Path file, String name) {
        try (SafetensorsReader r = SafetensorsReader.open(file); Scope s = Scope.open()) {
            Tensor t = r.load(name, CPU, DType.F64);
            return new Array(t.shape(), t.toDoubleArray());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A channels-first tensor (..., C, H, W) rearranged to the engine's channels-last (..., H, W, C). */
    static Array channelsLast(Array a) {
        int[] s = a.shape();
        int d = s.length, c = s[d - 3], h = s[d - 2], w = s[d - 1];
        int outer = a.values().length / (c * h * w);
        double[] out = new double[a.values().length];
        for (int o = 0; o < outer; o++)
            for (int ci = 0; ci < c; ci++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        out[((o * h + y) * w + x) * c + ci] = a.values()[((o * c + ci) * h + y) * w + x];
        int[] ns = s.clone();
        ns[d - 3] = h;
        ns[d - 2] = w;
        ns[d - 1] = c;
        return new Array(ns, out);
    }

    static Tensor tensor(Array a, DType t) {
        return Tensor.of(CPU, t, a.shape(), a.values());
    }

    /** Errors of {@code got} against {@code ref}: relative L2 ||got - ref|| / ||ref|| and max |got - ref| / max |ref|. */
    record Error(double relL2, double relMax) {
        String line(String what) {
            return String.format(Locale.ROOT, "%-40s rel L2 %.3e   max abs / max |ref| %.3e", what, relL2, relMax);
        }
    }

    static Error error(double[] got, double[] ref) {
        if (got.length != ref.length) throw new AssertionError("length " + got.length + " != " + ref.length);
        double num = 0, den = 0, maxErr = 0, maxRef = 0;
        for (int i = 0; i < ref.length; i++) {
            double e = got[i] - ref[i];
            if (!Double.isFinite(got[i])) return new Error(Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY);
            num += e * e;
            den += ref[i] * ref[i];
            maxErr = Math.max(maxErr, Math.abs(e));
            maxRef = Math.max(maxRef, Math.abs(ref[i]));
        }
        return new Error(Math.sqrt(num / den), maxErr / maxRef);
    }
}
