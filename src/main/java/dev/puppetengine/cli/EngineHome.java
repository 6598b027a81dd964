package dev.puppetengine.cli;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where the engine's shipped files (models/toy, examples/) are: -Dpuppetengine.home (set by ./puppet-engine), else next to the jar. */
final class EngineHome {
    private EngineHome() {}

    static Path home() {
        String p = System.getProperty("puppetengine.home");
        if (p != null) return Path.of(p);
        try {
            Path code = Path.of(EngineHome.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            for (Path d = code; d != null; d = d.getParent())
                if (Files.isDirectory(d.resolve("models"))) return d;
        } catch (URISyntaxException | SecurityException ignored) {
            // fall through to the working directory
        }
        return Path.of("").toAbsolutePath();
    }

    /** The small model shipped in the repository, used when no --model is given. */
    static Path defaultModel() {
        return home().resolve("models").resolve("toy");
    }
}
