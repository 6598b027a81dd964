package dev.puppetengine.train.data.synthetic;

import java.awt.Paint;
import java.awt.Shape;
import java.awt.geom.AffineTransform;
import java.awt.geom.NoninvertibleTransformException;
import java.awt.geom.Point2D;
import java.awt.geom.Rectangle2D;

/**
 * One filled shape of a part, in the part's local coordinates, with its pose in every frame (local to
 * image pixels, pixel centres at integer coordinates). The paint is in local coordinates too, so a part's
 * texture moves with it. Only {@code grabbable} pieces (fills, not thin outlines) carry drag points.
 */
final class Piece {
    final Shape shape;
    final Paint paint;
    final int partId;
    final boolean grabbable;
    final AffineTransform[] poses;
    private final AffineTransform[] inverses;
    private final Rectangle2D[] bounds;

    Piece(Shape shape, Paint paint, int partId, boolean grabbable, AffineTransform[] poses) {
        this.shape = shape;
        this.paint = paint;
        this.partId = partId;
        this.grabbable = grabbable;
        this.poses = poses;
        this.inverses = new AffineTransform[poses.length];
        this.bounds = new Rectangle2D[poses.length];
        Rectangle2D local = shape.getBounds2D();
        for (int f = 0; f < poses.length; f++) {
            try {
                inverses[f] = poses[f].createInverse();
            } catch (NoninvertibleTransformException e) {
                throw new IllegalArgumentException("piece of part " + partId + " collapses in frame " + f, e);
            }
            bounds[f] = poses[f].createTransformedShape(local).getBounds2D();
        }
    }

    /** Whether image point (x, y) lies inside this piece in frame {@code f}. */
    boolean contains(int f, double x, double y) {
        if (!bounds[f].contains(x, y)) return false;
        Point2D p = inverses[f].transform(new Point2D.Double(x, y), null);
        return shape.contains(p);
    }

    /** Area of the local bounding box in image pixels (frame 0): the weight for choosing where drags go. */
    double imageArea() {
        Rectangle2D b = shape.getBounds2D();
        return b.getWidth() * b.getHeight() * Math.abs(poses[0].getDeterminant());
    }
}
