package dev.puppetengine.eval;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.util.List;

/** A named collection of examples, loaded one at a time so a bad one can be reported and skipped. */
public interface ExampleSource {
    /** Example names in processing order (also the base names of the outputs). */
    List<String> names();

    Example load(String name) throws IOException;

    /**
     * What the examples are made from beyond their folder and names (a generated dataset's generator, seed and
     * parameters; a digest of the files), so a resumed evaluation refuses data regenerated or replaced under the
     * same path; empty when unknown.
     */
    default ObjectNode identity() throws IOException { return JsonNodeFactory.instance.objectNode(); }
}
