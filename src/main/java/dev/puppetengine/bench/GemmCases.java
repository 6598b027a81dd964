package dev.puppetengine.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.autograd.GemmRecorder.Epilogue;
import dev.puppetengine.autograd.GemmRecorder.Product;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.io.Json;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;

import java.util.List;
import java.util.Locale;

/** Benchmark cases for recorded matrix products (and the device copy that sets the bandwidth roofline). */
public final class GemmCases {
    private GemmCases() {}

    /** A case that replays {@code p} with fresh random operands through the same Backend op F called; its id starts with {@code prefix}. */
    public static OpCase of(String group, String prefix, Product p, int count) {
        ObjectNode s = Json.mapper().createObjectNode();
        s.put("kind", p.kind()).put("pass", p.pass()).put("dtype", p.dtype().name()).put("bias", p.bias())
                .put("epilogue", p.epilogue().name().toLowerCase(Locale.ROOT));
        boolean residual = p.epilogue() == Epilogue.RESIDUAL, geglu = p.epilogue() == Epilogue.GEGLU;
        String fused = residual ? " +residual" : geglu ? " +geglu" : "";
        String pass = switch (p.pass()) {
            case "forward" -> "fwd";
            case "backward_input" -> "dX";
            default -> "dW";
        };
        DType t = p.dtype();
        if (!p.isConv()) {
            s.put("batch", p.batch()).put("m", p.m()).put("n", p.n()).put("k", p.k()).put("ta", p.ta()).put("tb", p.tb());
            String id = String.format(Locale.ROOT, "%s%s %s %s%dx%dx%d%s%s%s%s", prefix, p.kind(), pass, p.batch() > 1 ? p.batch() + "*" : "",
                    p.m(), p.n(), p.k(), p.ta() ? " aT" : "", p.tb() ? " bT" : "", p.bias() ? " +bias" : "", fused);
            long out = (long) p.m() * p.n() / (geglu ? 2 : 1) * (residual ? 2 : 1);   // C written (and a residual read)
            long bytes = OpCase.bytes(t, (long) p.batch() * ((long) p.m() * p.k() + (long) p.k() * p.n() + out));
            return new OpCase(id, group, s, p.flops(), bytes, count, be -> {
                if (p.kind().equals("linear") && p.pass().equals("forward")) {   // its gradient products are plain (transposed) products
                    Tensor x = OpCase.random(be, t, p.m(), p.k()), w = OpCase.random(be, t, p.n(), p.k());
                    Tensor bias = p.bias() ? OpCase.random(be, t, p.n()) : null;
                    if (geglu) return () -> be.linearGeglu(x, w, bias);
                    Tensor r = residual ? OpCase.random(be, t, p.m(), p.n()) : null;
                    return () -> be.linear(x, w, bias, r);
                }
                Tensor a = operand(be, t, p.batch(), p.m(), p.k(), p.ta()), b = operand(be, t, p.batch(), p.k(), p.n(), p.tb());
                return () -> be.matmul(a, b);
            });
        }
        int[] x = ints(p.x()), w = ints(p.w());
        ConvSpec cs = p.spec();
        int[] y = {x[0], cs.outH(x[1], w[1]), cs.outW(x[2], w[2]), w[0]};
        s.set("x", Json.mapper().valueToTree(x));
        s.set("w", Json.mapper().valueToTree(w));
        s.set("stride", Json.mapper().valueToTree(new int[]{cs.strideH(), cs.strideW()}));
        s.set("pad", Json.mapper().valueToTree(new int[]{cs.padTop(), cs.padBottom(), cs.padLeft(), cs.padRight()}));
        s.put("temporal", p.isTemporal());
        boolean same = cs.padTop() == w[1] / 2 && cs.padBottom() == w[1] / 2 && cs.padLeft() == w[2] / 2 && cs.padRight() == w[2] / 2;
        String id = String.format(Locale.ROOT, "%s%s %s %s%s%s -> %d%s", prefix, p.isTemporal() ? "tconv3x1x1" : "conv" + w[1] + "x" + w[2],
                pass, OpCase.dims(x), cs.strideH() != 1 || cs.strideW() != 1 ? " s" + cs.strideH() + "," + cs.strideW() : "",
                same ? "" : " pad" + List.of(cs.padTop(), cs.padBottom(), cs.padLeft(), cs.padRight()), w[0], p.bias() ? " +bias" : "") + fused;
        long bytes = OpCase.bytes(t, Shape.numel(x) + Shape.numel(w) + Shape.numel(y) * (residual ? 2 : 1));
        return new OpCase(id, group, s, p.flops(), bytes, count, be -> switch (p.pass()) {
            case "forward" -> {
                Tensor xt = OpCase.random(be, t, x), wt = OpCase.random(be, t, w), bias = p.bias() ? OpCase.random(be, t, w[0]) : null;
                Tensor r = residual ? OpCase.random(be, t, y) : null;
                yield () -> be.conv2d(xt, wt, bias, r, cs);
            }
            case "backward_input" -> {
                Tensor gy = OpCase.random(be, t, y), wt = OpCase.random(be, t, w);
                yield () -> be.conv2dBackwardInput(gy, wt, x, cs);
            }
            default -> {
                Tensor gy = OpCase.random(be, t, y), xt = OpCase.random(be, t, x);
                yield () -> be.conv2dBackwardWeight(gy, xt, w, cs);
            }
        });
    }

    /** The device copy (read + write) of about the largest case's traffic, 1 MiB to 1 GiB: the bandwidth roofline. */
    public static OpCase copy(List<OpCase> cases, DType t) {
        long most = cases.stream().mapToLong(OpCase::bytes).max().orElse(0);
        long numel = Math.max(1L << 20, Math.min(1L << 30, most)) / 2 / t.bytes();
        ObjectNode s = Json.mapper().createObjectNode().put("kind", "copy").put("pass", "forward").put("dtype", t.name()).put("numel", numel);
        String id = String.format(Locale.ROOT, "copy %s %.1f MiB", t.name(), numel * t.bytes() / 1048576.0);
        return new OpCase(id, "copy", s, 0, OpCase.bytes(t, 2 * numel), 1, be -> {
            Tensor x = OpCase.random(be, t, (int) numel);
            return () -> be.copy(x, t);
        });
    }

    /** (batch, rows, cols), or its transpose stored the other way round when {@code transposed}; 2-D when batch is 1. */
    private static Tensor operand(Backend be, DType t, int batch, int rows, int cols, boolean transposed) {
        int[] shape = transposed ? new int[]{batch, cols, rows} : new int[]{batch, rows, cols};
        Tensor r = OpCase.random(be, t, batch == 1 ? new int[]{shape[1], shape[2]} : shape);
        return transposed ? r.transpose(-1, -2) : r;
    }

    private static int[] ints(List<Integer> l) {
        return l.stream().mapToInt(Integer::intValue).toArray();
    }
}
