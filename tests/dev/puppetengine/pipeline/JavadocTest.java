package dev.puppetengine.pipeline;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.DocumentationTool;
import javax.tools.ToolProvider;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine's API documentation builds: javadoc over every source (the converter's too) with doclint on, save for
 * missing comments, reports nothing. A stray {@code <} or a {@code {@link}} to a renamed method fails here, not in an
 * embedding user's build.
 */
class JavadocTest {
    @Test
    void javadocBuildsWithoutErrorsOrWarnings(@TempDir Path out) {
        DocumentationTool javadoc = ToolProvider.getSystemDocumentationTool();
        assertNotNull(javadoc, "no javadoc tool in this runtime (a JRE, not a JDK?)");
        assertTrue(Files.isDirectory(Path.of("src/main/java")), "run from the project root");
        ByteArrayOutputStream said = new ByteArrayOutputStream();
        int rc = javadoc.run(null, said, said, "-quiet", "-Xdoclint:all,-missing", "-d", out.toString(),
                "-cp", System.getProperty("java.class.path"),
                "-sourcepath", "src/main/java" + File.pathSeparator + "weights-converter/src/main/java", "-subpackages", "dev.puppetengine");
        String text = said.toString(StandardCharsets.UTF_8);
        assertEquals(0, rc, text);
        assertTrue(text.lines().noneMatch(l -> l.contains("warning:") || l.contains("error:")), text);
    }
}
