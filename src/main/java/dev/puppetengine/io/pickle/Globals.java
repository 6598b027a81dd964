package dev.puppetengine.io.pickle;

/** What GLOBAL/STACK_GLOBAL and BUILD may do: the only way a pickle reaches anything beyond plain data. */
interface Globals {
    /** The value a global names: a {@link PickleCallable} or a marker value; anything not allow-listed throws. */
    Object find(String module, String name) throws PickleException;

    /** Applies BUILD's {@code state} to {@code target}, or throws when that is not supported. */
    void build(Object target, Object state) throws PickleException;
}
