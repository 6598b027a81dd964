package dev.puppetengine.pipeline;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.ToolProvider;
import java.io.StringWriter;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * README's "Embedded Java API" example, taken from README.md as it stands, compiles against the engine and runs: with
 * 2 steps instead of its 25 and the GIF written to a temporary folder, it writes a GIF. Every engine package is
 * imported, so the README needs no import lines; a class or method the example names and the engine lacks fails here.
 */
class ReadmeJavaExampleTest {
    @Test
    void readmeExampleCompilesAndWritesItsGif(@TempDir Path dir) throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        Matcher m = Pattern.compile("## Embedded Java API\\s+```java\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        assertTrue(m.find(), "README.md: no ```java block under '## Embedded Java API'");
        Path gif = dir.resolve("out.gif");
        String body = replaceOnce(replaceOnce(m.group(1), "Path.of(\"out.gif\")", "Path.of(\"" + gif.toString().replace("\\", "\\\\") + "\")"),
                ".withSteps(25)", ".withSteps(2)");

        Path classes = Path.of(PuppetMaster.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        String imports;
        try (Stream<Path> s = Files.walk(classes.resolve("dev/puppetengine"))) {
            imports = s.filter(Files::isDirectory)
                    .filter(d -> { try (Stream<Path> f = Files.list(d)) { return f.anyMatch(p -> p.toString().endsWith(".class")); } catch (Exception e) { throw new RuntimeException(e); } })
                    .map(d -> "import " + classes.relativize(d).toString().replace(File.separatorChar, '.') + ".*;")
                    .sorted().collect(Collectors.joining("\n"));
        }
        String source = imports + "\nimport java.nio.file.*;\nimport java.util.*;\n"
                + "public class ReadmeExample {\n    public static void run() throws Exception {\n" + body + "    }\n}\n";
        Path src = dir.resolve("src/ReadmeExample.java"), out = dir.resolve("classes");
        Files.createDirectories(src.getParent());
        Files.createDirectories(out);
        Files.writeString(src, source);

        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertNotNull(javac, "no Java compiler in this runtime (a JRE, not a JDK?)");
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        try (var files = javac.getStandardFileManager(diagnostics, null, StandardCharsets.UTF_8)) {
            boolean ok = javac.getTask(new StringWriter(), files, diagnostics,
                    List.of("-classpath", System.getProperty("java.class.path"), "-d", out.toString()), null,
                    files.getJavaFileObjects(src)).call();
            assertTrue(ok, "README.md's Java example does not compile:\n" + diagnostics.getDiagnostics().stream()
                    .map(d -> "line " + d.getLineNumber() + ": " + d.getMessage(null)).collect(Collectors.joining("\n")) + "\n" + source);
        }
        try (URLClassLoader loader = new URLClassLoader(new URL[]{out.toUri().toURL()}, getClass().getClassLoader())) {
            loader.loadClass("ReadmeExample").getMethod("run").invoke(null);
        }
        byte[] head = Arrays.copyOf(Files.readAllBytes(gif), 6);
        assertArrayEquals("GIF89a".getBytes(StandardCharsets.US_ASCII), head, "the example's output is not a GIF");
    }

    /** {@code text} with its one occurrence of {@code what} replaced; the README must still contain it exactly once. */
    private static String replaceOnce(String text, String what, String with) {
        int at = text.indexOf(what);
        assertTrue(at >= 0, "README's Java example no longer contains " + what + " (this test shortens the run there)");
        assertEquals(-1, text.indexOf(what, at + 1), "README's Java example contains " + what + " twice");
        return text.substring(0, at) + with + text.substring(at + what.length());
    }
}
