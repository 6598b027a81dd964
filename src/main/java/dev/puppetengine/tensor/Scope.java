package dev.puppetengine.tensor;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Owns tensors for a lexical region. Every tensor created while a scope is current on this thread is
 * registered with it; closing the scope closes them (returns their memory to the allocator). A result
 * that must outlive the region is moved to the enclosing scope with {@link #escape(Tensor)}.
 *
 * <pre>
 * try (Scope s = Scope.open()) {
 *     Tensor h = ...;               // freed when s closes
 *     return Scope.escape(result);  // now owned by the enclosing scope
 * }
 * </pre>
 *
 * A long-lived scope (model parameters, optimizer state) is made with {@link #detached()} and entered with
 * {@link #use()} while creating what it should own. Scopes are confined to their thread: one opened there, and the
 * tensors any scope owns, are closed there too (else refused); a detached one may be closed by whoever owns it.
 *
 * <p>Work on device tensors inside a scope: an operation that fails after allocating its output (out of memory for
 * a second output, a failed launch) leaves that output to the current scope; with none open, nothing can free it.
 */
public final class Scope implements AutoCloseable {
    private static final ThreadLocal<Deque<Scope>> STACK = ThreadLocal.withInitial(ArrayDeque::new);

    private final Set<Tensor> owned = new LinkedHashSet<>(); // Tensor has identity equality
    private final Thread thread = Thread.currentThread();
    private final boolean stacked;   // opened: on its thread's stack until closed, and only that thread can take it off
    private boolean closed;

    private Scope(boolean stacked) { this.stacked = stacked; }

    /** Opens a scope and makes it current until it is closed. */
    public static Scope open() {
        Scope s = new Scope(true);
        STACK.get().push(s);
        return s;
    }

    /** A scope that is not current; enter it with {@link #use()}. Close it when its owner goes away. */
    public static Scope detached() {
        return new Scope(false);
    }

    /** The innermost open scope of this thread, or null. */
    public static Scope current() {
        return STACK.get().peek();
    }

    /** Makes this (detached) scope current until the returned handle is closed. */
    public Use use() {
        checkOpen();
        STACK.get().push(this);
        return new Use(this);
    }

    /**
     * Runs {@code make} with this (detached) scope current, as an owner's constructor fills it; when {@code make} throws
     * (out of memory part-way), closes this scope first, freeing what it had made: the owner never exists to be closed.
     */
    public void fill(Runnable make) {
        try (Use u = use()) {
            make.run();
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    /** Re-entry of a scope; closing it only leaves the scope (its tensors stay). */
    public static final class Use implements AutoCloseable {
        private final Scope scope;
        private boolean done;

        private Use(Scope scope) { this.scope = scope; }

        @Override
        public void close() {
            if (done) return;
            Deque<Scope> st = STACK.get();
            // refused before it is marked done: else the close in order that follows did nothing, and the scope stayed
            // current on this thread for good (every tensor made there after registered with it)
            if (st.peek() != scope) throw new IllegalStateException("scopes closed out of order");
            done = true;
            st.pop();
        }
    }

    void register(Tensor t) {
        checkOpen();
        owned.add(t);
        t.owner = this;
    }

    /**
     * Moves {@code t} from the current scope to the enclosing one (or to no scope). A tensor the current
     * scope does not own already outlives it and is returned unchanged.
     */
    public static Tensor escape(Tensor t) {
        Deque<Scope> st = STACK.get();
        Scope cur = st.peek();
        if (cur == null || t.owner != cur) return t;
        var it = st.iterator();
        it.next();
        return t.moveTo(it.hasNext() ? it.next() : null);
    }

    void forget(Tensor t) {
        checkThread();   // the set is this thread's: another's removal races its registrations
        owned.remove(t);
    }

    public int size() { return owned.size(); }

    public boolean isClosed() { return closed; }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("scope is closed");
        checkThread();
    }

    private void checkThread() {
        if (Thread.currentThread() != thread) throw new IllegalStateException("scope used from another thread");
    }

    @Override
    public void close() {
        if (closed) return;
        if (stacked) checkThread();   // closed elsewhere it would stay current here, closed, refusing every tensor after
        Deque<Scope> st = STACK.get();
        if (st.peek() == this) st.pop();
        else if (st.contains(this)) throw new IllegalStateException("scopes closed out of order");
        closed = true;
        Tensor[] all = owned.toArray(new Tensor[0]);
        owned.clear();
        for (int i = all.length - 1; i >= 0; i--) {
            all[i].owner = null;
            all[i].close();
        }
    }
}
