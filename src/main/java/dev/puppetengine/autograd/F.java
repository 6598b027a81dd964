package dev.puppetengine.autograd;

import dev.puppetengine.backend.AttentionResult;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.BinaryOp;
import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.backend.NormResult;
import dev.puppetengine.backend.UnaryOp;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.DeviceConstants;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * The differentiable operations. Each calls its {@link Backend} forward and, when recording, attaches a
 * {@link Node} whose backward calls the backend's backward ops. Model code uses only these (and raw tensor
 * views on tensors that need no gradient). Gradients returned by nodes are always fresh handles.
 */
public final class F {
    private F() {}

    private static Backend be(Tensor t) { return t.backend(); }

    /** Sums a gradient down to {@code shape} (the backward of broadcasting); a new handle either way. */
    static Tensor reduceTo(Tensor g, int[] shape) {
        return Arrays.equals(g.shape(), shape) ? g.alias() : be(g).sumTo(g, shape);
    }

    /**
     * The gradient to multiply before a broadcast reduction to {@code shape}: an F32 copy when it is bf16/f16 and a
     * reduction follows, else itself. Rounding every product to bf16 before summing loses gradients whose terms
     * cancel (a mix factor's, a per-channel scale's: errors of 100% and more were measured on a tiny UNet), as
     * PyTorch avoids by keeping such parameters in fp32. Pair with {@link #narrow}.
     */
    private static Tensor wide(Tensor gy, int[] shape) {
        boolean low = gy.dtype() == DType.BF16 || gy.dtype() == DType.F16;
        return low && !Arrays.equals(gy.shape(), shape) ? be(gy).copy(gy, DType.F32) : gy;
    }

    /** A reduced gradient back in the incoming gradient's dtype (a no-op unless {@link #wide} widened it). */
    private static Tensor narrow(Tensor g, Tensor gy) {
        return g.dtype() == gy.dtype() ? g : be(g).copy(g, gy.dtype());
    }

    /** Non-recording add, for the autograd engine. */
    static Tensor addRaw(Tensor a, Tensor b) {
        return be(a).binary(BinaryOp.ADD, a, b);
    }

    // ---- elementwise ----------------------------------------------------------------------------------

    public static Tensor add(Tensor a, Tensor b) { return binary(BinaryOp.ADD, a, b); }

    public static Tensor sub(Tensor a, Tensor b) { return binary(BinaryOp.SUB, a, b); }

    public static Tensor mul(Tensor a, Tensor b) { return binary(BinaryOp.MUL, a, b); }

    public static Tensor div(Tensor a, Tensor b) { return binary(BinaryOp.DIV, a, b); }

