package dev.puppetengine.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The ./puppet-engine launcher, building: a signal to it stops the whole build, not only the launcher's shell; a build that changes nothing is not repeated. */
class LauncherTest {
    @ParameterizedTest
    @CsvSource({"TERM, 143", "INT, 130", "HUP, 129"})   // 128 + the signal, as the shell reports a process it ended
    void aSignalDuringTheBuildStopsTheBuildsChildren(String signal, int expectedCode, @TempDir Path dir) throws Exception {
        Path launcher = dir.resolve("puppet-engine"), bin = Files.createDirectories(dir.resolve("bin"));
        Files.copy(Path.of("puppet-engine"), launcher);
        // a stand-in for mvn whose child (like nvcc under Maven) would finish the build's work after the signal: once the
        // test says "go" (after the launcher is gone), not after a time, which a busy machine could let pass before the
        // signal; it gives up unfinished after a minute, not to outlive a test that failed before saying "go"
        Path mvn = bin.resolve("mvn");
        Files.writeString(mvn, "#!/bin/sh\ntouch started\n"
                + "(i=0; while [ ! -e go ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done; if [ -e go ]; then touch finished; fi) &\nwait\n");
        for (Path p : new Path[]{launcher, mvn}) Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        // the signal at its default, as in a user's shell: a job started in the background (a CI run under nohup, say) starts
        // with INT and HUP ignored, and bash can neither trap nor reset a signal ignored on entry
        assumeTrue(new ProcessBuilder("env", "--default-signal=" + signal, "bash", "-c", "true").start().waitFor() == 0,
                "env --default-signal (coreutils 8.31+) and bash (the launcher's shell) are needed");
        ProcessBuilder pb = new ProcessBuilder("env", "--default-signal=" + signal, "bash", launcher.toString(), "--help").redirectErrorStream(true)
                .redirectOutput(dir.resolve("log.txt").toFile());   // no target/puppet-engine.jar there: it builds
        pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
        Process p = pb.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (p.isAlive() && !Files.exists(dir.resolve("started")) && System.nanoTime() < deadline) Thread.sleep(10);
        assertTrue(p.isAlive() && Files.exists(dir.resolve("started")), Files.readString(dir.resolve("log.txt")));
        awaitTraps(p.pid(), signal);
        assertEquals(0, new ProcessBuilder("kill", "-" + signal, Long.toString(p.pid())).start().waitFor());
        assertTrue(p.waitFor(10, TimeUnit.SECONDS), "the launcher did not exit on SIG" + signal);
        assertEquals(expectedCode, p.exitValue(), Files.readString(dir.resolve("log.txt")));
        Files.createFile(dir.resolve("go"));
        Thread.sleep(2000);   // a child still running sees "go" within 50 ms
        assertFalse(Files.exists(dir.resolve("finished")), "the build's child kept running after the launcher's SIG" + signal);
    }

