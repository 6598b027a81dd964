package dev.puppetengine.train.data.synthetic;

import java.awt.Color;
import java.awt.LinearGradientPaint;
import java.awt.MultipleGradientPaint;
import java.awt.Paint;
import java.awt.geom.Point2D;
import java.awt.geom.Rectangle2D;
import java.util.SplittableRandom;

/** Random colours and fills for objects (fills are in the object's local coordinates). */
final class Palette {
    private Palette() {}

    static Color color(SplittableRandom rng) {
        return Color.getHSBColor((float) rng.nextDouble(), (float) rng.nextDouble(0.3, 0.9), (float) rng.nextDouble(0.45, 0.95));
    }

    /** A colour that stands out against {@code c}: a distant hue and a clearly different brightness. */
    static Color contrasting(SplittableRandom rng, Color c) {
        float[] hsb = Color.RGBtoHSB(c.getRed(), c.getGreen(), c.getBlue(), null);
        float hue = (float) (hsb[0] + rng.nextDouble(0.25, 0.75));
        float bri = hsb[2] > 0.7f ? (float) rng.nextDouble(0.35, 0.55) : (float) rng.nextDouble(0.8, 1.0);
        return Color.getHSBColor(hue - (float) Math.floor(hue), (float) rng.nextDouble(0.3, 0.9), bri);
    }

    /** {@code c} scaled towards black (factor < 1) or white (factor > 1). */
    static Color shade(Color c, double factor) {
        return new Color(channel(c.getRed(), factor), channel(c.getGreen(), factor), channel(c.getBlue(), factor));
    }

    private static int channel(int v, double factor) {
        return factor <= 1 ? (int) Math.round(v * factor) : (int) Math.round(255 - (255 - v) / factor);
    }

    /** A solid colour, a gradient across {@code area}, or stripes over it: texture that moves with its part. */
    static Paint fill(SplittableRandom rng, Color base, Rectangle2D area) {
        double kind = rng.nextDouble();
        if (kind < 0.45) return base;
        double angle = rng.nextDouble(0, Math.PI);
        double cx = area.getCenterX(), cy = area.getCenterY();
        double dx = Math.cos(angle), dy = Math.sin(angle);
        Color other = shade(base, rng.nextBoolean() ? rng.nextDouble(0.45, 0.75) : rng.nextDouble(1.4, 2.2));
        if (kind < 0.75) {
            double half = 0.5 * Math.max(area.getWidth(), area.getHeight());
            return new LinearGradientPaint(new Point2D.Double(cx - dx * half, cy - dy * half), new Point2D.Double(cx + dx * half, cy + dy * half),
                    new float[] {0f, 1f}, new Color[] {base, other});
        }
        double period = Math.min(area.getWidth(), area.getHeight()) * rng.nextDouble(0.15, 0.4);
        return new LinearGradientPaint(new Point2D.Double(cx, cy), new Point2D.Double(cx + dx * period, cy + dy * period),
                new float[] {0f, 0.4f, 0.5f, 0.9f}, new Color[] {base, base, other, other}, MultipleGradientPaint.CycleMethod.REFLECT);
    }

    /** Outline width for an object of the given extent, in pixels. */
    static double line(double extent) {
        return Math.max(0.7, extent * 0.025);
    }
}
