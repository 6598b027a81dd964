package dev.puppetengine.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.puppetengine.io.AtomicFile;
import dev.puppetengine.io.Json;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeMap;
import java.util.function.DoubleUnaryOperator;

/**
 * The loss curve of a run's log.jsonl as a PNG: every step's loss (light) and its moving average (dark) on a
 * log scale, since diffusion losses fall over orders of magnitude early and are noisy late.
 */
public final class LossPlot {
    private LossPlot() {}

    private static final int W = 800, H = 450, LEFT = 70, RIGHT = 20, TOP = 40, BOTTOM = 50;

    /** Reads (step, loss) pairs; a line cut short by a crash is skipped. Later lines win for a repeated step (resume). */
    public static List<double[]> read(Path jsonl) throws IOException {
        TreeMap<Long, Double> byStep = new TreeMap<>();
        for (String line : new String(Files.readAllBytes(jsonl), StandardCharsets.UTF_8).lines().toList()) {   // bytes that are no UTF-8: a garbled line, skipped
            if (line.isBlank()) continue;
            JsonNode n;
            try {
                n = Json.mapper().readTree(line);
            } catch (IOException torn) {
                continue;
            }
            // numbers only: asDouble reads a null or a string as 0, which would plot as a drop to the axis floor
            if (n.path("step").canConvertToLong() && n.path("loss").isNumber() && Double.isFinite(n.get("loss").asDouble()))
                byStep.put(n.get("step").asLong(), n.get("loss").asDouble());
        }
        List<double[]> pts = new ArrayList<>();
        byStep.forEach((s, l) -> pts.add(new double[] {s, l}));
        return pts;
    }

    /** Writes the plot of {@code jsonl} to {@code png} (atomically); returns the number of points. */
    public static int write(Path jsonl, Path png) throws IOException {
        List<double[]> pts = Files.isRegularFile(jsonl) ? read(jsonl) : List.of();
        BufferedImage img = render(pts, jsonl.getParent() == null ? "loss" : "loss: " + jsonl.toAbsolutePath().getParent().getFileName());
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        // no disk cache: its temporary file registers a delete-on-exit hook, refused while a Ctrl-C shutdown writes the plot
        ImageIO.setUseCache(false);
        ImageIO.write(img, "png", bytes);
        AtomicFile.writeBytes(png, bytes.toByteArray());
        return pts.size();
    }

    static BufferedImage render(List<double[]> pts, String title) {
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, W, H);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        g.drawString(title, LEFT, 22);
        g.drawRect(LEFT, TOP, W - LEFT - RIGHT, H - TOP - BOTTOM);
        if (pts.isEmpty()) {
            g.drawString("no steps logged yet", W / 2 - 60, H / 2);
            g.dispose();
            return img;
        }
        double x0 = pts.get(0)[0], x1 = Math.max(pts.get(pts.size() - 1)[0], x0 + 1);
        double lo = Double.MAX_VALUE, hi = -Double.MAX_VALUE;
        for (double[] p : pts) {
            double l = Math.log10(Math.max(p[1], 1e-12));
            lo = Math.min(lo, l);
            hi = Math.max(hi, l);
        }
        if (hi - lo < 1e-3) { lo -= 0.5; hi += 0.5; }
        final double fx0 = x0, fx1 = x1, flo = lo, fhi = hi;
        DoubleUnaryOperator sx = s -> LEFT + (s - fx0) / (fx1 - fx0) * (W - LEFT - RIGHT);
        DoubleUnaryOperator sy = l -> H - BOTTOM - (Math.log10(Math.max(l, 1e-12)) - flo) / (fhi - flo) * (H - TOP - BOTTOM);

        // Axes: five ticks on y; on x, five at whole steps (every step when there are fewer), each where its step is.
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        for (int i = 0; i <= 4; i++) {
            double l = lo + (hi - lo) * i / 4, v = Math.pow(10, l);
            int y = (int) Math.round(sy.applyAsDouble(v));
            g.setColor(new Color(230, 230, 230));
            g.drawLine(LEFT + 1, y, W - RIGHT - 1, y);
            g.setColor(Color.BLACK);
            g.drawString(String.format(Locale.ROOT, "%.3g", v), 8, y + 4);
        }
        long first = (long) Math.ceil(x0), span = (long) Math.floor(x1) - first, every = Math.max(1, (long) Math.ceil(span / 4.0));
        for (long s = first; s <= x1; s += every) {
            int x = (int) Math.round(sx.applyAsDouble(s));
            g.drawString(String.valueOf(s), x - 10, H - BOTTOM + 16);
        }
        g.drawString("step", W / 2 - 10, H - 12);

        g.setStroke(new BasicStroke(1f));
        g.setColor(new Color(150, 180, 230));
        g.draw(polyline(pts, sx, sy));
        int window = Math.max(1, pts.size() / 50);
        List<double[]> avg = new ArrayList<>();
        double sum = 0;
        for (int i = 0; i < pts.size(); i++) {
            sum += pts.get(i)[1];
            if (i >= window) sum -= pts.get(i - window)[1];
            avg.add(new double[] {pts.get(i)[0], sum / Math.min(i + 1, window)});
        }
        g.setStroke(new BasicStroke(2f));
        g.setColor(new Color(20, 60, 160));
        g.draw(polyline(avg, sx, sy));
        g.drawString(String.format(Locale.ROOT, "moving average over %d steps; last %.4g", window, avg.get(avg.size() - 1)[1]), LEFT + 8, TOP + 16);
        g.dispose();
        return img;
    }

    private static Path2D polyline(List<double[]> pts, DoubleUnaryOperator sx, DoubleUnaryOperator sy) {
        Path2D.Double p = new Path2D.Double();
        for (int i = 0; i < pts.size(); i++) {
            double x = sx.applyAsDouble(pts.get(i)[0]), y = sy.applyAsDouble(pts.get(i)[1]);
            if (i == 0) p.moveTo(x, y); else p.lineTo(x, y);
        }
        return p;
    }
}
