package dev.puppetengine.backend.cuda;

import dev.puppetengine.backend.cuda.GemmTuner.Tile;
import dev.puppetengine.testing.DeviceUnderTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.EnumSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The tuner's tile validation (CudaGemm.validate) on a GPU or the emulator: every tile this device runs passes it here.
 * Its point is the kernel mutants of kernels/check/emu/mutation-check.sh: a tile that computes some product class the
 * engine runs wrongly (into fp32, bf16 or f16 C), or that stores outside C, must fail it, or the tuner may time and
 * cache a wrong kernel as the winner.
 */
@Tag("gpu")
class CudaGemmValidationTest {
    @Test
    void everyTileHereMatchesTheCpuReference() {
        CudaBackend cuda = DeviceUnderTest.requireCuda();
        Set<Tile> tiles = EnumSet.copyOf(Tile.MMA);
        if (cuda.computeCapability() == 90) tiles.addAll(Tile.WGMMA);   // SIMT_ARCH=90 on the emulator
        if (TensorMaps.unavailable() != null) tiles.removeAll(Tile.TMA);
        assertEquals(tiles, cuda.gemm().validate(tiles));
    }
}
