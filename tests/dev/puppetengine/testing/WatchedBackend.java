package dev.puppetengine.testing;

import dev.puppetengine.backend.Backend;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;

/** A backend whose every call goes through {@code handler} first: tests record the calls, or answer some themselves. */
public final class WatchedBackend {
    private WatchedBackend() {}

    /** Sees one call; {@code next} runs it on the wrapped backend. */
    public interface Handler {
        Object call(Method m, Object[] args, Next next) throws Throwable;
    }

    public interface Next {
        Object run() throws Throwable;
    }

    public static Backend of(Backend target, Handler handler) {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[]{Backend.class}, (proxy, m, args) ->
                handler.call(m, args, () -> {
                    try {
                        return m.invoke(target, args);
                    } catch (InvocationTargetException e) {   // the backend's own exception, not the reflection wrapper
                        throw e.getCause();
                    }
                }));
    }
}
