package dev.puppetengine.cli;

/** A problem with this machine, not the input (no usable GPU): printed as one line, exit code 1. */
public final class EnvironmentError extends RuntimeException {
    public EnvironmentError(String message, Throwable cause) {
        super(message, cause);
    }
}
