package dev.puppetengine.eval;

import java.io.IOException;
import java.util.List;

/** A named collection of examples, loaded one at a time so a bad one can be reported and skipped. */
public interface ExampleSource {
    /** Example names in processing order (also the base names of the outputs). */
    List<String> names();

    Example load(String name) throws IOException;
}
