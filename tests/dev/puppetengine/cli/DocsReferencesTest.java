package dev.puppetengine.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What README.md and docs/*.md point at still exists, where that needs no judgement: markdown links to in-repo files
 * (and their #anchors, as GitHub makes them from headings), backticked in-repo paths (`kernels/...`, `docs/...`,
 * `src/...`; placeholders with {@code <}, {@code *}, {@code ...} or capitals such as NAME are left alone), every
 * {@code docs/runs/...} log cited by its full name, and every {@code --option} on a command line of
 * {@code ./puppet-engine COMMAND} (or {@code $P COMMAND}, as docs/TOY-MODEL.md writes it) being an option of that
 * command, as are those of README.md's inline {@code `COMMAND --option`} spans. docs/runs/ itself (dated raw logs) is
 * not checked. Reads a few files, no model: well under a second.
 */
class DocsReferencesTest {
    private static final Pattern LINK = Pattern.compile("\\[[^\\]\\n]*]\\(([^)\\s]+)\\)");
    private static final Pattern RUN_LOG = Pattern.compile("docs/runs/[A-Za-z0-9_.-]+\\.(?:txt|log|json|jsonl|csv)");
    private static final Pattern BACKTICKED = Pattern.compile("`([^`\\n]+)`");
    private static final Pattern IN_REPO = Pattern.compile("(?:\\./)?(?:docs|kernels|src|tests|models|examples|weights-converter|\\.ci)(?:/[A-Za-z0-9_.-]+)*/?");
    private static final Pattern OPTION = Pattern.compile("(?<![\\w-])--[a-z][a-z0-9-]*");

    static List<Path> documents() throws IOException {
        List<Path> docs = new ArrayList<>(List.of(Path.of("README.md")));
        try (Stream<Path> s = Files.list(Path.of("docs"))) {
            s.filter(p -> p.toString().endsWith(".md")).sorted().forEach(docs::add);
        }
        return docs;
    }

    @Test
    void linksPathsAndRunLogsResolve() throws IOException {
        List<String> stale = new ArrayList<>();
        for (Path doc : documents()) stale.addAll(missingReferences(doc, Files.readString(doc)));
        assertTrue(stale.isEmpty(), "stale references (rename them in the text, or restore the file):\n" + String.join("\n", stale));
    }

    @Test
    void commandLinesUseTheCommandsOptions() throws IOException {
        CommandLine main = new CommandLine(new Main());
        List<String> stale = new ArrayList<>();
        for (Path doc : documents()) stale.addAll(unknownOptions(main, doc, Files.readString(doc)));
        assertTrue(stale.isEmpty(), "options a command does not have:\n" + String.join("\n", stale));
    }

    @Test
    void theChecksFailOnPlantedStaleReferences() {
        Path readme = Path.of("README.md");
        String planted = "See [the notes](docs/NO-SUCH.md) and [CUDA graphs](docs/CUDA.md#no-such-heading),"
                + " `kernels/no_such_kernel.cu`, `docs/runs/2026-01-01-no-such-log.txt`.\n"
                + "```\n./puppet-engine sample --image x.png --no-such-option --out o.gif\n```\n"
                + "`train --dtype bf16` is fine, `train --no-such-flag` is not; `docs/runs/<date>-*.txt` and `kernels/NAME.cu` are placeholders.\n";
        List<String> missing = missingReferences(readme, planted);
        assertTrue(missing.size() == 4 && missing.stream().anyMatch(s -> s.contains("NO-SUCH.md"))
                && missing.stream().anyMatch(s -> s.contains("#no-such-heading")) && missing.stream().anyMatch(s -> s.contains("no_such_kernel.cu"))
                && missing.stream().anyMatch(s -> s.contains("no-such-log.txt")), String.join("\n", missing));
        List<String> unknown = unknownOptions(new CommandLine(new Main()), readme, planted);
        assertTrue(unknown.size() == 2 && unknown.get(0).contains("sample --no-such-option") && unknown.get(1).contains("train --no-such-flag"),
                String.join("\n", unknown));
    }