    /**
     * A source newer than the jar builds once: when the build leaves the jar as it was (Maven finds it up to date, as
     * after a kernel source is touched where nvcc is absent), the next launch does not build again.
     */
    @Test
    void aBuildThatChangesNothingIsNotRepeated(@TempDir Path dir) throws Exception {
        Path launcher = dir.resolve("puppet-engine"), bin = Files.createDirectories(dir.resolve("bin"));
        Files.copy(Path.of("puppet-engine"), launcher);
        Files.writeString(bin.resolve("mvn"), "#!/bin/sh\necho build >> builds\nmkdir -p target/lib\n[ -f target/puppet-engine.jar ] || touch target/puppet-engine.jar\n");
        Files.writeString(bin.resolve("java"), "#!/bin/sh\necho ran\n");
        for (Path p : new Path[]{launcher, bin.resolve("mvn"), bin.resolve("java")}) Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path cu = Files.createDirectories(dir.resolve("kernels")).resolve("a.cu");
        Files.writeString(cu, "");
        Files.writeString(dir.resolve("pom.xml"), "");
        long now = System.currentTimeMillis();
        for (Path p : new Path[]{cu, dir.resolve("pom.xml")}) Files.setLastModifiedTime(p, FileTime.fromMillis(now - 600_000));
        for (int run = 1; run <= 3; run++) {
            if (run == 2) {   // the jar older than a kernel source: one build
                Files.setLastModifiedTime(dir.resolve("target/puppet-engine.jar"), FileTime.fromMillis(now - 300_000));
                Files.setLastModifiedTime(cu, FileTime.fromMillis(now - 100_000));
            }
            ProcessBuilder pb = new ProcessBuilder("bash", launcher.toString(), "--help").redirectErrorStream(true).redirectOutput(dir.resolve("log.txt").toFile());
            pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
            pb.environment().remove("JAVA_OPTS");
            Process p = pb.start();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), Files.readString(dir.resolve("log.txt")));
            assertTrue(Files.readString(dir.resolve("log.txt")).contains("ran"));
            assertEquals(run == 1 ? 1 : 2, Files.readAllLines(dir.resolve("builds")).size(), "builds after launch " + run);
        }
    }

    /** A PATH folder of links to every command on this machine's PATH but java, javac and mvn (a machine without them). */
    private static Path systemWithoutJava(Path dir) throws Exception {
        Path tools = Files.createDirectories(dir.resolve("system"));
        for (String d : System.getenv("PATH").split(":")) {
            if (!Files.isDirectory(Path.of(d))) continue;
            try (var files = Files.list(Path.of(d))) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    String n = f.getFileName().toString();
                    if (!List.of("java", "javac", "mvn").contains(n) && Files.notExists(tools.resolve(n), LinkOption.NOFOLLOW_LINKS)) Files.createSymbolicLink(tools.resolve(n), f);
                }
            }
        }
        return tools;
    }

    /** A checkout at dir/pe that is not built, with the stand-ins {@code scripts} (name, then its sh body) in dir/bin. */
    private static Path unbuiltCheckout(Path dir, String... scripts) throws Exception {
        Path root = Files.createDirectories(dir.resolve("pe")), bin = Files.createDirectories(dir.resolve("bin"));
        Files.copy(Path.of("puppet-engine"), root.resolve("puppet-engine"));
        Files.writeString(root.resolve("pom.xml"), "");
        for (int i = 0; i < scripts.length; i += 2) {
            Files.writeString(bin.resolve(scripts[i]), "#!/bin/sh\n" + scripts[i + 1] + "\n");
            Files.setPosixFilePermissions(bin.resolve(scripts[i]), PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        return root;
    }

    /** Runs dir/pe/puppet-engine --help from dir/pe with PATH dir/bin then the system without java and mvn; its exit code and output. */
    private static String[] firstRun(Path dir, Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("bash", "./puppet-engine", "--help").directory(dir.resolve("pe").toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("log.txt").toFile());
        pb.environment().put("PATH", dir.resolve("bin") + ":" + systemWithoutJava(dir));
        pb.environment().remove("JAVA_OPTS");
        pb.environment().remove("JAVA_HOME");
        pb.environment().putAll(env);
        Process p = pb.start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        return new String[]{String.valueOf(p.exitValue()), Files.readString(dir.resolve("log.txt"))};
    }

    private static final String JAVA_17 = "case \"$1\" in -version) echo 'openjdk version \"17.0.15\" 2025-04-15' >&2;; *) echo ran;; esac";

    /** Without Maven a first run says what to install in one line; the shell's "mvn: not found" was followed by "run 'mvn ...' to see why". */
    @Test
    void withoutMavenTheFirstRunSaysToInstallIt(@TempDir Path dir) throws Exception {
        Path root = unbuiltCheckout(dir, "java", JAVA_17);
        String[] ran = firstRun(dir, Map.of());
        assertEquals("1", ran[0], ran[1]);
        assertEquals("[puppet-engine] needs Maven 3.6.3+ on PATH to build " + root.resolve("target/puppet-engine.jar") + " on first use: install it"
                + " (apt install maven / brew install maven), or build elsewhere (mvn -DskipTests package) and copy target/ here\n", ran[1]);
    }

    /** Without java on PATH nothing is built (Maven's own script said only that JAVA_HOME was "not defined correctly"). */
    @Test
    void withoutJavaNothingIsBuilt(@TempDir Path dir) throws Exception {
        unbuiltCheckout(dir, "mvn", "echo build >> ../builds; echo 'The JAVA_HOME environment variable is not defined correctly,'; exit 1");
        String[] ran = firstRun(dir, Map.of());
        assertEquals("1", ran[0], ran[1]);
        assertEquals("[puppet-engine] needs Java 17 or newer, and there is no java on PATH: install a JDK 17+ (apt install openjdk-17-jdk"
                + " / brew install openjdk@17) and put its bin on PATH\n", ran[1]);
        assertFalse(Files.exists(dir.resolve("builds")), "Maven started");
    }

    /** A java older than 17 on PATH (one without a release file: its -version, a JVM start only when building) is named before Maven fails on it. */
    @Test
    void anOlderJavaIsNamedBeforeBuilding(@TempDir Path dir) throws Exception {
        unbuiltCheckout(dir, "java", "case \"$1\" in -version) echo 'openjdk version \"11.0.21\" 2023-10-17' >&2;; *) echo ran;; esac",
                "mvn", "echo build >> ../builds; echo '[ERROR] Fatal error compiling: error: release version 17 not supported'; exit 1");
        String[] ran = firstRun(dir, Map.of());
        assertEquals("1", ran[0], ran[1]);
        assertEquals("[puppet-engine] needs Java 17 or newer; found 11.0.21 at " + dir.resolve("bin/java") + ": install a JDK 17+ and put its bin first on PATH\n", ran[1]);
        assertFalse(Files.exists(dir.resolve("builds")), "Maven started");
    }

    /**
     * Where the jar is built and the java on PATH is older than 17 (which fails on it with UnsupportedClassVersionError),
     * its JDK's release file says so without a JVM start; a 17 runs the jar as before.
     */
    @Test
    void aBuiltJarIsNotRunOnAnOlderJava(@TempDir Path dir) throws Exception {
        Path root = unbuiltCheckout(dir);
        Files.createDirectories(root.resolve("target/lib"));
        Files.createFile(root.resolve("target/puppet-engine.jar"));
        for (String version : new String[]{"11.0.21", "17.0.15"}) {
            Path jdk = Files.createDirectories(dir.resolve("jdk-" + version + "/bin"));
            Files.writeString(jdk.resolveSibling("release"), "IMPLEMENTOR=\"X\"\nJAVA_VERSION=\"" + version + "\"\n");
            Files.writeString(jdk.resolve("java"), "#!/bin/sh\necho 'Error: LinkageError occurred while loading main class' >&2; exit 1\n");
            if (version.startsWith("17")) Files.writeString(jdk.resolve("java"), "#!/bin/sh\necho ran\n");
            Files.setPosixFilePermissions(jdk.resolve("java"), PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.deleteIfExists(dir.resolve("bin/java"));
            Files.createSymbolicLink(dir.resolve("bin/java"), jdk.resolve("java"));   // as /usr/bin/java is a link into the JDK
            String[] ran = firstRun(dir, Map.of());
            assertEquals(version.startsWith("17") ? "ran\n" : "[puppet-engine] needs Java 17 or newer; found 11.0.21 at "
                    + dir.resolve("bin/java") + ": install a JDK 17+ and put its bin first on PATH\n", ran[1]);
            assertEquals(version.startsWith("17") ? "0" : "1", ran[0]);
        }
    }

    /** After a failed build, Maven's output, then one line on the cause a first build meets; Maven's Java named from mvn -v. */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "The JAVA_HOME environment variable is not defined correctly,|/opt/no-such-jdk|Maven needs JAVA_HOME to be a JDK 17+, and JAVA_HOME=/opt/no-such-jdk has no bin/java: correct it, or unset it to build with the java on PATH",
        "[ERROR] No compiler is provided in this environment. Perhaps you are running on a JRE rather than a JDK?|/jre|Maven runs on a JRE, without javac (Java 17.0.2 at /jre): point JAVA_HOME at a JDK 17+ (apt install openjdk-17-jdk-headless)",
        "[ERROR] Fatal error compiling: error: release version 17 not supported|/jre|needs Java 17 or newer to build; Maven runs Java 17.0.2 at /jre: point JAVA_HOME at a JDK 17+",
        "[ERROR] Plugin org.codehaus.mojo:build-helper-maven-plugin:3.6.0 or one of its dependencies could not be resolved: Cannot access central (https://repo.maven.apache.org/maven2) in offline mode|/jre"
            + "|Maven could not download the build's plugins and libraries: the first build needs Maven Central (https://repo.maven.apache.org), directly or through a proxy or mirror set in ~/.m2/settings.xml, or a ~/.m2/repository that holds them",
        "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-compiler-plugin:3.13.0:compile (default-compile) on project puppet-engine: The plugin org.apache.maven.plugins:maven-compiler-plugin:3.13.0 requires Maven version 3.6.3 -> [Help 1]|/jre"
            + "|needs Maven 3.6.3 or newer; found 3.6.0: install a newer Maven (https://maven.apache.org/download.cgi)",
        "[ERROR] something else|/jre|build failed (its output is above and in TARGET/build.log): run 'mvn -DskipTests package' to see more"})
    void aFailedBuildSaysWhy(String mavenSays, String javaHome, String line, @TempDir Path dir) throws Exception {
        Path root = unbuiltCheckout(dir, "java", JAVA_17, "mvn", "if [ \"$2\" = -v ]; then echo 'Apache Maven 3.6.0 (97c98ec64a1fdfee7767ce5ffb20918da4f719f3; 2018-10-24T18:41:47Z)'; echo 'Java version: 17.0.2, vendor: X, runtime: " + javaHome + "'; exit 0; fi\n"
                + "echo '" + mavenSays.replace("'", "'\\''") + "'; exit 1");
        String[] ran = firstRun(dir, Map.of("JAVA_HOME", javaHome));
        assertEquals("1", ran[0], ran[1]);
        assertEquals("[puppet-engine] building (first run or sources changed)...\n" + mavenSays + "\n[puppet-engine] "
                + (line.startsWith("build failed") ? "" : "build failed: ") + line.replace("TARGET", root.resolve("target").toString()) + "\n", ran[1]);
    }

    /**
     * A build interrupted after Maven wrote the jar, while it copied target/lib (jar and lib there, lib incomplete), is
     * built again on the next launch; before, that launch ran the incomplete jar.
     */
    @Test
    void anInterruptedBuildIsDoneAgain(@TempDir Path dir) throws Exception {
        unbuiltCheckout(dir, "java", JAVA_17, "mvn", "echo build >> ../builds\n[ -f ../first ] && { mkdir -p target/lib; touch target/puppet-engine.jar; exit 0; }\n"
                + "touch ../first; mkdir -p target/lib; touch target/puppet-engine.jar target/lib/half.jar; touch ../started; exec sleep 30");
        ProcessBuilder pb = new ProcessBuilder("bash", "./puppet-engine", "--help").directory(dir.resolve("pe").toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("first.txt").toFile());
        pb.environment().put("PATH", dir.resolve("bin") + ":" + systemWithoutJava(dir));
        Process p = pb.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (p.isAlive() && !Files.exists(dir.resolve("started")) && System.nanoTime() < deadline) Thread.sleep(10);
        awaitTraps(p.pid(), "TERM");
        p.destroy();   // SIGTERM
        assertTrue(p.waitFor(10, TimeUnit.SECONDS));
        assertEquals(143, p.exitValue(), Files.readString(dir.resolve("first.txt")));
        String[] ran = firstRun(dir, Map.of());
        assertEquals("0", ran[0], ran[1]);
        assertEquals("[puppet-engine] building (first run or sources changed)...\nran\n", ran[1]);
        assertEquals(2, Files.readAllLines(dir.resolve("builds")).size());
        assertEquals("ran\n", firstRun(dir, Map.of())[1], "a finished build is not repeated");
    }

    /** A checkout at {@code root} whose jar is built (no source newer), with stand-ins: a java that prints its arguments one a line, an mvn that fails. */
    private static Path builtCheckout(Path root) throws Exception {
        return builtCheckout(root, "#!/bin/sh\nfor a in \"$@\"; do echo \"arg<$a>\"; done\n");
    }

    /** The same, with {@code java} as the stand-in java's script; returns the stand-ins' folder. */
    private static Path builtCheckout(Path root, String java) throws Exception {
        Path bin = Files.createDirectories(root.resolve("stand-ins"));
        Files.copy(Path.of("puppet-engine"), root.resolve("puppet-engine"));
        Files.createDirectories(root.resolve("target/lib"));
        Files.createFile(root.resolve("target/puppet-engine.jar"));
        Files.writeString(bin.resolve("java"), java);
        Files.writeString(bin.resolve("mvn"), "#!/bin/sh\necho \"a build ran in $PWD\"; exit 1\n");   // never the real one
        for (Path p : new Path[]{root.resolve("puppet-engine"), bin.resolve("java"), bin.resolve("mvn")}) Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        return bin;
    }

    /** What the launcher at {@code launcher} (as typed, from {@code cwd}) ran java with, given {@code env}; fails unless it ran it. */
    private static String launch(Path cwd, String launcher, Path bin, Map<String, String> env, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("bash", launcher));
        cmd.addAll(List.of(args));
        Path log = Files.createTempFile(cwd, "log", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
        pb.environment().remove("JAVA_OPTS");
        pb.environment().keySet().removeIf(k -> k.startsWith("LC_"));
        pb.environment().putAll(env);
        Process p = pb.start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        String out = Files.readString(log);
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    /**
     * Under a folder with a space, a quote and braces, started by a relative path with CDPATH exported (as some
     * shell profiles do: cd then prints where it went, and the launcher's root was two lines), the jar runs with the
     * checkout as its home and each argument whole.
     */
    @Test
    void runsUnderAnOddPathWithCdpathExported(@TempDir Path dir) throws Exception {
        Path root = Files.createDirectories(dir.resolve("Bob's {work} files/pe"));
        Path bin = builtCheckout(root);
        String out = launch(dir, "Bob's {work} files/pe/puppet-engine", bin, Map.of("CDPATH", "."), "sample", "--out", "my video.gif");
        assertTrue(out.contains("arg<-Dpuppetengine.home=" + root + ">\narg<-jar>\narg<" + root.resolve("target/puppet-engine.jar") + ">\n"
                + "arg<sample>\narg<--out>\narg<my video.gif>\n"), out);
    }

    /** Started through links (~/bin/puppet-engine, one relative link to another), it runs the checkout's jar, not a build where the link is. */
    @Test
    void aLinkToTheLauncherRunsTheCheckout(@TempDir Path dir) throws Exception {
        Path root = Files.createDirectories(dir.resolve("src dir/pe"));
        Path bin = builtCheckout(root);
        Path links = Files.createDirectories(dir.resolve("home/bin")), tools = Files.createDirectories(dir.resolve("home/tools"));
        Files.createSymbolicLink(tools.resolve("pe"), tools.relativize(root.resolve("puppet-engine")));
        Files.createSymbolicLink(links.resolve("puppet-engine"), Path.of("../tools/pe"));
        String out = launch(dir, links.resolve("puppet-engine").toString(), bin, Map.of(), "--help");
        assertTrue(out.contains("arg<-Dpuppetengine.home=" + root + ">\narg<-jar>\narg<" + root.resolve("target/puppet-engine.jar") + ">\n"), out);
    }

    /**
     * Under the C/POSIX locale (containers, cron, env -i) Java 17 reads file names and arguments as ASCII and refuses
     * a path with any other character ("Malformed input or input contains unmappable characters"): the launcher gives
     * the JVM C.UTF-8 there, which spells ASCII the same.
     */
    @Test
    void theJvmReadsPathsAsUtf8UnderTheCLocale(@TempDir Path dir) throws Exception {
        assumeTrue(charmap(Map.of("LC_ALL", "C.UTF-8")).equals("UTF-8"), "no C.UTF-8 locale here");
        Path root = Files.createDirectories(dir.resolve("pe"));
        Path bin = builtCheckout(root);
        // the stand-in runs the real JVM, which says how it decodes file names
        Files.writeString(bin.resolve("java"), "#!/bin/sh\nexec \"$REAL_JAVA\" -XshowSettings:properties -version\n");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String out = launch(dir, root.resolve("puppet-engine").toString(), bin, Map.of("LANG", "C", "REAL_JAVA", java), "sample", "--image", "caf\u00e9.png");
        assertTrue(out.contains("sun.jnu.encoding = UTF-8"), out);
    }

    /** The charset of the locale that {@code env} (without the caller's LC_ variables) chooses, as {@code locale charmap} says it. */
    private static String charmap(Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("locale", "charmap").redirectError(ProcessBuilder.Redirect.DISCARD);
        pb.environment().keySet().removeIf(k -> k.startsWith("LC_"));
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes()).strip();
        return p.waitFor() == 0 ? out : "";
    }

    /**
     * A shared install (another user's checkout, a read-only mount) is not rebuilt by its users: with a source newer than
     * the jar, the jar runs as built after a one-line note; with no jar, one line says who can build it. Neither starts
     * Maven, whose build would fail on target/ (and on a home without ~/.m2) in a screenful of errors.
     */
    @Test
    void anUnwritableCheckoutRunsItsJarWithoutBuilding(@TempDir Path dir) throws Exception {
        Path root = Files.createDirectories(dir.resolve("install")), launcher = root.resolve("puppet-engine"), bin = Files.createDirectories(dir.resolve("bin"));
        Files.copy(Path.of("puppet-engine"), launcher);
        Files.writeString(bin.resolve("mvn"), "#!/bin/sh\necho build >> " + dir.resolve("builds") + "\n");
        Files.writeString(bin.resolve("java"), "#!/bin/sh\necho ran\n");
        Path jar = Files.createDirectories(root.resolve("target/lib")).resolveSibling("puppet-engine.jar");
        Files.writeString(jar, "");
        Files.setLastModifiedTime(jar, FileTime.fromMillis(System.currentTimeMillis() - 600_000));
        Files.writeString(root.resolve("pom.xml"), "");   // newer than the jar: stale
        for (Path p : new Path[]{launcher, bin.resolve("mvn"), bin.resolve("java")}) Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        for (Path p : new Path[]{dir, bin}) Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxrwxrwx"));
        for (Path p : new Path[]{root.resolve("target"), root}) Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("r-xr-xr-x"));
        String[] ran = unprivileged(dir, launcher, bin);
        assertEquals("0", ran[0], ran[1]);
        assertEquals("[puppet-engine] note: the sources are newer than " + jar + ", which cannot be rebuilt here (" + root.resolve("target")
                + " is not writable): running it as built\nran\n", ran[1]);
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(root.resolve("target"), PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.delete(jar);
        for (Path p : new Path[]{root.resolve("target"), root}) Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("r-xr-xr-x"));
        ran = unprivileged(dir, launcher, bin);
        assertEquals("1", ran[0], ran[1]);
        assertEquals("[puppet-engine] " + jar + " is not built and " + root.resolve("target") + " is not writable: the checkout's owner builds it"
                + " (mvn -DskipTests package)\n", ran[1]);
        assertFalse(Files.exists(dir.resolve("builds")), "Maven started");
        for (Path p : new Path[]{root, root.resolve("target")}) Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));   // for @TempDir's cleanup
    }

    /**
     * The JVM's temporary files go to a directory of the user's own ($TMPDIR, else /tmp, /puppet-engine-UID, mode 700):
     * JCuda extracts its JNI libraries into java.io.tmpdir under fixed names and loads a file already there whoever left
     * it, which in a shared /tmp is another user's code. One that is not the user's alone is not used; JAVA_OPTS can
     * still name another.
     */
    @Test
    void temporaryFilesGoToADirectoryOfTheUsersOwn(@TempDir Path dir) throws Exception {
        Path root = dir.resolve("install"), launcher = root.resolve("puppet-engine"), bin = builtCheckout(root, "#!/bin/sh\necho \"$@\"\n");
        String uid = new String(new ProcessBuilder("id", "-u").start().getInputStream().readAllBytes()).strip();
        Path shared = Files.createDirectory(dir.resolve("tmp")), own = shared.resolve("puppet-engine-" + uid);
        assertTrue(javaArgs(launcher, bin, shared, null).startsWith("-Djava.io.tmpdir=" + own + " -XX:MaxRAMPercentage=75 "));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(own)));
        assertTrue(javaArgs(launcher, bin, shared, "-Djava.io.tmpdir=/elsewhere").startsWith("-Djava.io.tmpdir=" + own + " -Djava.io.tmpdir=/elsewhere "),
                "JAVA_OPTS after it: the last -D is the JVM's");
        Files.setPosixFilePermissions(own, PosixFilePermissions.fromString("rwxrwxrwx"));   // another user could have put files there
        assertTrue(javaArgs(launcher, bin, shared, null).startsWith("-XX:MaxRAMPercentage=75 "));
        Files.delete(own);
        Files.createSymbolicLink(own, Files.createDirectory(dir.resolve("theirs")));   // a link someone made in /tmp
        Files.setPosixFilePermissions(dir.resolve("theirs"), PosixFilePermissions.fromString("rwx------"));
        assertTrue(javaArgs(launcher, bin, shared, null).startsWith("-XX:MaxRAMPercentage=75 "));
    }

    /**
     * Under an address-space limit (ulimit -v) the JVM did not start below about 4 GiB ("Could not allocate compressed
     * class space", a fatal error report): there the heap is a third of the limit and the JVM's other reservations small.
     */
    @Test
    void anAddressSpaceLimitSizesTheJvm(@TempDir Path dir) throws Exception {
        Path root = dir.resolve("install"), launcher = root.resolve("puppet-engine"), bin = builtCheckout(root, "#!/bin/sh\necho \"MALLOC_ARENA_MAX=$MALLOC_ARENA_MAX $@\"\n");
        for (String limit : new String[]{"unlimited", "3000000"}) {
            ProcessBuilder pb = new ProcessBuilder("bash", "-c", "ulimit -v " + limit + " && exec bash \"$0\" --help", launcher.toString()).redirectErrorStream(true);
            pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
            pb.environment().remove("JAVA_OPTS");
            pb.environment().remove("MALLOC_ARENA_MAX");
            pb.environment().put("TMPDIR", dir.resolve("no-such-dir").toString());   // no -Djava.io.tmpdir: the options come first
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes());
            assertEquals(0, p.waitFor(), out);
            assertTrue(out.startsWith(limit.equals("unlimited") ? "MALLOC_ARENA_MAX= -XX:MaxRAMPercentage=75 "
                    : "MALLOC_ARENA_MAX=2 -Xmx1000000k -XX:CompressedClassSpaceSize=64m -XX:ReservedCodeCacheSize=64m "), limit + ": " + out);
        }
    }

    /** The arguments the launcher gives java (a stand-in that echoes them), with TMPDIR and JAVA_OPTS (null: unset). */
    private static String javaArgs(Path launcher, Path bin, Path tmpdir, String javaOpts) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("bash", launcher.toString(), "--help").redirectErrorStream(true);
        pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
        pb.environment().put("TMPDIR", tmpdir.toString());
        if (javaOpts != null) pb.environment().put("JAVA_OPTS", javaOpts);
        else pb.environment().remove("JAVA_OPTS");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), out);
        return out;
    }

    /** Runs the launcher with --help as a user who cannot write where root could (nobody, when the tests run as root); its exit code and output. */
    private static String[] unprivileged(Path dir, Path launcher, Path bin) throws Exception {
        boolean root = new String(new ProcessBuilder("id", "-u").start().getInputStream().readAllBytes()).strip().equals("0");
        assumeTrue(!root || new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "true").start().waitFor() == 0,
                "as root, setpriv (util-linux) is needed to run the launcher as a user the permissions apply to");
        List<String> cmd = new ArrayList<>(root ? List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups") : List.of());
        cmd.addAll(List.of("bash", launcher.toString(), "--help"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("log.txt").toFile()).directory(dir.toFile());
        pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
        Process p = pb.start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        return new String[]{String.valueOf(p.exitValue()), Files.readString(dir.resolve("log.txt"))};
    }

    /**
     * Waits for the launcher to have set its traps: it sets them right after starting the build, but a busy machine may
     * not run its shell for a while after the build's child touched "started", and a signal before the traps ends the
     * shell alone (exit 128 + the signal all the same), the build running on. On Linux the shell's caught signals
     * (SigCgt in /proc/PID/status) show its TERM trap, the first it sets (bash does not catch TERM on its own), and
     * for the HUP case its HUP trap (where the test runs under nohup, HUP is ignored on entry unless it is the signal
     * env resets, and an ignored signal cannot be trapped: it never shows); INT bash catches on its own, so INT says
     * nothing: the HUP and INT traps are the statements after TERM's, hence the short wait after. Elsewhere only that wait.
     */
    private static void awaitTraps(long pid, String signal) throws Exception {
        Path status = Path.of("/proc/" + pid + "/status");
        long wanted = 1L << (15 - 1) | (signal.equals("HUP") ? 1L << (1 - 1) : 0);   // SIGTERM, and SIGHUP for its case
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (Files.isReadable(status) && (caught(status) & wanted) != wanted) {
            assertTrue(System.nanoTime() < deadline, "the launcher set no " + (signal.equals("HUP") ? "TERM and HUP traps" : "TERM trap") + " in 30 s");
            Thread.sleep(10);
        }
        Thread.sleep(200);
    }

    /** The signals a process catches (the SigCgt mask of /proc/PID/status: bit n - 1 for signal n); 0 once it is gone. */
    private static long caught(Path status) {
        try {
            return Files.readAllLines(status).stream().filter(l -> l.startsWith("SigCgt:"))
                    .mapToLong(l -> Long.parseUnsignedLong(l.substring("SigCgt:".length()).trim(), 16)).findFirst().orElse(0);
        } catch (IOException e) {   // it ended meanwhile: the assertions after say how
            return 0;
        }
    }
}
