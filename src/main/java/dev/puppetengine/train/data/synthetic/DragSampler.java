package dev.puppetengine.train.data.synthetic;

import java.awt.geom.Point2D;
import java.awt.geom.Rectangle2D;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Samples points on scene parts and tracks them exactly through the parts' poses. A point is kept only if,
 * in every frame, it and its four neighbours one pixel away are visible on its part (not covered by
 * another part, not off the image edge), so a rasterised mask agrees with the track even at the edges.
 * Tracks are {@code double[2F]} in pixels, rounded to 1/1000 px so that they survive JSON unchanged.
 */
final class DragSampler {
    private static final int ATTEMPTS_PER_POINT = 40;
    /** Distance (px) a tracked point keeps from its part's visible edge and from the image border. */
    static final double MARGIN = 1;

    private DragSampler() {}

    /** Up to {@code count} tracks on uniformly chosen parts among {@code parts} (fewer if the parts are mostly hidden or tiny). */
    static List<double[]> sample(Scene scene, List<Part> parts, int count, SplittableRandom rng) {
        List<double[]> tracks = new ArrayList<>();
        if (parts.isEmpty()) return tracks;
        for (int n = 0; n < count; n++) {
            for (int attempt = 0; attempt < ATTEMPTS_PER_POINT; attempt++) {
                Part part = parts.get(rng.nextInt(parts.size()));
                Piece piece = pickPiece(scene, part.id(), rng);
                Rectangle2D box = piece.shape.getBounds2D();
                Point2D local = new Point2D.Double(box.getX() + rng.nextDouble() * box.getWidth(), box.getY() + rng.nextDouble() * box.getHeight());
                if (piece.shape.contains(local) && visibleThroughout(scene, piece, local)) {
                    tracks.add(track(piece, local));
                    break;
                }
            }
        }
        return tracks;
    }

    /** A grabbable piece of the part, chosen with probability proportional to its area on screen. */
    private static Piece pickPiece(Scene scene, int partId, SplittableRandom rng) {
        List<Piece> pieces = scene.pieces().stream().filter(p -> p.partId == partId && p.grabbable).toList();
        double total = pieces.stream().mapToDouble(Piece::imageArea).sum(), x = rng.nextDouble() * total;
        for (Piece p : pieces) {
            x -= p.imageArea();
            if (x < 0) return p;
        }
        return pieces.get(pieces.size() - 1);
    }

    private static boolean visibleThroughout(Scene scene, Piece piece, Point2D local) {
        double lo = MARGIN, hi = scene.size() - 1 - MARGIN;
        for (int f = 0; f < scene.frames(); f++) {
            Point2D q = piece.poses[f].transform(local, null);
            double x = q.getX(), y = q.getY();
            if (x < lo || x > hi || y < lo || y > hi) return false;
            if (scene.idAt(f, x, y) != piece.partId || scene.idAt(f, x - MARGIN, y) != piece.partId || scene.idAt(f, x + MARGIN, y) != piece.partId
                    || scene.idAt(f, x, y - MARGIN) != piece.partId || scene.idAt(f, x, y + MARGIN) != piece.partId) return false;
        }
        return true;
    }

    private static double[] track(Piece piece, Point2D local) {
        double[] t = new double[2 * piece.poses.length];
        for (int f = 0; f < piece.poses.length; f++) {
            Point2D q = piece.poses[f].transform(local, null);
            t[2 * f] = Math.round(q.getX() * 1000) / 1000.0;
            t[2 * f + 1] = Math.round(q.getY() * 1000) / 1000.0;
        }
        return t;
    }
}
