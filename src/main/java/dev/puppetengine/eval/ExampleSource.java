package dev.puppetengine.eval;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.util.List;
import java.util.Map;

/** A named collection of examples, loaded one at a time so a bad one can be reported and skipped. */
public interface ExampleSource {
    /** Example names in processing order (also the base names of the outputs). */
    List<String> names();

    Example load(String name) throws IOException;

    /**
     * What the examples are made from beyond their folder (a generated dataset's generator, seed and parameters; a
     * folder's set of example names), so a resumed evaluation refuses data regenerated or renamed under the same path;
     * empty when unknown.
     */
    default ObjectNode identity() throws IOException { return JsonNodeFactory.instance.objectNode(); }

    /**
     * The SHA-256 of each file example {@code name} is read from, by file name ("missing" for an absent one), so a
     * resumed evaluation can tell an example scored earlier from the same one changed since; {@link #load} records the
     * same in {@link Example#files}. Empty where {@link #identity} already fixes every example's content (a generated dataset).
     */
    default Map<String, String> files(String name) throws IOException { return Map.of(); }

    /**
     * A hidden file (".name", which a shell's {@code *} leaves out) is never an example's: a Mac writes "._photo.jpg"
     * resource forks beside the files it copies to a USB drive or a network share, and each would fail as an input.
     */
    static boolean hidden(String fileName) { return fileName.startsWith("."); }
}
