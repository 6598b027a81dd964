package dev.puppetengine.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every command's --help renders as written: picocli formats descriptions with String.format, so a bare '%' (say
 * "10% of the clips") makes it print a warning to stderr and show the raw text. Renders the usage of every command
 * and subcommand with stderr captured.
 */
class HelpTextTest {
    private static void render(CommandLine cl, List<String> names) {
        names.add(cl.getCommandSpec().qualifiedName());
        assertTrue(cl.getUsageMessage().contains("Usage:"), cl.getCommandSpec().qualifiedName());
        for (CommandLine sub : cl.getSubcommands().values()) render(sub, names);
    }

    @Test
    void everyHelpTextRendersWithoutWarnings() {
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        List<String> names = new ArrayList<>();
        try {
            System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
            render(new CommandLine(new Main()), names);
        } finally {
            System.setErr(err);
        }
        assertTrue(names.size() > 15, "rendered only " + names);
        assertEquals("", captured.toString(StandardCharsets.UTF_8));
    }
}
