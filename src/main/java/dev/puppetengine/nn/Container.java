package dev.puppetengine.nn;

/** A module that only groups named children, so keys read like the checkpoint's (ff.net.0.proj, to_out.0). */
public final class Container extends Module {
    public <M extends Module> M put(String name, M child) {
        return add(name, child);
    }
}
