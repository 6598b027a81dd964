package dev.puppetengine.train.data.synthetic;

import org.junit.jupiter.api.Test;

import java.awt.geom.AffineTransform;
import java.awt.geom.NoninvertibleTransformException;
import java.awt.geom.Point2D;
import java.awt.geom.Rectangle2D;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The object builders' motion, read from the scene's pieces (shapes in the object's local coordinates, a pose per frame):
 * which parts move and which never do, and that each motion is the kind its class documents - a drawer slides along
 * the cabinet, a lid turns about its back corner and lifts, a door narrows towards its hinge edge, a fish's tail bends
 * joint after joint while staying attached. The motion of a piece is its pose relative to the object's still pose.
 */
class ObjectBuildersTest {
    private static final int SIZE = 64, F = 8, SEEDS = 40;
    private static final double EPS = 1e-9;

    private static Scene generate(SceneKind kind, long seed) {
        return SceneGenerator.generate(kind, new SplittableRandom(seed), SIZE, F);
    }

    private static List<Part> parts(Scene s, String name) {
        return s.parts().stream().filter(p -> p.name().equals(name)).toList();
    }

    /** The pieces of part {@code id} in drawing order; {@code fills}: only the filled ones (not the outlines). */
    private static List<Piece> pieces(Scene s, int id, boolean fills) {
        return s.pieces().stream().filter(p -> p.partId == id && (p.grabbable || !fills)).toList();
    }

    private static List<Piece> fills(Scene s, String name) {
        List<Part> ps = parts(s, name);
        assertEquals(1, ps.size(), name + " parts in " + s.parts());
        return pieces(s, ps.get(0).id(), true);
    }

    /** The pose of {@code piece} in frame f relative to the object's still pose {@code object}: its motion in local units. */
    private static AffineTransform motion(AffineTransform object, Piece piece, int f) throws NoninvertibleTransformException {
        AffineTransform m = object.createInverse();
        m.concatenate(piece.poses[f]);
        return m;
    }

    private static Rectangle2D local(Piece p) {
        return p.shape.getBounds2D();
    }

    private static double angle(AffineTransform m) {
        return Math.atan2(m.getShearY(), m.getScaleX());
    }

    /** A rotation or the identity: orthonormal, no mirror. */
    private static void assertRotation(AffineTransform m, String where) {
        assertEquals(m.getScaleX(), m.getScaleY(), EPS, where + ": " + m);
        assertEquals(-m.getShearX(), m.getShearY(), EPS, where + ": " + m);
        assertEquals(1, m.getScaleX() * m.getScaleX() + m.getShearY() * m.getShearY(), EPS, where + ": " + m);
    }

    private static void assertMatrix(AffineTransform expected, AffineTransform actual, String where) {
        double[] e = new double[6], a = new double[6];
        expected.getMatrix(e);
        actual.getMatrix(a);
        for (int i = 0; i < 6; i++) assertEquals(e[i], a[i], EPS, where + ": " + actual);
    }

    private static void assertNear(double x, double y, Point2D p, double tol, String where) {
        assertTrue(Math.abs(p.getX() - x) < tol && Math.abs(p.getY() - y) < tol, where + ": " + p + " is not (" + x + ", " + y + ")");
    }

    /**
     * Animated objects move exactly one part, named as the kind says, whose pose differs between the first and last frame;
     * every other part holds its pose in every frame. Drawn still (as a multi-object scene draws its static objects) no
     * part moves at all. Every pose is a finite, invertible map.
     */
    @Test
    void animatedObjectsMoveOnePartAndStillOnesNone() {
        for (long seed = 0; seed < SEEDS; seed++) {
            for (SceneKind kind : List.of(SceneKind.DRAWER, SceneKind.HINGE, SceneKind.TAIL)) {
                Scene s = generate(kind, seed);
                String where = kind + " seed " + seed;
                List<Part> moving = s.movingParts();
                assertEquals(1, moving.size(), where + ": " + s.parts());
                Set<String> names = kind == SceneKind.DRAWER ? Set.of("drawer") : kind == SceneKind.HINGE ? Set.of("lid", "door") : Set.of("tail");
                assertTrue(names.contains(moving.get(0).name()), where + ": " + moving);
                for (Piece p : s.pieces()) {
                    assertFinite(p, where);
                    if (p.partId == moving.get(0).id()) assertFalse(p.poses[0].equals(p.poses[F - 1]), where + ": the moving part stands still");
                    else for (int f = 1; f < F; f++) assertEquals(p.poses[0], p.poses[f], where + ": still part " + p.partId + " moved in frame " + f);
                }
            }
            SplittableRandom rng = new SplittableRandom(seed);
            Placement at = new Placement(SIZE / 2.0, SIZE / 2.0, SIZE * 0.6);
            for (int k = 0; k < 4; k++) {
                SceneBuilder b = new SceneBuilder(rng, SIZE, F);
                switch (k) {
                    case 0 -> Cabinet.build(b, at, false);
                    case 1 -> HingedBox.build(b, at, false);
                    case 2 -> Fish.build(b, at, false);
                    default -> Distractor.build(b, at);
                }
                Scene s = b.build(SceneKind.MULTI, new int[SIZE * SIZE]);
                String where = "still object " + k + " seed " + seed;
                assertEquals(List.of(), s.movingParts(), where);
                for (Piece p : s.pieces()) {
                    assertFinite(p, where);
                    for (int f = 1; f < F; f++) assertEquals(p.poses[0], p.poses[f], where + ": part " + p.partId + " moved in frame " + f);
                }
            }
        }
    }

    private static void assertFinite(Piece p, String where) {
        for (AffineTransform t : p.poses) {
            double[] m = new double[6];
            t.getMatrix(m);
            for (double v : m) assertTrue(Double.isFinite(v), where + ": pose " + t + " of part " + p.partId);
            assertTrue(Math.abs(t.getDeterminant()) > EPS, where + ": pose " + t + " of part " + p.partId);
        }
    }

    /**
     * A drawer slides along the cabinet's x axis only, closed in its slot at one end of the clip; closed, every drawer covers
     * one dark slot, lies inside the cabinet's body and overlaps no other drawer; the moving one is drawn last (over the
     * others). Over the seeds drawers slide both ways, and some cabinets lie on their side (the slide is vertical in the image).
     */
    @Test
    void aDrawerSlidesAlongTheCabinetOutOfItsSlot() throws Exception {
        Set<String> seen = new HashSet<>();
        for (long seed = 0; seed < SEEDS; seed++) {
            Scene s = generate(SceneKind.DRAWER, seed);
            String where = "seed " + seed;
            List<Piece> cabinet = fills(s, "cabinet");
            AffineTransform object = cabinet.get(0).poses[0];
            Rectangle2D body = local(cabinet.get(0));
            List<Rectangle2D> slots = cabinet.subList(1, cabinet.size()).stream().map(ObjectBuildersTest::local).toList();
            List<Part> drawers = parts(s, "drawer");
            assertEquals(drawers.size(), slots.size(), where + ": dark slots for " + drawers.size() + " drawers");
            List<Rectangle2D> panels = new ArrayList<>();
            for (Part d : drawers) {
                Rectangle2D panel = local(pieces(s, d.id(), true).get(0));
                assertTrue(body.contains(panel), where + ": drawer " + panel + " outside the body " + body);
                assertEquals(1, slots.stream().filter(panel::contains).count(), where + ": drawer " + panel + " covers one slot of " + slots);
                for (Rectangle2D other : panels) assertFalse(panel.intersects(other), where + ": drawers " + panel + " and " + other + " overlap");
                panels.add(panel);
            }
            Part moving = s.movingParts().get(0);
            List<Piece> all = s.pieces();
            int lastStill = -1, firstMoving = all.size();
            for (int i = 0; i < all.size(); i++) {
                if (all.get(i).partId == moving.id()) firstMoving = Math.min(firstMoving, i);
                else lastStill = i;
            }
            assertTrue(lastStill < firstMoving, where + ": the moving drawer is drawn before a still piece");

            Piece panel = pieces(s, moving.id(), true).get(0);
            double[] tx = new double[F];
            for (int f = 0; f < F; f++) {
                AffineTransform m = motion(object, panel, f);
                assertMatrix(new AffineTransform(1, 0, 0, 1, m.getTranslateX(), 0), m, where + " frame " + f + ": not a slide along x");
                tx[f] = m.getTranslateX();
            }
            assertTrue(Math.abs(tx[0]) < EPS ^ Math.abs(tx[F - 1]) < EPS, where + ": closed at exactly one end, slides " + tx[0] + " .. " + tx[F - 1]);
            double open = tx[0] + tx[F - 1];
            seen.add(open > 0 ? "slides +x" : "slides -x");
            Point2D shift = new Point2D.Double(), closed = panel.poses[Math.abs(tx[0]) < EPS ? 0 : F - 1].transform(new Point2D.Double(), null);
            panel.poses[Math.abs(tx[0]) < EPS ? F - 1 : 0].transform(new Point2D.Double(), shift);
            seen.add(Math.abs(shift.getX() - closed.getX()) > Math.abs(shift.getY() - closed.getY()) ? "upright" : "on its side");
        }
        assertEquals(Set.of("slides +x", "slides -x", "upright", "on its side"), seen);
    }

    /**
     * A chest's lid, as wide as the box, turns about its lower corner at the box's back edge: every frame's motion is a
     * rotation fixing that point, closed at one end of the clip; it lifts (its free end never dips below its closed place,
     * into the box); the tab one opens it by sits at the free end. Over the seeds the hinge is on either side.
     */
    @Test
    void aLidTurnsAboutItsBackCornerAndLifts() throws Exception {
        Set<String> seen = new HashSet<>();
        for (long seed = 0; seed < SEEDS; seed++) {
            Scene s = generate(SceneKind.HINGE, seed);
            if (parts(s, "lid").isEmpty()) continue;
            String where = "seed " + seed;
            List<Piece> box = fills(s, "box"), lid = fills(s, "lid");
            AffineTransform object = box.get(0).poses[0];
            Rectangle2D b = local(box.get(0)), l = local(lid.get(0));
            assertEquals(b.getMinX(), l.getMinX(), EPS, where + ": lid " + l + " on box " + b);
            assertEquals(b.getMaxX(), l.getMaxX(), EPS, where + ": lid " + l + " on box " + b);
            double[] a = new double[F];
            for (int f = 0; f < F; f++) {
                AffineTransform m = motion(object, lid.get(0), f);
                assertRotation(m, where + " frame " + f);
                a[f] = angle(m);
            }
            assertTrue(Math.abs(a[0]) < EPS ^ Math.abs(a[F - 1]) < EPS, where + ": closed at exactly one end, turns " + a[0] + " .. " + a[F - 1]);
            AffineTransform open = motion(object, lid.get(0), Math.abs(a[0]) < EPS ? F - 1 : 0);
            Point2D hinge = fixedPoint(open);
            boolean right = Math.abs(hinge.getX() - l.getMaxX()) < Math.abs(hinge.getX() - l.getMinX());
            assertNear(right ? l.getMaxX() : l.getMinX(), l.getMaxY(), hinge, 1e-6, where + ": the lid's hinge");
            seen.add(right ? "hinge right" : "hinge left");
            double freeX = right ? l.getMinX() : l.getMaxX();
            for (int f = 0; f < F; f++)
                for (double y : new double[] {l.getMinY(), l.getMaxY()}) {
                    Point2D p = motion(object, lid.get(0), f).transform(new Point2D.Double(freeX, y), null);
                    assertTrue(p.getY() <= y + 1e-6, where + " frame " + f + ": the lid's free end dips to " + p + " from y " + y);
                }
            Rectangle2D tab = local(lid.get(lid.size() - 1));
            assertTrue(Math.abs(tab.getCenterX() - hinge.getX()) > l.getWidth() / 2, where + ": tab " + tab + " by the hinge " + hinge);
        }
        assertEquals(Set.of("hinge right", "hinge left"), seen);
    }

    /** The point an affine map leaves in place (one that is not a pure translation). */
    private static Point2D fixedPoint(AffineTransform m) {
        double a = m.getScaleX() - 1, b = m.getShearX(), c = m.getShearY(), d = m.getScaleY() - 1;
        double det = a * d - b * c, tx = -m.getTranslateX(), ty = -m.getTranslateY();
        return new Point2D.Double((tx * d - b * ty) / det, (a * ty - c * tx) / det);
    }

    /**
     * A cupboard's door narrows towards its hinge edge: every frame's motion scales x alone, by a factor in (0, 1], about one
     * vertical edge of the door, the same in every frame; closed (factor 1) at one end of the clip. Closed, the door covers
     * the dark inside and the shelves there; its knob is on the free half. Over the seeds the hinge is on either side, and
     * the hinged kind draws chests with lids as well as cupboards.
     */
    @Test
    void aDoorNarrowsTowardsItsHingeEdge() throws Exception {
        Set<String> seen = new HashSet<>();
        for (long seed = 0; seed < SEEDS; seed++) {
            Scene s = generate(SceneKind.HINGE, seed);
            if (parts(s, "door").isEmpty()) {
                seen.add("lid");
                continue;
            }
            String where = "seed " + seed;
            List<Piece> cupboard = fills(s, "cupboard"), door = fills(s, "door");
            AffineTransform object = cupboard.get(0).poses[0];
            Rectangle2D body = local(cupboard.get(0)), inside = local(cupboard.get(1)), panel = local(door.get(0));
            assertTrue(body.contains(panel) && panel.contains(inside), where + ": door " + panel + " in " + body + " over " + inside);
            for (Piece shelf : cupboard.subList(2, cupboard.size())) {
                Rectangle2D r = local(shelf);
                assertTrue(r.getMinY() >= inside.getMinY() && r.getMaxY() <= inside.getMaxY(), where + ": shelf " + r + " outside " + inside);
            }
            double[] k = new double[F];
            double hinge = Double.NaN;
            for (int f = 0; f < F; f++) {
                AffineTransform m = motion(object, door.get(0), f);
                k[f] = m.getScaleX();
                assertMatrix(new AffineTransform(k[f], 0, 0, 1, m.getTranslateX(), 0), m, where + " frame " + f + ": not a squash along x");
                assertTrue(k[f] > 0 && k[f] <= 1 + EPS, where + " frame " + f + ": width factor " + k[f]);
                if (k[f] < 1 - 1e-6) {
                    double x = m.getTranslateX() / (1 - k[f]);   // x where k x + t = x
                    if (Double.isNaN(hinge)) hinge = x;
                    assertEquals(hinge, x, 1e-6, where + " frame " + f + ": the hinge moved");
                }
            }
            assertTrue(Math.abs(k[0] - 1) < EPS ^ Math.abs(k[F - 1] - 1) < EPS, where + ": closed at exactly one end, factors " + k[0] + " .. " + k[F - 1]);
            boolean right = Math.abs(hinge - panel.getMaxX()) < 1e-6;
            assertTrue(right || Math.abs(hinge - panel.getMinX()) < 1e-6, where + ": hinge x " + hinge + " is no edge of " + panel);
            seen.add(right ? "hinge right" : "hinge left");
            Rectangle2D knob = local(door.get(door.size() - 1));
            assertTrue(Math.abs(knob.getCenterX() - hinge) > panel.getWidth() / 2, where + ": knob " + knob + " by the hinge " + hinge);
        }
        assertEquals(Set.of("hinge right", "hinge left", "lid"), seen);
    }

    /**
     * A fish's body holds still while its tail, growing from the back half of the body, bends: segment k (joint at the
     * segment's front edge, on the body's axis) stays joined to segment k - 1 (the first to the body) in every frame; each joint turns about itself, all towards the
     * same side; at the first and the last frame every joint has turned by the same angle (straight, or the full bend);
     * and a joint further down the tail is never further on its way than the one before it (the bend runs down the tail).
     */
    @Test
    void aFishTailBendsJointAfterJointAndStaysOn() throws Exception {
        for (long seed = 0; seed < SEEDS; seed++) {
            Scene s = generate(SceneKind.TAIL, seed);
            String where = "seed " + seed;
            List<Piece> body = fills(s, "fish body");   // the dorsal fin, the body, the eye's white and pupil
            AffineTransform object = body.get(0).poses[0];
            List<Piece> tail = fills(s, "tail");
            Point2D root = new Point2D.Double(local(tail.get(0)).getMaxX(), 0);
            Rectangle2D trunk = local(body.get(1));
            assertTrue(body.get(1).shape.contains(root) && root.getX() < trunk.getCenterX(), where + ": the tail's root " + root + " is not on the back half of " + trunk);
            int segments = (tail.size() - 1) / 2;   // a segment and the disc over its joint each, then the fin
            assertTrue(segments >= 1 && tail.size() == 2 * segments + 1, where + ": " + tail.size() + " tail pieces");
            double[][] turn = new double[segments][F];
            for (int k = 0; k < segments; k++) {
                Piece seg = tail.get(2 * k);
                Point2D joint = new Point2D.Double(local(seg).getMaxX(), 0);
                for (int f = 0; f < F; f++) {
                    AffineTransform parent = k == 0 ? object : tail.get(2 * k - 2).poses[f];
                    Point2D here = seg.poses[f].transform(joint, null), there = parent.transform(joint, null);
                    assertTrue(here.distance(there) < 1e-6, where + " frame " + f + ": segment " + k + " came off at " + here + " vs " + there);
                    AffineTransform own = parent.createInverse();
                    own.concatenate(seg.poses[f]);
                    assertRotation(own, where + " frame " + f + " joint " + k);
                    turn[k][f] = angle(own);
                }
            }
            double side = 0;
            for (double[] t : turn)
                for (double a : t) {
                    if (Math.abs(a) < EPS) continue;
                    if (side == 0) side = Math.signum(a);
                    assertEquals(side, Math.signum(a), where + ": joints turn both ways");
                }
            assertTrue(side != 0, where + ": the tail never bends");
            for (int k = 1; k < segments; k++) {
                assertEquals(turn[0][0], turn[k][0], 1e-9, where + ": joint " + k + " in the first frame");
                assertEquals(turn[0][F - 1], turn[k][F - 1], 1e-9, where + ": joint " + k + " in the last frame");
                for (int f = 0; f < F; f++)
                    assertTrue(Math.abs(turn[k][f] - turn[k][0]) <= Math.abs(turn[k - 1][f] - turn[k - 1][0]) + 1e-9,
                            where + " frame " + f + ": joint " + k + " ahead of joint " + (k - 1));
            }
        }
    }
}
