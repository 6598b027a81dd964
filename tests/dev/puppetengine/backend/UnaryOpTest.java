package dev.puppetengine.backend;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The CPU reference's elementwise definitions against values from elsewhere (the gradient checks only hold a function
 * and its derivative to each other: a sigmoid of 0 everywhere passes them): erf against libm's (Python's math.erf,
 * printed in full), sigmoid, SiLU and GELU where they are exact or follow from those.
 */
class UnaryOpTest {
    /**
     * Each of Cody's ranges (|x| up to 0.46875, up to 4, below 26.7, beyond), both signs, within 2 ulps of libm; 1.3 and
     * 4.3 are not multiples of 1/16, so exp(-x^2)'s split into exp(-ysq^2) exp(-del) has a del that is not 0.
     */
    @Test
    void erfMatchesLibmOnEveryRange() {
        double[][] xAndErf = {{1e-20, 1.1283791670955125e-20}, {0.3, 0.3286267594591274}, {0.46875, 0.49261347321793797},
                {0.5, 0.5204998778130465}, {1, 0.8427007929497149}, {1.3, 0.9340079449406524}, {2, 0.9953222650189527}, {4, 0.9999999845827421},
                {4.3, 0.9999999988065282}, {4.5, 0.9999999998033839}, {5, 0.9999999999984626}, {6, 1}, {27, 1}};
        for (double[] c : xAndErf) {
            assertEquals(c[1], Erf.erf(c[0]), 2 * Math.ulp(c[1]), "erf(" + c[0] + ")");
            assertEquals(-c[1], Erf.erf(-c[0]), 2 * Math.ulp(c[1]), "erf(" + -c[0] + ")");
        }
        assertEquals(0, Erf.erf(0));
    }

    /**
     * sigmoid(+-ln 3) = 3/4 and 1/4; at +-800 (exp overflows) 1 and 0, not NaN; SiLU x sigmoid(x); GELU(x) = x Phi(x) with
     * Phi(1) and Phi(-2) from libm's erfc; STEP is 0 at 0 (the clamp gradient's mask passes a value at its bound).
     */
    @Test
    void sigmoidSiluGeluAndStepValues() {
        double ln3 = Math.log(3);
        assertEquals(0.5, UnaryOp.sigmoid(0));
        assertEquals(0.75, UnaryOp.sigmoid(ln3), 1e-15);
        assertEquals(0.25, UnaryOp.sigmoid(-ln3), 1e-15);
        assertEquals(1, UnaryOp.sigmoid(800));
        assertEquals(0, UnaryOp.sigmoid(-800));
        assertEquals(0.75 * ln3, UnaryOp.SILU.apply(ln3), 1e-15);
        assertEquals(800, UnaryOp.SILU.apply(800));
        assertEquals(0.8413447460685429, UnaryOp.GELU.apply(1), 1e-15);
        assertEquals(-0.04550026389635844, UnaryOp.GELU.apply(-2), 1e-15);
        assertEquals(0, UnaryOp.STEP.apply(0));
        assertEquals(1, UnaryOp.STEP.apply(Double.MIN_VALUE));
    }
}