    /** "doc:line: what" for each link, anchor, backticked path or run log of {@code text} that does not resolve. */
    static List<String> missingReferences(Path doc, String text) {
        List<String> stale = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String where = doc + ":" + (i + 1) + ": ";
            Matcher l = LINK.matcher(lines[i]);
            while (l.find()) {
                String target = l.group(1);
                if (target.matches("^[a-z]+:.*")) continue;   // http:, mailto:
                int hash = target.indexOf('#');
                Path file = hash == 0 ? doc : doc.resolveSibling(hash < 0 ? target : target.substring(0, hash)).normalize();
                if (!Files.exists(file)) stale.add(where + "link to " + target + ": no " + file);
                else if (hash >= 0 && file.toString().endsWith(".md") && !anchors(file).contains(target.substring(hash + 1)))
                    stale.add(where + "link to " + target + ": no such heading in " + file);
            }
            Matcher r = RUN_LOG.matcher(lines[i]);
            while (r.find()) if (!Files.exists(Path.of(r.group()))) stale.add(where + r.group() + " does not exist");
            Matcher b = BACKTICKED.matcher(lines[i]);
            while (b.find()) {
                for (String token : b.group(1).split("[\\s,;()]+")) {
                    if (!IN_REPO.matcher(token).matches() || token.startsWith("docs/runs/") || token.contains("...") || token.matches(".*/[A-Z_]+(\\.\\w+)?/?$")) continue;
                    if (!Files.exists(Path.of(token))) stale.add(where + token + " does not exist");
                }
            }
        }
        return stale;
    }

    /** The anchors GitHub gives the headings of a markdown file: lower case, punctuation dropped, spaces as dashes. */
    static List<String> anchors(Path md) {
        try {
            return Pattern.compile("^#+\\s+(.*)$", Pattern.MULTILINE).matcher(Files.readString(md)).results()
                    .map(m -> m.group(1).trim().toLowerCase(Locale.ROOT).replaceAll("[^\\p{L}\\p{N} _-]", "").replace(' ', '-'))
                    .collect(Collectors.toList());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * "doc:line: command --option" for each option on a {@code ./puppet-engine COMMAND} (or {@code $P COMMAND}) line of
     * {@code text} (a line ending in a backslash goes on) and, in README.md, in a {@code `COMMAND --option`} span, that
     * COMMAND does not have. A subcommand (bench gemm) is taken when the next word names one.
     */
    static List<String> unknownOptions(CommandLine main, Path doc, String text) {
        List<String> stale = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        for (int i = lines.length - 1; i > 0; i--)   // a continued line joins the one before; line numbers stay
            if (lines[i - 1].endsWith("\\")) { lines[i - 1] = lines[i - 1].substring(0, lines[i - 1].length() - 1) + " " + lines[i]; lines[i] = ""; }
        Pattern invocation = Pattern.compile("(?:\\./puppet-engine|\\$P)\\s+([a-z][a-z-]*)((?:\\s+[a-z][a-z-]*)?)([^`;|&#\\n]*)");
        Pattern span = Pattern.compile("`([a-z][a-z-]*)((?:\\s+[a-z][a-z-]*)?)(\\s+--[^`]*)`");
        for (int i = 0; i < lines.length; i++) {
            List<Matcher> found = new ArrayList<>(List.of(invocation.matcher(lines[i])));
            if (doc.getFileName().toString().equals("README.md")) found.add(span.matcher(lines[i]));
            for (Matcher m : found) {
                while (m.find()) {
                    CommandLine cmd = main.getSubcommands().get(m.group(1));
                    if (cmd == null) continue;   // not a command: a span such as `mvn --version`
                    String rest = m.group(3);
                    String sub = m.group(2).trim();
                    if (!sub.isEmpty()) {
                        if (cmd.getSubcommands().containsKey(sub)) cmd = cmd.getSubcommands().get(sub);
                        else rest = m.group(2) + rest;
                    }
                    Matcher o = OPTION.matcher(rest);
                    while (o.find())
                        if (!cmd.getCommandSpec().optionsMap().containsKey(o.group()))
                            stale.add(doc + ":" + (i + 1) + ": " + cmd.getCommandName() + " " + o.group());
                }
            }
        }
        return stale;
    }
}
