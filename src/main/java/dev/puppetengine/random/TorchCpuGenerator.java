package dev.puppetengine.random;

/**
 * PyTorch's CPU generator, as {@code torch.manual_seed(seed)} sets it up and {@code torch.randn} draws from it: the
 * 32-bit Mersenne Twister, normals by Box-Muller. Sampling starts from this noise so that a seed gives the initial
 * latents the reference demo draws (spec 5.3: {@code torch.manual_seed(seed); torch.randn((1, 14, 4, 32, 32))}).
 *
 * <p>torch has two normal paths: fewer than 16 values come one pair of 53-bit uniforms at a time (the sine half kept
 * for the next call); 16 or more are filled with 24-bit uniforms first and transformed in blocks of 16 (8 cosines,
 * then 8 sines), the last block recomputed from fresh uniforms when the count is not a multiple of 16. Values agree
 * with torch's to within 2 float ulps (1 measured): torch evaluates log, sin and cos in float (its AVX2 path with
 * Cephes-style approximations), here they are rounded from double.
 */
public final class TorchCpuGenerator {
    private static final int N = 624, M = 397;
    private static final int MATRIX_A = 0x9908b0df, UPPER = 0x80000000, LOWER = 0x7fffffff;

    private final int[] mt = new int[N];
    private int index = N;
    private double cachedNormal = Double.NaN;   // the sine half of the scalar path's last pair

    /** As torch.manual_seed: the Mersenne Twister seeded with the seed's low 32 bits. */
    public TorchCpuGenerator(long seed) {
        mt[0] = (int) seed;
        for (int i = 1; i < N; i++) mt[i] = 1812433253 * (mt[i - 1] ^ (mt[i - 1] >>> 30)) + i;
    }

    /** The next 32 random bits (an unsigned value in an int). */
    public int nextInt() {
        if (index == N) twist();
        int y = mt[index++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        return y ^ (y >>> 18);
    }

    private void twist() {
        for (int i = 0; i < N; i++) {
            int y = (mt[i] & UPPER) | (mt[(i + 1) % N] & LOWER);
            mt[i] = mt[(i + M) % N] ^ (y >>> 1) ^ ((y & 1) != 0 ? MATRIX_A : 0);
        }
        index = 0;
    }

    /** torch's float uniform in [0, 1): the low 24 bits of one draw. */
    private float uniformFloat() {
        return (nextInt() & 0xFFFFFF) * 0x1p-24f;
    }

    /** torch's double uniform in [0, 1): the low 53 bits of two draws, the first one high. */
    private double uniformDouble() {
        long hi = nextInt() & 0xFFFFFFFFL, lo = nextInt() & 0xFFFFFFFFL;
        return ((hi << 32 | lo) & ((1L << 53) - 1)) * 0x1p-53;
    }

    /** {@code n} standard normals in the order {@code torch.randn(n)} (or any shape of n elements) returns them. */
    public float[] normal(int n) {
        float[] out = new float[n];
        if (n < 16) {
            for (int i = 0; i < n; i++) out[i] = (float) scalarNormal();
            return out;
        }
        for (int i = 0; i < n; i++) out[i] = uniformFloat();
        for (int i = 0; i + 16 <= n; i += 16) boxMuller16(out, i);
        if (n % 16 != 0) {
            for (int i = n - 16; i < n; i++) out[i] = uniformFloat();
            boxMuller16(out, n - 16);
        }
        return out;
    }

    private double scalarNormal() {
        if (!Double.isNaN(cachedNormal)) {
            double c = cachedNormal;
            cachedNormal = Double.NaN;
            return c;
        }
        double u1 = uniformDouble(), u2 = uniformDouble();
        double r = Math.sqrt(-2 * Math.log1p(-u2)), theta = 2 * Math.PI * u1;
        cachedNormal = r * Math.sin(theta);
        return r * Math.cos(theta);
    }

    /** Sixteen uniforms at {@code at} become normals: pairs (j, j + 8), radius from the first, angle from the second. */
    private static void boxMuller16(float[] d, int at) {
        for (int j = at; j < at + 8; j++) {
            float u1 = 1 - d[j], u2 = d[j + 8];
            float radius = (float) Math.sqrt(-2 * (float) Math.log(u1));
            float theta = (float) (2 * Math.PI) * u2;
            d[j] = radius * (float) Math.cos(theta);
            d[j + 8] = radius * (float) Math.sin(theta);
        }
    }
}
