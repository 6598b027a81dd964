package dev.puppetengine.tensor;

import java.util.Locale;

/**
 * Element types. Floating types are storage formats: the CPU backend computes in float64 whatever the
 * storage, the CUDA backend in fp32 with bf16/fp16 operands. Names match safetensors' dtype strings.
 */
public enum DType {
    F64(8, true), F32(4, true), BF16(2, true), F16(2, true), I64(8, false), I32(4, false), U8(1, false), BOOL(1, false);

    private final int bytes;
    private final boolean floating;

    DType(int bytes, boolean floating) {
        this.bytes = bytes;
        this.floating = floating;
    }

    public int bytes() { return bytes; }

    public boolean isFloating() { return floating; }

    /**
     * The type that work on values of this type keeps its running state and sums in: F64 for F64, else F32. Low
     * precision is for storage and products; a loss, a sampler's state, statistics, master weights and moments
     * accumulate in F32 (as under PyTorch's autocast), and the float64 reference stays float64.
     */
    public DType full() { return this == F64 ? F64 : F32; }

    /** The safetensors dtype string ("F32", "BF16", ...). */
    public String safetensorsName() { return name(); }

    /** Parses a safetensors dtype string; null when the engine does not support it. */
    public static DType fromSafetensors(String s) {
        for (DType d : values()) if (d.name().equals(s)) return d;
        return null;
    }

    /** Parses a user-facing name: fp32/float32/f32, bf16/bfloat16, fp16/float16/f16, fp64/float64. */
    public static DType parse(String s) {
        switch (s.toLowerCase(Locale.ROOT)) {
            case "fp32": case "float32": case "f32": case "float": return F32;
            case "bf16": case "bfloat16": return BF16;
            case "fp16": case "float16": case "f16": case "half": return F16;
            case "fp64": case "float64": case "f64": case "double": return F64;
            default: throw new IllegalArgumentException("unknown dtype '" + s + "' (expected fp32, bf16, fp16 or fp64)");
        }
    }
}
