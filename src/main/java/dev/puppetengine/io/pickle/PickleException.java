package dev.puppetengine.io.pickle;

import dev.puppetengine.io.InputFileException;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** A pickle or torch checkpoint that is malformed, unsupported, or names a global outside the allow list. */
public final class PickleException extends InputFileException {
    public PickleException(String source, String problem) {
        super(source + ": " + problem);
    }

    public PickleException(String source, String problem, Throwable cause) {
        super(source + ": " + problem, cause);
    }

    /**
     * A short description of an unpickled value for messages: scalars and short strings in full, containers by
     * kind and size only (a hostile pickle can build huge or self-containing structures).
     */
    public static String describe(Object o) {
        if (o == null) return "None";
        if (o instanceof String s) return s.length() <= 60 ? "'" + s + "'" : "'" + s.substring(0, 60) + "...' (" + s.length() + " chars)";
        if (o instanceof Number || o instanceof Boolean || o instanceof TorchTensor || o instanceof TorchStorage) return o.toString();
        if (o instanceof byte[] b) return "bytes of " + b.length;
        if (o instanceof ArrayList<?> l) return "list of " + l.size();
        if (o instanceof List<?> t) return "tuple of " + t.size();
        if (o instanceof Map<?, ?> m) return "dict of " + m.size();
        if (o instanceof Set<?> s) return "set of " + s.size();
        return o.getClass().getSimpleName();
    }
}
