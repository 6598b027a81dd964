package dev.puppetengine.model.unet;

import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.io.Json;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A UNet config.json (an engine export the converter reads) that describes no buildable model is refused when parsed. */
class UNetConfigTest {
    /** Found by fuzzing: these parsed, then building the model threw NullPointerException, ArithmeticException or NegativeArraySizeException. */
    @Test
    void refusesWhatWouldFailBuildingTheModel() throws Exception {
        for (UNetConfig ok : new UNetConfig[]{UNetConfig.puppetMaster(), UNetConfig.svdImg2vid(), UNetConfig.tiny(8, 3, 16), UNetConfig.puppetMaster().svdBase()})
            assertDoesNotThrow(() -> Json.mapper().treeToValue(Json.mapper().valueToTree(ok), UNetConfig.class));
        String[][] cases = {
                {"num_attention_heads", "[0, 2, 2, 2]", "num_attention_heads 0"}, {"num_attention_heads", "[3, 2, 2, 2]", "num_attention_heads 3"},
                {"num_attention_heads", "[null, 2, 2, 2]", "holds null"}, {"resnet_eps_up", "[null, 1e-5, 1e-5, 1e-5]", "holds null"},
                {"drag_embedder_out_channels", "[null]", "holds null"}, {"layers_per_block", "-1", "layers_per_block must be at least 1"},
        };
        for (String[] c : cases) {
            ObjectNode cfg = Json.mapper().valueToTree(UNetConfig.tiny(8, 3, 16));
            cfg.set(c[0], Json.mapper().readTree(c[1]));
            JsonMappingException e = assertThrows(JsonMappingException.class, () -> Json.mapper().treeToValue(cfg, UNetConfig.class), c[0] + "=" + c[1]);
            assertTrue(e.getOriginalMessage().contains(c[2]), e.getOriginalMessage());
        }
    }
}
