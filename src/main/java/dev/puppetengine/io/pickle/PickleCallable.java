package dev.puppetengine.io.pickle;

import java.io.IOException;
import java.util.List;

/** An allow-listed reconstructor that REDUCE may call with its argument tuple. */
@FunctionalInterface
interface PickleCallable {
    Object call(List<Object> args) throws IOException;
}
