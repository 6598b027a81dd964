package dev.puppetengine.pipeline;

/**
 * The noise levels of SVD's EulerDiscreteScheduler (spec 5.1): Karras sigmas with rho = 7 between
 * sigma_max = 700 and sigma_min = 0.002, computed in float64, stored as float32, a final 0 appended; the
 * model's timestep is c_noise = 0.25 ln(sigma) in float32; the initial noise is scaled by sqrt(sigma_max^2 + 1)
 * ("leading" timestep spacing).
 */
public final class KarrasSchedule {
    public static final double SIGMA_MIN = 0.002, SIGMA_MAX = 700, RHO = 7;

    private final float[] sigmas;

    public KarrasSchedule(int steps) {
        if (steps < 1) throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        sigmas = new float[steps + 1];
        double maxInv = Math.pow(SIGMA_MAX, 1 / RHO), minInv = Math.pow(SIGMA_MIN, 1 / RHO);
        for (int i = 0; i < steps; i++) {
            double ramp = steps == 1 ? 0 : (double) i / (steps - 1);
            sigmas[i] = (float) Math.pow(maxInv + ramp * (minInv - maxInv), RHO);
        }
        sigmas[steps] = 0f;
    }

    public int steps() { return sigmas.length - 1; }

    /** sigma_i for i = 0..steps (the last is 0). */
    public float sigma(int i) { return sigmas[i]; }

    /** The UNet timestep of step i: 0.25 ln sigma_i in float32. */
    public float cNoise(int i) { return (float) (0.25 * Math.log(sigmas[i])); }

    public static double initNoiseSigma() { return Math.sqrt(SIGMA_MAX * SIGMA_MAX + 1); }
}
