package dev.puppetengine.train.data.synthetic;

import java.util.Locale;

/** What a synthetic clip shows; in every kind the moving parts follow an analytic motion. */
public enum SceneKind {
    /** A cabinet whose drawer slides out of (or back into) its slot: translation along the cabinet's axis. */
    DRAWER,
    /** A box whose lid rotates about its hinge, or a cabinet door swinging open (squash towards the hinge). */
    HINGE,
    /** A fish whose tail, a chain of segments, bends progressively joint by joint. */
    TAIL,
    /** Two to four objects of the kinds above and static shapes; the parts of one or two objects move. */
    MULTI;

    /** Lower-case name used in files. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }
}
