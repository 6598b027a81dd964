package dev.puppetengine.model.clip;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.puppetengine.nn.Init;
import dev.puppetengine.nn.Parameter;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Map;

import static dev.puppetengine.testing.Refusals.assertRefused;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The full-size ViT-H/14 image encoder described without allocating: transformers key names, shapes, total of spec 2.8. */
class ClipStructureTest {
    private static final ClipVisionModelWithProjection MODEL = new ClipVisionModelWithProjection(ClipVisionConfig.vitH14());
    private static final Map<String, Parameter> P = MODEL.namedParameters();

    private static void assertShape(String key, int... checkpointShape) {
        Parameter p = P.get(key);
        assertNotNull(p, "missing key " + key);
        assertEquals(Arrays.toString(checkpointShape), Arrays.toString(p.checkpointShape()), "checkpoint shape of " + key);
    }

    @Test
    void totalMatchesTheSpec() {
        assertEquals(632_076_800L, MODEL.parameterCount());
        // embeddings 3, pre/post LN 2 + 2, per layer 4 projections x 2 + 2 LN x 2 + 2 fc x 2 = 16, projection 1
        assertEquals(3 + 2 + 32 * 16 + 2 + 1, P.size());
    }

    @Test
    void keysAndShapes() {
        String e = "vision_model.embeddings.";
        assertShape(e + "class_embedding", 1280);
        assertShape(e + "patch_embedding.weight", 1280, 3, 14, 14);
        assertShape(e + "position_embedding.weight", 257, 1280);
        assertShape("vision_model.pre_layrnorm.weight", 1280);
        assertShape("vision_model.pre_layrnorm.bias", 1280);
        for (int i : new int[]{0, 31}) {
            String l = "vision_model.encoder.layers." + i + ".";
            for (String proj : new String[]{"q_proj", "k_proj", "v_proj", "out_proj"}) {
                assertShape(l + "self_attn." + proj + ".weight", 1280, 1280);
                assertShape(l + "self_attn." + proj + ".bias", 1280);
            }
            assertShape(l + "layer_norm1.weight", 1280);
            assertShape(l + "mlp.fc1.weight", 5120, 1280);
            assertShape(l + "mlp.fc1.bias", 5120);
            assertShape(l + "mlp.fc2.weight", 1280, 5120);
            assertShape(l + "mlp.fc2.bias", 1280);
            assertShape(l + "layer_norm2.bias", 1280);
        }
        assertShape("vision_model.post_layernorm.weight", 1280);
        assertShape("visual_projection.weight", 1024, 1280);
        assertNull(P.get("visual_projection.bias"));
        assertNull(P.get(e + "patch_embedding.bias"));
        assertNull(P.get("vision_model.encoder.layers.32.layer_norm1.weight"));
        assertFalse(P.containsKey(e + "position_ids"), "position_ids is a buffer, not a weight");
        assertEquals("[1280, 14, 14, 3]", Arrays.toString(P.get(e + "patch_embedding.weight").shape()), "engine layout is channels-last");
        assertEquals(ClipVisionConfig.vitH14(), MODEL.config());
    }

    /** transformers' _init_weights for a model fitted from scratch: class token N(0, 1/sqrt(hidden)), positions N(0, 0.02). */
    @Test
    void embeddingsStartAsTransformersInitialisesThem() {
        // built here, not in the static field: PIT credits a class initialiser's coverage to no test
        Map<String, Parameter> p = new ClipVisionModelWithProjection(ClipVisionConfig.tiny(32, 8, 16)).namedParameters();
        assertEquals(Init.normal(1 / Math.sqrt(32)), p.get("vision_model.embeddings.class_embedding").init());
        assertEquals(Init.normal(0.02), p.get("vision_model.embeddings.position_embedding.weight").init());
    }

