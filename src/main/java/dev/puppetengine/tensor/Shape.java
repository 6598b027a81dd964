package dev.puppetengine.tensor;

import java.util.Arrays;

/** Static helpers for shapes and strides (shapes are int[], strides long[] in elements). */
public final class Shape {
    private Shape() {}

    public static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + str(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** numel as an int, with a clear error when a tensor is too large for one Java array. */
    public static int numelInt(int[] shape) {
        long n = numel(shape);
        if (n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("tensor of shape " + str(shape) + " has " + n + " elements: too large for one host array");
        return (int) n;
    }

    public static long[] contiguousStrides(int[] shape) {
        long[] s = new long[shape.length];
        long acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= Math.max(shape[i], 1);
        }
        return s;
    }

    /** numpy broadcasting of two shapes. */
    public static int[] broadcast(int[] a, int[] b) {
        int n = Math.max(a.length, b.length);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            int da = i - (n - a.length) >= 0 ? a[i - (n - a.length)] : 1;
            int db = i - (n - b.length) >= 0 ? b[i - (n - b.length)] : 1;
            if (da != db && da != 1 && db != 1)
                throw new IllegalArgumentException("shapes " + str(a) + " and " + str(b) + " do not broadcast");
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    public static String str(int[] shape) {
        return Arrays.toString(shape);
    }

    /** Normalises a possibly negative dimension index. */
    public static int dim(int d, int rank) {
        int r = d < 0 ? d + rank : d;
        if (r < 0 || r >= rank) throw new IndexOutOfBoundsException("dimension " + d + " out of range for rank " + rank);
        return r;
    }

    /** Resolves one -1 in a requested shape against a total element count. */
    public static int[] infer(int[] requested, long numel) {
        int[] s = requested.clone();
        int free = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (free >= 0) throw new IllegalArgumentException("only one -1 allowed in shape " + str(requested));
                free = i;
            } else known *= s[i];
        }
        if (free >= 0) {
            if (known == 0 || numel % known != 0)
                throw new IllegalArgumentException("cannot reshape " + numel + " elements to " + str(requested));
            s[free] = (int) (numel / known);
        }
        if (numel(s) != numel)
            throw new IllegalArgumentException("cannot reshape " + numel + " elements to " + str(requested));
        return s;
    }
}
