package dev.puppetengine.train.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.io.Json;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;

import static dev.puppetengine.testing.Refusals.assertRefused;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** dataset.json on its own: the split arithmetic, which existing datasets a run may continue, and broken manifests refused. */
class DatasetManifestTest {
    private static final Path FILE = Path.of("ds", "dataset.json");

    private static DatasetManifest manifest(String generator, long seed, int k, int count, int frames, int width, int height, int trainCount) {
        return new DatasetManifest(generator, seed, JsonNodeFactory.instance.objectNode().put("k", k), count, frames, width, height, trainCount, true);
    }

    private static DatasetManifest base() {
        return manifest("gen/1", 7, 1, 10, 3, 20, 12, 8);
    }

    @Test
    void theValidationSplitIsTheRoundedFractionAndBothEndsAreAllowed() {
        assertEquals(7, DatasetManifest.trainCount(10, 0.25), "round(2.5) = 3 clips for validation");
        assertEquals(10, DatasetManifest.trainCount(10, 0), "no validation clips");
        assertEquals(0, DatasetManifest.trainCount(10, 1), "every clip for validation");
        for (double bad : new double[] {-0.01, 1.01, Double.NaN})
            assertRefused("validation fraction " + bad + " is not in [0, 1]", () -> DatasetManifest.trainCount(10, bad));
        // the split itself: all or none of the clips for training is a split, one more or less is not
        manifest("gen/1", 7, 1, 10, 3, 20, 12, 10);
        manifest("gen/1", 7, 1, 10, 3, 20, 12, 0);
        assertRefused("train split of 11 clips out of 10", () -> manifest("gen/1", 7, 1, 10, 3, 20, 12, 11));
        assertRefused("train split of -1 clips out of 10", () -> manifest("gen/1", 7, 1, 10, 3, 20, 12, -1));
    }

    /** 2147483639 bytes, the most one array holds, are 715827879 RGB pixels (and two bytes over). */
    @Test
    void aClipFitsUpToTheLargestArray() {
        assertTrue(DatasetManifest.clipFits(1, 715827879, 1));
        assertFalse(DatasetManifest.clipFits(1, 715827880, 1));
        assertTrue(DatasetManifest.clipFits(3, 715827879 / 3, 1));
        assertFalse(DatasetManifest.clipFits(3, 715827879 / 3 + 1, 1));
    }

    /** Each setting that shapes the clips refuses the continuation, naming the existing value first. */
    @Test
    void anyDifferentSettingRefusesTheContinuationAndSaysWhich() {
        DatasetManifest was = base();
        assertNull(base().conflictWith(was));
        assertNull(base().withComplete(false).conflictWith(was), "an unfinished run of the same settings continues");
        assertEquals("10 clips (8 for training) vs 10 (9)", manifest("gen/1", 7, 1, 10, 3, 20, 12, 9).conflictWith(was));
        assertEquals("generator 'gen/1' vs 'gen/2'", manifest("gen/2", 7, 1, 10, 3, 20, 12, 8).conflictWith(was));
        assertEquals("seed 7 vs 8", manifest("gen/1", 8, 1, 10, 3, 20, 12, 8).conflictWith(was));
        assertEquals("frames 3 vs 4", manifest("gen/1", 7, 1, 10, 4, 20, 12, 8).conflictWith(was));
        assertEquals("image size 20x12 vs 21x12", manifest("gen/1", 7, 1, 10, 3, 21, 12, 8).conflictWith(was));
        assertEquals("image size 20x12 vs 20x13", manifest("gen/1", 7, 1, 10, 3, 20, 13, 8).conflictWith(was));
        assertEquals("parameters {\"k\":1} vs {\"k\":2}", manifest("gen/1", 7, 2, 10, 3, 20, 12, 8).conflictWith(was));
    }

    private static ObjectNode json() {
        return (ObjectNode) base().toJson();
    }

    private static String refusal(JsonNode o) {
        return assertThrows(IOException.class, () -> DatasetManifest.fromJson(o, FILE)).getMessage();
    }

    @Test
    void aManifestReadsBackAsWritten() throws IOException {
        assertEquals(base(), DatasetManifest.fromJson(base().toJson(), FILE));
        ObjectNode allTrain = json(), noneTrain = json();
        ((ArrayNode) allTrain.get("split").get("train")).set(1, 10);
        ((ArrayNode) noneTrain.get("split").get("train")).set(1, 0);
        assertEquals(10, DatasetManifest.fromJson(allTrain, FILE).trainCount());
        assertEquals(0, DatasetManifest.fromJson(noneTrain, FILE).trainCount());
    }

    @Test
    void aBrokenManifestIsRefusedNamingTheFileAndTheField() throws IOException {
        ObjectNode o = json().put("format", "puppet-engine-drags");
        assertEquals(FILE + ": expected format 'puppet-engine-clips' version 1, found \"puppet-engine-drags\" 1", refusal(o));
        o = json().put("version", 2);
        assertEquals(FILE + ": expected format 'puppet-engine-clips' version 1, found \"puppet-engine-clips\" 2", refusal(o));
        o = json().put("max_drags", 4);
        assertEquals(FILE + ": field 'max_drags' must be 5, found 4", refusal(o));
        for (String train : new String[] {"[0,11]", "[1,8]", "[0,-1]", "[0]", "3"}) {
            o = json();
            ((ObjectNode) o.get("split")).set("train", Json.mapper().readTree(train));
            assertEquals(FILE + ": field 'split.train' must be [0, n] with n <= count 10, found " + train, refusal(o), train);
        }
    }
}
