package dev.puppetengine.train.data.synthetic;

import java.util.SplittableRandom;

/**
 * How far a motion has got at normalised clip time t in [0, 1]: an easing curve that starts after
 * {@code delay} and completes at {@code finish}. Forward motions go 0 -> 1 (a drawer opening), reversed ones
 * 1 -> 0 (closing), so the data holds both directions.
 */
record MotionTiming(Easing easing, double delay, double finish, boolean reversed) {
    enum Easing { LINEAR, SMOOTH, EASE_IN, EASE_OUT }

    static MotionTiming random(SplittableRandom rng) {
        Easing e = Easing.values()[rng.nextInt(Easing.values().length)];
        double delay = rng.nextDouble() < 0.5 ? 0 : rng.nextDouble(0, 0.3);
        double finish = rng.nextDouble() < 0.5 ? 1 : rng.nextDouble(0.7, 1);
        return new MotionTiming(e, delay, finish, rng.nextDouble() < 0.3);
    }

    double at(double t) {
        double u = Math.min(1, Math.max(0, (t - delay) / (finish - delay)));
        double v = switch (easing) {
            case LINEAR -> u;
            case SMOOTH -> u * u * (3 - 2 * u);
            case EASE_IN -> u * u;
            case EASE_OUT -> 1 - (1 - u) * (1 - u);
        };
        return reversed ? 1 - v : v;
    }
}
