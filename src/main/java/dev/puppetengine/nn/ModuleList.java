package dev.puppetengine.nn;

import java.util.ArrayList;
import java.util.List;

/** Children named "0", "1", ... (torch.nn.ModuleList). */
public final class ModuleList<M extends Module> extends Module {
    private final List<M> items = new ArrayList<>();

    public M append(M m) {
        add(String.valueOf(items.size()), m);
        items.add(m);
        return m;
    }

    public M get(int i) { return items.get(i); }

    public int size() { return items.size(); }

    public List<M> items() { return List.copyOf(items); }
}
