package dev.puppetengine.backend.cuda;

import jcuda.driver.CUresult;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Return-code checking: every driver call goes through {@link #check}, so no error is silently dropped; and JCuda's
 * native-library errors in one line.
 */
final class Cu {
    private Cu() {}

    private static final Pattern LOADER = Pattern.compile("(\\S+\\.so[.\\d]*): cannot open shared object file");
    /** JCuda extracts its library into java.io.tmpdir: the file it could not write, the folder it could not make, the copy it could not map. */
    private static final Pattern TMPDIR = Pattern.compile("(?m)^java\\.io\\.FileNotFoundException: (\\S+ \\([^)]+\\))$"
            + "|^java\\.io\\.IOException: Could not create directory for temporary file: (.+)$|(\\S+\\.so): failed to map segment from shared object");

    /**
     * Why a JCuda binding did not load, in one line: JCuda's message holds a page of nested stack traces (one per way
     * it tried), the loader's reason deep inside. The library the loader could not open where it says so
     * ("libcublas.so.12: cannot open shared object file"), or the temporary directory JCuda could not put it in,
     * else the message's first line.
     */
    static String linkFailure(LinkageError e) {
        String all = messages(e);
        Matcher t = TMPDIR.matcher(all);
        if (t.find())
            return (t.group(1) != null ? "could not write " + t.group(1) : t.group(2) != null ? "could not make " + t.group(2)
                    : "could not load " + t.group(3) + " (failed to map segment from shared object: a noexec mount?)")
                    + ": java.io.tmpdir must be a writable directory that allows executables (TMPDIR=DIR ./puppet-engine ...)";
        Matcher m = LOADER.matcher(all);
        return m.find() ? m.group(1) + ": cannot open shared object file" : all.lines().findFirst().orElse("");
    }

    /** The messages of {@code e} and its causes, a line apart. */
    static String messages(Throwable e) {
        StringBuilder all = new StringBuilder();
        for (Throwable c = e; c != null; c = c.getCause()) all.append(c.getMessage()).append('\n');
        return all.toString();
    }

    static void check(int rc, String call) {
        if (rc != CUresult.CUDA_SUCCESS) {
            if (rc == CUresult.CUDA_ERROR_OUT_OF_MEMORY) throw new CudaOutOfMemoryError(call + " failed: CUDA_ERROR_OUT_OF_MEMORY");
            throw new CudaException(call + " failed: " + CUresult.stringFor(rc) + " (" + rc + ")");
        }
    }
}
