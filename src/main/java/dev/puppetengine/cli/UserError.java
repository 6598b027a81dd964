package dev.puppetengine.cli;

import java.util.function.Supplier;

/** A problem with the user's input (file, option, value): printed as one line, exit code 2. */
public final class UserError extends RuntimeException {
    public UserError(String message) {
        super(message);
    }

    public UserError(String message, Throwable cause) {
        super(message, cause);
    }

    /** What {@code parse} makes of an option's value, or its IllegalArgumentException as a UserError naming the option. */
    public static <T> T naming(String option, Supplier<T> parse) {
        try {
            return parse.get();
        } catch (IllegalArgumentException e) {
            throw new UserError(option + ": " + Main.message(e));
        }
    }
}
