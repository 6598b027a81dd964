package dev.puppetengine.train.data.synthetic;

import java.awt.Color;
import java.util.SplittableRandom;
import java.util.function.DoubleBinaryOperator;

/** Procedural static backgrounds (gradients, stripes, checkers, value noise, optional grain) as 0xRRGGBB pixels. */
final class Backgrounds {
    private Backgrounds() {}

    static int[] random(SplittableRandom rng, int size) {
        Color a = muted(rng), b = muted(rng);
        DoubleBinaryOperator pattern = switch (rng.nextInt(4)) {
            case 0 -> gradient(rng, size);
            case 1 -> stripes(rng, size);
            case 2 -> checker(rng, size);
            default -> noise(rng, size);
        };
        double grain = rng.nextBoolean() ? rng.nextDouble(2, 12) : 0;
        int[] px = new int[size * size];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++) {
                double t = pattern.applyAsDouble(x, y);
                double g = grain == 0 ? 0 : rng.nextDouble(-grain, grain);
                px[y * size + x] = mix(a.getRed(), b.getRed(), t, g) << 16 | mix(a.getGreen(), b.getGreen(), t, g) << 8 | mix(a.getBlue(), b.getBlue(), t, g);
            }
        return px;
    }

    private static Color muted(SplittableRandom rng) {
        return Color.getHSBColor((float) rng.nextDouble(), (float) rng.nextDouble(0.05, 0.6), (float) rng.nextDouble(0.25, 0.95));
    }

    private static int mix(int a, int b, double t, double grain) {
        return (int) Math.max(0, Math.min(255, Math.round(a + (b - a) * t + grain)));
    }

    /** Linear ramp at a random angle, or a radial one around a random centre. */
    private static DoubleBinaryOperator gradient(SplittableRandom rng, int size) {
        double cx = rng.nextDouble(0, size), cy = rng.nextDouble(0, size);
        if (rng.nextBoolean()) {
            double r = size * rng.nextDouble(0.5, 1.2);
            return (x, y) -> Math.min(1, Math.hypot(x - cx, y - cy) / r);
        }
        double angle = rng.nextDouble(0, 2 * Math.PI), dx = Math.cos(angle) / size, dy = Math.sin(angle) / size;
        return (x, y) -> clamp(0.5 + (x - cx) * dx + (y - cy) * dy);
    }

    /** Soft-edged stripes of a random period and direction. */
    private static DoubleBinaryOperator stripes(SplittableRandom rng, int size) {
        double period = Math.max(3, size * rng.nextDouble(1 / 16.0, 1 / 4.0));
        double angle = rng.nextDouble(0, Math.PI), dx = Math.cos(angle), dy = Math.sin(angle);
        double phase = rng.nextDouble(0, 2 * Math.PI);
        return (x, y) -> clamp(0.5 + 1.5 * Math.sin(2 * Math.PI * (x * dx + y * dy) / period + phase));
    }

    /** A checkerboard of random cell size, rotated. */
    private static DoubleBinaryOperator checker(SplittableRandom rng, int size) {
        double cell = Math.max(3, size * rng.nextDouble(1 / 16.0, 1 / 5.0));
        double angle = rng.nextDouble(0, Math.PI / 2), c = Math.cos(angle), s = Math.sin(angle);
        return (x, y) -> (Math.floorMod((long) Math.floor((x * c + y * s) / cell) + (long) Math.floor((y * c - x * s) / cell), 2L));
    }

    /** Two octaves of smoothly interpolated lattice noise. */
    private static DoubleBinaryOperator noise(SplittableRandom rng, int size) {
        int cells = 2 + rng.nextInt(6);
        DoubleBinaryOperator coarse = lattice(rng, cells, size), fine = lattice(rng, cells * 3, size);
        return (x, y) -> 0.7 * coarse.applyAsDouble(x, y) + 0.3 * fine.applyAsDouble(x, y);
    }

    private static DoubleBinaryOperator lattice(SplittableRandom rng, int cells, int size) {
        double[] v = new double[(cells + 1) * (cells + 1)];
        for (int i = 0; i < v.length; i++) v[i] = rng.nextDouble();
        double scale = (double) cells / size;
        return (x, y) -> {
            double gx = x * scale, gy = y * scale;
            int ix = Math.min(cells - 1, (int) gx), iy = Math.min(cells - 1, (int) gy);
            double fx = smooth(gx - ix), fy = smooth(gy - iy);
            int o = iy * (cells + 1) + ix;
            double top = v[o] + (v[o + 1] - v[o]) * fx;
            double bottom = v[o + cells + 1] + (v[o + cells + 2] - v[o + cells + 1]) * fx;
            return top + (bottom - top) * fy;
        };
    }

    private static double smooth(double t) {
        return t * t * (3 - 2 * t);
    }

    private static double clamp(double t) {
        return Math.max(0, Math.min(1, t));
    }
}