    @Test
    void transformersConfigJsonGivesThePreset() throws Exception {
        String json = "{\"_name_or_path\": \"laion/CLIP-ViT-H-14\", \"architectures\": [\"CLIPVisionModelWithProjection\"],"
                + " \"attention_dropout\": 0.0, \"dropout\": 0.0, \"hidden_act\": \"gelu\", \"hidden_size\": 1280, \"image_size\": 224,"
                + " \"initializer_factor\": 1.0, \"initializer_range\": 0.02, \"intermediate_size\": 5120, \"layer_norm_eps\": 1e-05,"
                + " \"model_type\": \"clip_vision_model\", \"num_attention_heads\": 16, \"num_channels\": 3, \"num_hidden_layers\": 32,"
                + " \"patch_size\": 14, \"projection_dim\": 1024, \"torch_dtype\": \"float16\"}";
        assertEquals(ClipVisionConfig.vitH14(), new ObjectMapper().readValue(json, ClipVisionConfig.class));
        assertEquals(ClipVisionConfig.vitH14(), new ObjectMapper().readValue(json.replace(" \"num_channels\": 3,", ""), ClipVisionConfig.class),
                "num_channels absent: transformers' default 3");
        assertEquals(257, ClipVisionConfig.vitH14().numPositions());
    }

    /** Each bound at its edge: the smallest valid config is accepted, one step past any bound is refused. */
    @Test
    void configBoundsAreCheckedAtTheirEdges() {
        // hidden, intermediate, layers, heads, image, patch, projection, eps: one head of 1, no layers, one 1-pixel patch
        ClipVisionConfig smallest = config(1, 1, 0, 1, 1, 1, 1, 1e-12);
        assertEquals(2, smallest.numPositions());
        assertEquals(3, smallest.numChannels());
        String hidden = "CLIP config: hidden_size", image = "CLIP config: image_size", other = "CLIP config: intermediate_size";
        assertRefused(hidden, () -> config(0, 1, 0, 1, 1, 1, 1, 1e-12));
        assertRefused(hidden, () -> config(1, 1, 0, 0, 1, 1, 1, 1e-12));
        assertRefused(hidden + " 6 must be a positive multiple of num_attention_heads 4", () -> config(6, 1, 0, 4, 1, 1, 1, 1e-12));
        assertRefused(image, () -> config(1, 1, 0, 1, 1, 0, 1, 1e-12));
        assertRefused(image + " 12 must be a positive multiple of patch_size 8", () -> config(1, 1, 0, 1, 12, 8, 1, 1e-12));
        assertRefused(other, () -> config(1, 0, 0, 1, 1, 1, 1, 1e-12));
        assertRefused(other, () -> config(1, 1, -1, 1, 1, 1, 1, 1e-12));
        assertRefused(other, () -> config(1, 1, 0, 1, 1, 1, 0, 1e-12));
        assertRefused(other, () -> config(1, 1, 0, 1, 1, 1, 1, 0));
    }

    private static ClipVisionConfig config(int hidden, int intermediate, int layers, int heads, int image, int patch, int projection, double eps) {
        return new ClipVisionConfig(hidden, intermediate, layers, heads, 0, image, patch, projection, eps, "gelu");
    }

    @Test
    void unsupportedActivationIsRejected() {
        var e = assertThrows(IllegalArgumentException.class, () -> new ClipVisionConfig(32, 64, 1, 2, 3, 32, 8, 16, 1e-5, "quick_gelu"));
        assertEquals("CLIP config: hidden_act must be \"gelu\" (exact erf form), got quick_gelu", e.getMessage());
    }

    /** A config.json without image_size (Jackson's 0) is refused, not built into a model of one position. */
    @Test
    void aMissingImageSizeIsRejected() {
        String json = "{\"hidden_size\": 32, \"intermediate_size\": 64, \"num_hidden_layers\": 1, \"num_attention_heads\": 2,"
                + " \"patch_size\": 8, \"projection_dim\": 16, \"layer_norm_eps\": 1e-5, \"hidden_act\": \"gelu\"}";
        var e = assertThrows(Exception.class, () -> new ObjectMapper().readValue(json, ClipVisionConfig.class));
        assertTrue(String.valueOf(e.getMessage()).contains("image_size 0 must be a positive multiple of patch_size 8"), e.getMessage());
    }
}
