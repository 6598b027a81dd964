package dev.puppetengine.train.data.synthetic;

import java.util.List;

/**
 * A procedurally generated 2-D scene over {@code frames} frames of {@code size x size} pixels: a static
 * background and pieces drawn in order, each belonging to a {@link Part}. Image coordinates are pixels with
 * pixel centres at integers (x = column, y = row, origin top-left), the convention of the drag tracks.
 */
public final class Scene {
    private final SceneKind kind;
    private final int size;
    private final int frames;
    private final int[] background;
    private final List<Piece> pieces;
    private final List<Part> parts;

    Scene(SceneKind kind, int size, int frames, int[] background, List<Piece> pieces, List<Part> parts) {
        this.kind = kind;
        this.size = size;
        this.frames = frames;
        this.background = background;
        this.pieces = List.copyOf(pieces);
        this.parts = List.copyOf(parts);
    }

    public SceneKind kind() { return kind; }

    public int size() { return size; }

    public int frames() { return frames; }

    /** Every part; a part's id is its position in this list plus one. */
    public List<Part> parts() { return parts; }

    public List<Part> movingParts() {
        return parts.stream().filter(Part::moving).toList();
    }

    /** Id of the part visible at image point (x, y) in frame {@code f} (the topmost piece containing it), 0 for background. */
    public int idAt(int f, double x, double y) {
        for (int i = pieces.size() - 1; i >= 0; i--)
            if (pieces.get(i).contains(f, x, y)) return pieces.get(i).partId;
        return 0;
    }

    List<Piece> pieces() { return pieces; }

    /** Background pixels, 0xRRGGBB row-major; the background never moves. */
    int[] background() { return background; }
}