    private static Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        Tensor y = be(a).binary(op, a, b);
        if (!Autograd.recording(a, b)) return y;
        Tensor sa = op == BinaryOp.MUL || op == BinaryOp.DIV ? a : null;
        Tensor sb = op == BinaryOp.MUL || op == BinaryOp.DIV ? b : null;
        int[] as = a.shape(), bs = b.shape();
        return Autograd.attach(y, new Node(op.name().toLowerCase(Locale.ROOT), a, b) {
            final Tensor xa = save(sa), xb = save(sb);

            @Override
            protected Tensor[] backward(Tensor gy) {
                Backend k = be(gy);
                Tensor ga = null, gb = null;
                switch (op) {
                    case ADD:
                        if (needs(0)) ga = reduceTo(gy, as);
                        if (needs(1)) gb = reduceTo(gy, bs);
                        break;
                    case SUB:
                        if (needs(0)) ga = reduceTo(gy, as);
                        if (needs(1)) gb = k.affine(reduceTo(gy, bs), -1, 0);
                        break;
                    case MUL:
                        if (needs(0)) ga = narrow(reduceTo(k.binary(BinaryOp.MUL, wide(gy, as), xb), as), gy);
                        if (needs(1)) gb = narrow(reduceTo(k.binary(BinaryOp.MUL, wide(gy, bs), xa), bs), gy);
                        break;
                    case DIV:
                        if (needs(0)) ga = narrow(reduceTo(k.binary(BinaryOp.DIV, wide(gy, as), xb), as), gy);
                        if (needs(1)) {   // -gy * a / b^2
                            Tensor q = k.binary(BinaryOp.DIV, k.binary(BinaryOp.MUL, wide(gy, bs), xa), k.unary(UnaryOp.SQUARE, xb));
                            gb = narrow(reduceTo(k.affine(q, -1, 0), bs), gy);
                        }
                        break;
                }
                return new Tensor[]{ga, gb};
            }
        });
    }

    public static Tensor unary(UnaryOp op, Tensor x) {
        Tensor y = be(x).unary(op, x);
        if (!Autograd.recording(x)) return y;
        return Autograd.attach(y, new Node(op.name().toLowerCase(Locale.ROOT), x) {
            final Tensor sx = save(x);

            @Override
            protected Tensor[] backward(Tensor gy) {
                return new Tensor[]{be(gy).unaryBackward(op, sx, gy)};
            }
        });
    }

    public static Tensor silu(Tensor x) { return unary(UnaryOp.SILU, x); }

    public static Tensor gelu(Tensor x) { return unary(UnaryOp.GELU, x); }

    public static Tensor sigmoid(Tensor x) { return unary(UnaryOp.SIGMOID, x); }

    public static Tensor square(Tensor x) { return unary(UnaryOp.SQUARE, x); }

    /** x * scale + shift. */
    public static Tensor affine(Tensor x, double scale, double shift) {
        Tensor y = be(x).affine(x, scale, shift);
        if (!Autograd.recording(x)) return y;
        return Autograd.attach(y, new Node("affine", x) {
            @Override
            protected Tensor[] backward(Tensor gy) {
                return new Tensor[]{be(gy).affine(gy, scale, 0)};
            }
        });
    }

    public static Tensor scale(Tensor x, double s) { return affine(x, s, 0); }

    /**
     * min(max(x, lo), hi) as torch.clamp (infinities to the bounds, NaN kept); the gradient passes where
     * {@code lo <= x <= hi} (bounds included, as torch's) and is 0 outside.
     */
    public static Tensor clamp(Tensor x, double lo, double hi) {
        Tensor y = be(x).clamp(x, lo, hi);
        if (!Autograd.recording(x)) return y;
        return Autograd.attach(y, new Node("clamp", x) {
            final Tensor sx = save(x);

            @Override
            protected Tensor[] backward(Tensor gy) {
                Backend k = be(gy);
                try (Scope s = Scope.open()) {   // gy minus its parts where x > hi or x < lo (x - hi keeps its sign when rounded)
                    Tensor above = k.unary(UnaryOp.STEP, k.affine(sx, 1, -hi)), below = k.unary(UnaryOp.STEP, k.affine(sx, -1, lo));
                    Tensor outside = k.binary(BinaryOp.ADD, above, below);
                    return new Tensor[]{Scope.escape(k.binary(BinaryOp.SUB, gy, k.binary(BinaryOp.MUL, gy, outside)))};
                }
            }
        });
    }

    /**
     * A spatio-temporal resblock's output in one op (spec 3.4): x = alpha a + (1 - alpha) b (the time mixer;
     * alpha has shape [1]), then, when gamma is given, the drag FiLM x (1 + gamma) + beta. Without b there is no
     * blend (alpha null: x = a).
     */
    public static Tensor blendFilm(Tensor a, Tensor b, Tensor alpha, Tensor gamma, Tensor beta) {
        Tensor y = be(a).blendFilm(a, b, alpha, gamma, beta);
        if (!Autograd.recording(a, b, alpha, gamma, beta)) return y;
        return Autograd.attach(y, new Node("blendFilm", a, b, alpha, gamma, beta) {
            final Tensor sa = save(a), sb = save(b), sal = save(alpha), sg = save(gamma);

            @Override
            protected Tensor[] backward(Tensor gy) {
                Tensor[] g = be(gy).blendFilmBackward(sa, sb, sal, sg, gy);
                for (int i = 0; i < g.length; i++) if (g[i] != null && !needs(i)) { g[i].close(); g[i] = null; }
                if (g[2] != null && g[2].dtype() != sal.dtype()) try (Tensor f32 = g[2]) { g[2] = f32.to(sal.dtype()); }
                return g;
            }
        });
    }

    // ---- reductions and losses ------------------------------------------------------------------------

    /** Sums down to a shape {@code x} broadcasts from. */
    public static Tensor sumTo(Tensor x, int... shape) {
        Tensor y = be(x).sumTo(x, shape);
        if (!Autograd.recording(x)) return y;
        int[] xs = x.shape();
        return Autograd.attach(y, new Node("sumTo", x) {
            @Override
            protected Tensor[] backward(Tensor gy) {
                try (Tensor e = gy.expand(xs)) {
                    return new Tensor[]{e.contiguous()};
                }
            }
        });
    }

    /** Sum of all elements, shape []. */
    public static Tensor sum(Tensor x) {
        int[] ones = new int[x.dim()];
        Arrays.fill(ones, 1);
        return reshape(sumTo(x, ones));
    }

    public static Tensor mean(Tensor x) {
        return scale(sum(x), 1.0 / x.numel());
    }

    public static Tensor mse(Tensor a, Tensor b) {
        return mean(square(sub(a, b)));
    }

    // ---- matrix products ------------------------------------------------------------------------------

    public static Tensor matmul(Tensor a, Tensor b) {
        GemmRecorder.matmul("matmul", "forward", a, b);
        Tensor y = be(a).matmul(a, b);
        FlopCount.add(2L * y.numel() * a.size(-1));
        if (!Autograd.recording(a, b)) return y;
        int[] as = a.shape(), bs = b.shape();
        return Autograd.attach(y, new Node("matmul", a, b) {
            final Tensor sa = save(needs(1) ? a : null), sb = save(needs(0) ? b : null);

            @Override
            protected Tensor[] backward(Tensor gy) {
                Tensor ga = null, gb = null;
                if (needs(0)) {
                    Tensor bt = sb.transpose(-1, -2);
                    GemmRecorder.matmul("matmul", "backward_input", gy, bt);
                    Tensor full = be(gy).matmul(gy, bt);
                    FlopCount.addBackward(2L * full.numel() * gy.size(-1));
                    ga = reduceTo(full, as);
                }
                if (needs(1)) {
                    Tensor at = sa.transpose(-1, -2);
                    GemmRecorder.matmul("matmul", "backward_weight", at, gy);
                    Tensor full = be(gy).matmul(at, gy);
                    FlopCount.addBackward(2L * full.numel() * at.size(-1));
                    gb = reduceTo(full, bs);
                }
                return new Tensor[]{ga, gb};
            }
        });
    }

    /** x (..., K) w^T + bias, w (N, K). */
    public static Tensor linear(Tensor x, Tensor w, Tensor bias) { return linear(x, w, bias, null); }

    /**
     * x (..., K) w^T + bias + residual (the output's shape, or null), the residual added in the product's epilogue
     * (one rounding, no separate add). Its gradient is the output's.
     */
    public static Tensor linear(Tensor x, Tensor w, Tensor bias, Tensor residual) {
        GemmRecorder.linear(x, w, bias != null, residual != null ? GemmRecorder.Epilogue.RESIDUAL : GemmRecorder.Epilogue.NONE);
        Tensor y = be(x).linear(x, w, bias, residual);
        FlopCount.add(2L * y.numel() * w.size(1));
        if (!Autograd.recording(x, w, bias, residual)) return y;
        int[] xs = x.shape();
        int n = w.size(0), k = w.size(1);
        return Autograd.attach(y, new Node("linear", x, w, bias, residual) {
            final Tensor sx = save(needs(1) ? x : null), sw = save(needs(0) ? w : null);

            @Override
            protected Tensor[] backward(Tensor gy) {
                Backend be = be(gy);
                Tensor g2 = gy.reshape(-1, n);
                Tensor gx = null, gw = null;
                if (needs(0)) {
                    GemmRecorder.matmul("linear", "backward_input", g2, sw);
                    gx = be.matmul(g2, sw).reshape(xs);
                    FlopCount.addBackward(2L * gx.numel() * n);
                }
                if (needs(1)) {
                    Tensor g2t = g2.transpose(0, 1), x2 = sx.reshape(-1, k);
                    GemmRecorder.matmul("linear", "backward_weight", g2t, x2);
                    gw = be.matmul(g2t, x2);
                    FlopCount.addBackward(2L * gw.numel() * g2.size(0));
                }
                Tensor gb = needs(2) ? be.sumTo(g2, new int[]{1, n}).reshape(n) : null;
                return new Tensor[]{gx, gw, gb, needs(3) ? gy.alias() : null};
            }
        });
    }

    /**
     * geglu(linear(x, w, bias)) for the feed-forward's projection w (2D, K): where no gradient is recorded, one fused
     * product whose epilogue applies the gate (the 2D-wide projection is never stored); else the two ops, since the
     * backward needs the projection.
     */
    public static Tensor linearGeglu(Tensor x, Tensor w, Tensor bias) {
        if (Autograd.recording(x, w, bias)) return geglu(linear(x, w, bias));
        GemmRecorder.linear(x, w, bias != null, GemmRecorder.Epilogue.GEGLU);
        Tensor y = be(x).linearGeglu(x, w, bias);
        FlopCount.add(4L * y.numel() * w.size(1));
        return y;
    }

    /**
     * Channels-last 2-D convolution: x (N, H, W, Cin), w (Cout, kh, kw, Cin), plus a residual of the output's shape
     * (or null), added in the epilogue as in {@link #linear}.
     */
    public static Tensor conv2d(Tensor x, Tensor w, Tensor bias, Tensor residual, ConvSpec spec) {
        GemmRecorder.conv("forward", x.dtype(), x.shape(), w.shape(), spec, bias != null,
                residual != null ? GemmRecorder.Epilogue.RESIDUAL : GemmRecorder.Epilogue.NONE);
        Tensor y = be(x).conv2d(x, w, bias, residual, spec);
        FlopCount.add(2L * y.numel() * w.size(1) * w.size(2) * w.size(3));
        if (!Autograd.recording(x, w, bias, residual)) return y;
        int[] xs = x.shape(), ws = w.shape();
        return Autograd.attach(y, new Node("conv2d", x, w, bias, residual) {
            final Tensor sx = save(needs(1) ? x : null), sw = save(needs(0) ? w : null);

            @Override
            protected Tensor[] backward(Tensor gy) {
                Backend be = be(gy);
                Tensor gx = null, gw = null;
                long products = 2L * gy.numel() * ws[1] * ws[2] * ws[3];   // each gradient product has the forward's count
                if (needs(0)) {
                    FlopCount.addBackward(products);
                    GemmRecorder.conv("backward_input", gy.dtype(), xs, ws, spec, false, GemmRecorder.Epilogue.NONE);
                    gx = be.conv2dBackwardInput(gy, sw, xs, spec);
                }
                if (needs(1)) {
                    FlopCount.addBackward(products);
                    GemmRecorder.conv("backward_weight", gy.dtype(), xs, ws, spec, false, GemmRecorder.Epilogue.NONE);
                    gw = be.conv2dBackwardWeight(gy, sx, ws, spec);
                }
                Tensor gb = needs(2) ? be.sumTo(gy, new int[]{1, 1, 1, ws[0]}).reshape(ws[0]) : null;
                return new Tensor[]{gx, gw, gb, needs(3) ? gy.alias() : null};
            }
        });
    }

    /**
     * The (3,1,1) temporal convolution: x (B, F, H, W, Cin), w (Cout, 3, 1, Cin), zero padding of one frame
     * at each end. It is a 3x1 conv2d over the (B, F, H*W, C) view, plus a residual of the output's shape (or null),
     * added in the epilogue.
     */
    public static Tensor temporalConv(Tensor x, Tensor w, Tensor bias, Tensor residual) {
        int[] s = x.shape();
        if (s.length != 5) throw new IllegalArgumentException("temporalConv expects (B,F,H,W,C), got " + Shape.str(s));
        Tensor r = residual == null ? null : reshape(residual, s[0], s[1], s[2] * s[3], w.size(0));
        Tensor y = conv2d(reshape(x, s[0], s[1], s[2] * s[3], s[4]), w, bias, r, new ConvSpec(1, 1, 1, 1, 0, 0));
        return reshape(y, s[0], s[1], s[2], s[3], w.size(0));
    }

    // ---- normalisation --------------------------------------------------------------------------------

    /** Group norm of x (N, ..., C), statistics pooled over all middle dims; optional fused SiLU. */
    public static Tensor groupNorm(Tensor x, Tensor gamma, Tensor beta, int groups, double eps, boolean silu) {
        NormResult r = be(x).groupNorm(x, gamma, beta, groups, eps, silu);
        if (!Autograd.recording(x, gamma, beta)) {
            r.mean().close();
            r.rstd().close();
            return r.y();
        }
        return Autograd.attach(r.y(), new Node(silu ? "groupNormSilu" : "groupNorm", x, gamma, beta) {
            final Tensor sx = save(x), sg = save(gamma), sb = save(silu ? beta : null);
            final NormResult st = new NormResult(null, save(r.mean()), save(r.rstd()));

            @Override
            protected Tensor[] backward(Tensor gy) {
                Tensor[] g = be(gy).groupNormBackward(sx, sg, sb, st, groups, silu, gy);
                return new Tensor[]{needs(0) ? g[0] : null, needs(1) ? g[1] : null, needs(2) ? g[2] : null};
            }
        });
    }

    public static Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, double eps) {
        NormResult r = be(x).layerNorm(x, gamma, beta, eps);
        if (!Autograd.recording(x, gamma, beta)) {
            r.mean().close();
            r.rstd().close();
            return r.y();
        }
        return Autograd.attach(r.y(), new Node("layerNorm", x, gamma, beta) {
            final Tensor sx = save(x), sg = save(gamma);
            final NormResult st = new NormResult(null, save(r.mean()), save(r.rstd()));

            @Override
            protected Tensor[] backward(Tensor gy) {
                Tensor[] g = be(gy).layerNormBackward(sx, sg, st, gy);
                return new Tensor[]{needs(0) ? g[0] : null, needs(1) ? g[1] : null, needs(2) ? g[2] : null};
            }
        });
    }

    /** p (..., 2D) -> p[..., :D] * gelu(p[..., D:]). */
    public static Tensor geglu(Tensor p) {
        Tensor y = be(p).geglu(p);
        if (!Autograd.recording(p)) return y;
        return Autograd.attach(y, new Node("geglu", p) {
            final Tensor sp = save(p);

            @Override
            protected Tensor[] backward(Tensor gy) {
                return new Tensor[]{be(gy).gegluBackward(sp, gy)};
            }
        });
    }

    /** Multi-head attention; see {@link Backend#attention} for the layouts (query batch i uses key batch i / (Bq/Bk)). */
    public static Tensor attention(Tensor q, Tensor k, Tensor v, int heads, double scale) {
        AttentionResult r = be(q).attention(q, k, v, heads, scale);
        FlopCount.add(4L * q.numel() * k.size(1));           // QK^T and PV: 2 x (2 Lq Lk C) per query batch
        if (!Autograd.recording(q, k, v)) {
            r.lse().close();
            return r.out();
        }
        return Autograd.attach(r.out(), new Node("attention", q, k, v) {
            final Tensor sq = save(q), sk = save(k), sv = save(v);
            final AttentionResult st = new AttentionResult(save(r.out()), save(r.lse()));

            @Override
            protected Tensor[] backward(Tensor gy) {
                Tensor[] g = be(gy).attentionBackward(sq, sk, sv, st, gy, heads, scale);
                FlopCount.addBackward(8L * sq.numel() * sk.size(1));   // dV, dP, dQ, dK: twice the forward's two products
                return new Tensor[]{needs(0) ? g[0] : null, needs(1) ? g[1] : null, needs(2) ? g[2] : null};
            }
        });
    }

    // ---- shapes ---------------------------------------------------------------------------------------

    public static Tensor reshape(Tensor x, int... shape) {
        Tensor y = x.reshape(shape);
        if (!Autograd.recording(x)) return y;
        int[] xs = x.shape();
        return Autograd.attach(y, new Node("reshape", x) {
            @Override
            protected Tensor[] backward(Tensor gy) {
                return new Tensor[]{gy.reshape(xs)};
            }
        });
    }

    public static Tensor permute(Tensor x, int... order) {
        Tensor y = x.permute(order);
        if (!Autograd.recording(x)) return y;
        int[] inv = new int[order.length];
        for (int i = 0; i < order.length; i++) inv[Shape.dim(order[i], order.length)] = i;
        return Autograd.attach(y, new Node("permute", x) {
            @Override
            protected Tensor[] backward(Tensor gy) {
                return new Tensor[]{gy.permute(inv)};
            }
        });
    }

    public static Tensor transpose(Tensor x, int a, int b) {
        int[] order = new int[x.dim()];
        for (int i = 0; i < order.length; i++) order[i] = i;
        a = Shape.dim(a, order.length);
        b = Shape.dim(b, order.length);
        order[a] = b;
        order[b] = a;
        return permute(x, order);
    }

    /** A contiguous copy (or alias); gradient passes through. */
    public static Tensor contiguous(Tensor x) {
        Tensor y = x.contiguous();
        if (!Autograd.recording(x)) return y;
        return Autograd.attach(y, new Node("contiguous", x) {
            @Override
            protected Tensor[] backward(Tensor gy) {
                return new Tensor[]{gy.alias()};
            }
        });
    }

    public static Tensor narrow(Tensor x, int dim, int start, int length) {
        Tensor y = x.narrow(dim, start, length);
        if (!Autograd.recording(x)) return y;
        int[] xs = x.shape();
        return Autograd.attach(y, new Node("narrow", x) {
            @Override
            protected Tensor[] backward(Tensor gy) {
                Tensor g = Tensor.zeros(gy.backend(), gy.dtype(), xs);
                try (Tensor slot = g.narrow(dim, start, length)) {
                    gy.backend().copyInto(gy, slot);
                }
                return new Tensor[]{g};
            }
        });
    }

    /** Splits along {@code dim} into pieces of the given sizes (views). */
    public static Tensor[] split(Tensor x, int dim, int... sizes) {
        Tensor[] out = new Tensor[sizes.length];
        int at = 0;
        for (int i = 0; i < sizes.length; i++) {
            out[i] = narrow(x, dim, at, sizes[i]);
            at += sizes[i];
        }
        if (at != x.size(dim)) throw new IllegalArgumentException("split sizes " + Arrays.toString(sizes) + " do not cover dim of size " + x.size(dim));
        return out;
    }

    public static Tensor expand(Tensor x, int... shape) {
        Tensor y = x.expand(shape);
        if (!Autograd.recording(x)) return y;
        int[] xs = x.shape();
        return Autograd.attach(y, new Node("expand", x) {
            @Override
            protected Tensor[] backward(Tensor gy) {
                return new Tensor[]{reduceTo(gy, xs)};
            }
        });
    }

    public static Tensor unsqueeze(Tensor x, int dim) {
        int[] s = x.shape();
        int d = dim < 0 ? dim + s.length + 1 : dim;
        int[] ns = new int[s.length + 1];
        for (int i = 0, j = 0; i < ns.length; i++) ns[i] = i == d ? 1 : s[j++];
        return reshape(x, ns);
    }

    public static Tensor concat(List<Tensor> xs, int dim) {
        Tensor y = be(xs.get(0)).concat(xs, dim);
        Tensor[] in = xs.toArray(new Tensor[0]);
        if (!Autograd.recording(in)) return y;
        int d = Shape.dim(dim, y.dim());
        int[] sizes = new int[in.length];
        for (int i = 0; i < in.length; i++) sizes[i] = in[i].size(d);
        return Autograd.attach(y, new Node("concat", in) {
            @Override
            protected Tensor[] backward(Tensor gy) {
                Tensor[] g = new Tensor[sizes.length];
                int at = 0;
                for (int i = 0; i < sizes.length; i++) {
                    if (needs(i)) try (Tensor v = gy.narrow(d, at, sizes[i])) {
                        g[i] = v.contiguous();
                    }
                    at += sizes[i];
                }
                return g;
            }
        });
    }

    /** Converts dtype (x itself when it already has it); the gradient is converted back. */
    public static Tensor to(Tensor x, DType t) {
        if (x.dtype() == t) return x;
        Tensor y = x.to(t);
        if (!Autograd.recording(x)) return y;
        DType from = x.dtype();
        return Autograd.attach(y, new Node("to", x) {
            @Override
            protected Tensor[] backward(Tensor gy) {
                return new Tensor[]{gy.to(from)};
            }
        });
    }

    /** The same values, cut from the graph. */
    public static Tensor detach(Tensor x) {
        return x.alias();
    }

    // ---- resampling -----------------------------------------------------------------------------------

    public static Tensor upsampleNearest2x(Tensor x) {
        Tensor y = be(x).upsampleNearest2x(x);
        if (!Autograd.recording(x)) return y;
        return Autograd.attach(y, new Node("upsample2x", x) {
            @Override
            protected Tensor[] backward(Tensor gy) {
                return new Tensor[]{be(gy).upsampleNearest2xBackward(gy)};
            }
        });
    }

    /** Bilinear samples of feat (N, H, W, C) at normalised points (N, K, 2) -> (N, K, C); no gradient to the points. */
    public static Tensor gridSamplePoints(Tensor feat, Tensor points) {
        Tensor y = be(feat).gridSamplePoints(feat, points);
        if (!Autograd.recording(feat)) return y;
        int[] fs = feat.shape();
        return Autograd.attach(y, new Node("gridSamplePoints", feat) {
            final Tensor sp = save(points);

            @Override
            protected Tensor[] backward(Tensor gy) {
                return new Tensor[]{be(gy).gridSamplePointsBackward(gy, sp, fs)};
            }
        });
    }

    // ---- embeddings and randomness --------------------------------------------------------------------

    /**
     * Sinusoidal embedding [cos(t f_0..), sin(t f_0..)] with f_j = exp(-ln(10000) j / half), cosines first
     * (diffusers Timesteps with flip_sin_to_cos=True, shift 0). t (B) -> (B, dim). Differentiable in t.
     */
    public static Tensor sinusoidal(Tensor t, int dim) {
        int half = dim / 2;
        double[] f = new double[half];
        for (int j = 0; j < half; j++) f[j] = Math.exp(-Math.log(10000) * j / half);
        DType ft = t.dtype().full();
        Tensor freqs = DeviceConstants.get(List.of("sinusoid-freqs", t.backend(), ft, half), () -> Tensor.of(t.backend(), ft, new int[]{1, half}, f));
        Tensor args = mul(unsqueeze(t, 1), freqs);
        return concat(List.of(unary(UnaryOp.COS, args), unary(UnaryOp.SIN, args)), 1);
    }

    // ---- gradient checkpointing -----------------------------------------------------------------------

    /**
     * Runs one block of a model (a resnet, a transformer, a VAE level): its intermediates live in their own scope,
     * freed when it returns except what autograd saved for backward, or, with {@code checkpoint}, nothing: backward
     * recomputes them ({@link #checkpoint}).
     */
    public static Tensor block(boolean checkpoint, Function<Tensor[], Tensor> fn, Tensor... inputs) {
        if (checkpoint) return checkpoint(fn, inputs);
        try (Scope s = Scope.open()) {
            return Scope.escape(fn.apply(inputs));
        }
    }

    /**
     * {@code h} through {@code blocks} in turn, each a {@link #block}. The chain consumes {@code h} (an intermediate of
     * the caller's) and frees each block's input once that block has returned: what backward needs, autograd saved on
     * its own handles, so a chain of blocks holds one or two activations at a time instead of all of them until the
     * caller's scope closes (the VAE decoder's full-resolution levels: hundreds of MB at 14 frames of 256x256).
     */
    public static Tensor chain(boolean checkpoint, Tensor h, List<? extends Function<Tensor, Tensor>> blocks) {
        for (Function<Tensor, Tensor> b : blocks) {
            Tensor next = block(checkpoint, in -> b.apply(in[0]), h);
            if (next != h) h.close();
            h = next;
        }
        return h;
    }

    /**
     * Runs {@code fn} without recording and, in backward, runs it again with recording to get the gradients
     * of its inputs and of the parameters it uses. Activations inside {@code fn} then live only during that
     * recomputation. {@code fn} must be deterministic and take every graph tensor it uses through
     * {@code inputs} (parameters, being leaves, may be captured).
     */
    public static Tensor checkpoint(Function<Tensor[], Tensor> fn, Tensor... inputs) {
        Tensor out;
        try (GradMode.Guard g = GradMode.noGrad(); Scope s = Scope.open()) {      // activations die here
            out = Scope.escape(fn.apply(inputs));
        }
        if (!GradMode.isEnabled()) return out;
        return Autograd.attach(out, new Node("checkpoint", inputs) {
            final Tensor[] saved = saveAll(inputs);

            private Tensor[] saveAll(Tensor[] in) {
                Tensor[] s = new Tensor[in.length];
                for (int i = 0; i < in.length; i++) s[i] = save(in[i]);
                return s;
            }

            @Override
            protected Tensor[] backward(Tensor gy) {
                Tensor[] leaves = new Tensor[saved.length];
                for (int i = 0; i < saved.length; i++) {
                    if (saved[i] == null) continue;
                    leaves[i] = saved[i].alias();
                    if (needs(i)) Autograd.requireGrad(leaves[i]);
                }
                try (GradMode.Guard g = GradMode.enableGrad()) {
                    Tensor again = fn.apply(leaves);
                    if (again.requiresGrad()) Autograd.backward(again, gy);
                }
                Tensor[] grads = new Tensor[saved.length];
                for (int i = 0; i < saved.length; i++)
                    if (leaves[i] != null && needs(i) && leaves[i].grad() != null) grads[i] = leaves[i].grad();
                return grads;
            }
        });
    }
}
