package dev.puppetengine.train.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.io.Json;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** drags.json on its own: the image's edges are inside it, and every malformed field is refused naming the file and the place. */
class ClipDragsTest {
    private static final Path FILE = Path.of("clips", "000000", "drags.json");
    private static final int F = 2, W = 20, H = 12;

    /** One drag from the top-left corner to the bottom-right one, a candidate off the image, a still point. */
    private static ObjectNode json() {
        return new ClipDrags(W, H, F, List.of(new double[] {0, 0, W, H}), List.of(new double[] {-4, 3, 25, 3}),
                List.of(new double[] {5, 6, 5, 6}), JsonNodeFactory.instance.objectNode()).toJson();
    }

    private static String refusal(JsonNode o) {
        return assertThrows(IOException.class, () -> ClipDrags.fromJson(o, FILE)).getMessage();
    }

    private static JsonNode parse(String text) throws IOException {
        return Json.mapper().readTree(text);
    }

    /** A drag may reach x = W and y = H (pixel centres are integers: the last one's far edge); candidates may leave the image. */
    @Test
    void dragsOnTheImageEdgesAndCandidatesOffItReadBack() throws IOException {
        ClipDrags d = ClipDrags.fromJson(json(), FILE);
        assertEquals(List.of(W, H, F), List.of(d.width(), d.height(), d.frames()));
        assertArrayEquals(new double[] {0, 0, W, H}, d.drags().get(0));
        assertArrayEquals(new double[] {-4, 3, 25, 3}, d.candidates().get(0));
        assertArrayEquals(new double[] {5, 6, 5, 6}, d.staticCandidates().get(0));
    }

    @Test
    void aDragOutsideTheImageIsRefused() throws IOException {
        String[] outside = {"[-0.5, 0]", "[0, -0.5]", "[20.5, 12]", "[20, 12.5]"};
        for (String p : outside) {
            ObjectNode o = json();
            ((ArrayNode) o.get("drags").get(0)).set(1, parse(p));
            assertEquals(FILE + ": drags[0][1] " + parse(p) + " lies outside the 20x12 image", refusal(o), p);
        }
    }

    @Test
    void malformedFieldsAreRefusedNamingThePlace() throws IOException {
        assertEquals(FILE + ": expected format 'puppet-engine-drags' version 1, found \"puppet-engine-clips\" 1",
                refusal(json().put("format", "puppet-engine-clips")));
        assertEquals(FILE + ": expected format 'puppet-engine-drags' version 1, found \"puppet-engine-drags\" 2", refusal(json().put("version", 2)));
        assertEquals(FILE + ": normalized coordinates are not supported, expected pixels", refusal(json().put("normalized", true)));
        for (String size : new String[] {"[20]", "[20, 12, 1]", "[20, \"12\"]", "[\"20\", 12]", "20"}) {
            ObjectNode o = json();
            o.set("image_size", parse(size));
            assertEquals(FILE + ": field 'image_size' must be [width, height], found " + parse(size), refusal(o), size);
        }
        ObjectNode o = json();
        o.put("candidates", 3);
        assertEquals(FILE + ": field 'candidates' must be a list of tracks", refusal(o));
        o = json();
        o.set("static_candidates", parse("[[[1, 2]]]"));
        assertEquals(FILE + ": static_candidates[0] must list 2 [x, y] positions, found [[1,2]]", refusal(o));
        for (String p : new String[] {"[1]", "[1, 2, 3]", "[\"1\", 2]", "[1, \"2\"]", "7"}) {
            o = json();
            ((ArrayNode) o.get("candidates").get(0)).set(1, parse(p));
            assertEquals(FILE + ": candidates[0][1] must be [x, y], found " + parse(p), refusal(o), p);
        }
    }
}
