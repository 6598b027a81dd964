package dev.puppetengine.io.pickle;

/** Resolves BINPERSID ids (torch storages) against the container the pickle came from. */
@FunctionalInterface
interface PersistentLoader {
    Object load(Object pid) throws PickleException;
}
