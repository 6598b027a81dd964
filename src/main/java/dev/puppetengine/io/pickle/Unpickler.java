package dev.puppetengine.io.pickle;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * An interpreter of the pickle opcodes torch checkpoints use (ARCHITECTURE.md 7.1) and nothing more: no
 * opcode can import or run code; globals resolve only through an allow list ({@link Globals}) and only
 * allow-listed reconstructors can be called by REDUCE.
 *
 * <p>Object model: None is null, bool Boolean, int Long (BigInteger beyond 64 bits), float Double, str
 * String, bytes byte[], list a mutable {@code ArrayList}, tuple an unmodifiable List, dict a LinkedHashMap,
 * set a LinkedHashSet. Every read is bounds-checked, and every object costs at least one input byte, so
 * memory stays proportional to the input size.
 */
final class Unpickler {
    private static final int MAX_PROTOCOL = 5;
    /** Names of the supported opcodes, for messages. */
    private static final String[] NAMES = new String[256];

    static {
        op(0x80, "PROTO"); op(0x95, "FRAME"); op('.', "STOP"); op('(', "MARK"); op('N', "NONE"); op(0x88, "NEWTRUE"); op(0x89, "NEWFALSE");
        op('K', "BININT1"); op('M', "BININT2"); op('J', "BININT"); op(0x8a, "LONG1"); op('G', "BINFLOAT");
        op(0x8c, "SHORT_BINUNICODE"); op('X', "BINUNICODE"); op('U', "SHORT_BINSTRING"); op('C', "SHORT_BINBYTES"); op('B', "BINBYTES");
        op(')', "EMPTY_TUPLE"); op(0x85, "TUPLE1"); op(0x86, "TUPLE2"); op(0x87, "TUPLE3"); op('t', "TUPLE");
        op(']', "EMPTY_LIST"); op('a', "APPEND"); op('e', "APPENDS"); op('}', "EMPTY_DICT"); op('d', "DICT"); op('s', "SETITEM");
        op('u', "SETITEMS"); op(0x8f, "EMPTY_SET"); op(0x90, "ADDITEMS"); op('q', "BINPUT"); op('r', "LONG_BINPUT"); op(0x94, "MEMOIZE");
        op('h', "BINGET"); op('j', "LONG_BINGET"); op('c', "GLOBAL"); op(0x93, "STACK_GLOBAL"); op('R', "REDUCE"); op('b', "BUILD");
        op('Q', "BINPERSID");
    }

    private static void op(int code, String name) {
        NAMES[code] = name;
    }

    private final ByteBuffer in;
    private final String source;
    private final Globals globals;
    private final PersistentLoader persistent;
    private final ArrayList<Object> stack = new ArrayList<>();
    private final ArrayList<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();
    private int opPos;
    private String opName;

    /**
     * Reads from {@code in}'s position; after {@link #load()} the position is just past STOP, so consecutive
     * pickles in one stream can be read with new Unpicklers. {@code persistent} may be null (BINPERSID then fails).
     */
    Unpickler(ByteBuffer in, String source, Globals globals, PersistentLoader persistent) {
        this.in = in.order(ByteOrder.LITTLE_ENDIAN);
        this.source = source;
        this.globals = globals;
        this.persistent = persistent;
    }

    Object load() throws IOException {
        while (true) {
            if (!in.hasRemaining()) throw error("truncated pickle: input ends at byte " + in.position() + " before STOP");
            opPos = in.position();
            int op = in.get() & 0xff;
            opName = NAMES[op];
            switch (op) {
                case 0x80: { int v = u8(); if (v > MAX_PROTOCOL) throw error("unsupported pickle protocol " + v); break; }
                case 0x95: { need(8); long n = in.getLong(); if (n < 0 || n > in.remaining()) throw truncated(n); break; }
                case '.': return stop();
                case '(': marks.add(stack.size()); break;
                case 'N': stack.add(null); break;
                case 0x88: stack.add(Boolean.TRUE); break;
                case 0x89: stack.add(Boolean.FALSE); break;
                case 'K': { stack.add((long) u8()); break; }
                case 'M': { need(2); stack.add((long) (in.getShort() & 0xffff)); break; }
                case 'J': { need(4); stack.add((long) in.getInt()); break; }
                case 0x8a: { stack.add(long1(u8())); break; }
                case 'G': { need(8); stack.add(Double.longBitsToDouble(Long.reverseBytes(in.getLong()))); break; }  // big-endian
                case 0x8c: { stack.add(utf8(u8())); break; }
                case 'X': { stack.add(utf8(u32())); break; }
                case 'U': { stack.add(utf8(u8())); break; }
                case 'C': { stack.add(bytes(u8())); break; }
                case 'B': { stack.add(bytes(u32())); break; }
                case ')': stack.add(tuple(List.of())); break;
                case 0x85: { stack.add(tuple(popN(1))); break; }
                case 0x86: { stack.add(tuple(popN(2))); break; }
                case 0x87: { stack.add(tuple(popN(3))); break; }
                case 't': { stack.add(tuple(popMark())); break; }
                case ']': stack.add(new ArrayList<>()); break;
                case 'a': { Object v = pop(); list().add(v); break; }
                case 'e': { List<Object> items = popMark(); list().addAll(items); break; }
                case '}': stack.add(new LinkedHashMap<>()); break;
                case 'd': { Map<Object, Object> m = new LinkedHashMap<>(); putPairs(m, popMark()); stack.add(m); break; }
                case 's': { Object v = pop(); Object k = key(pop()); dict().put(k, v); break; }
                case 'u': { List<Object> items = popMark(); putPairs(dict(), items); break; }
                case 0x8f: stack.add(new LinkedHashSet<>()); break;
                case 0x90: { List<Object> items = popMark(); for (Object o : items) key(o); set().addAll(items); break; }
                case 'q': { memo.put((long) u8(), top()); break; }
                case 'r': { memo.put(u32l(), top()); break; }
                case 0x94: { memo.put((long) memo.size(), top()); break; }
                case 'h': { stack.add(memoGet(u8())); break; }
                case 'j': { stack.add(memoGet(u32l())); break; }
                case 'c': { String module = line(); String name = line(); stack.add(globals.find(module, name)); break; }
                case 0x93: { String name = string(pop()); String module = string(pop()); stack.add(globals.find(module, name)); break; }
                case 'R': { reduce(); break; }
                case 'b': { Object state = pop(); globals.build(top(), state); break; }
                case 'Q': { persid(); break; }
                default:
                    throw error(String.format(Locale.ROOT, "unsupported pickle opcode 0x%02x%s at byte %d", op,
                            op >= 0x20 && op < 0x7f ? " '" + (char) op + "'" : "", opPos));
            }
        }
    }

    private Object stop() throws PickleException {
        Object result = pop();
        if (!stack.isEmpty() || !marks.isEmpty())
            throw error("malformed pickle: " + stack.size() + " values and " + marks.size() + " marks left at STOP");
        return result;
    }

    private void reduce() throws IOException {
        Object args = pop();
        Object fn = pop();
        if (!(fn instanceof PickleCallable))
            throw error("REDUCE of " + PickleException.describe(fn) + ": only allow-listed reconstructors can be called");
        if (!(args instanceof List)) throw error("REDUCE arguments must be a tuple, found " + PickleException.describe(args));
        @SuppressWarnings("unchecked")
        List<Object> list = (List<Object>) args;
        stack.add(((PickleCallable) fn).call(list));
    }

    private void persid() throws PickleException {
        Object pid = pop();
        if (persistent == null) throw error("BINPERSID (persistent id " + PickleException.describe(pid) + ") in a pickle without a storage table");
        stack.add(persistent.load(pid));
    }

    // ---- stack helpers --------------------------------------------------------------------------------

    private Object pop() throws PickleException {
        int floor = marks.isEmpty() ? 0 : marks.get(marks.size() - 1);
        if (stack.size() <= floor) throw error("malformed pickle: stack underflow at byte " + opPos + " (" + opName + ")");
        return stack.remove(stack.size() - 1);
    }

    private Object top() throws PickleException {
        Object v = pop();
        stack.add(v);
        return v;
    }

    private List<Object> popN(int n) throws PickleException {
        Object[] items = new Object[n];
        for (int i = n - 1; i >= 0; i--) items[i] = pop();
        return Arrays.asList(items);
    }

    private List<Object> popMark() throws PickleException {
        if (marks.isEmpty()) throw error("malformed pickle: no MARK before " + opName + " at byte " + opPos);
        int m = marks.remove(marks.size() - 1);
        List<Object> items = new ArrayList<>(stack.subList(m, stack.size()));
        stack.subList(m, stack.size()).clear();
        return items;
    }

    @SuppressWarnings("unchecked")
    private List<Object> list() throws PickleException {
        Object t = top();
        if (!(t instanceof ArrayList)) throw error(opName + " on " + PickleException.describe(t) + ", expected a list");
        return (List<Object>) t;
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dict() throws PickleException {
        Object t = top();
        if (!(t instanceof Map)) throw error(opName + " on " + PickleException.describe(t) + ", expected a dict");
        return (Map<Object, Object>) t;
    }

    @SuppressWarnings("unchecked")
    private Set<Object> set() throws PickleException {
        Object t = top();
        if (!(t instanceof Set)) throw error(opName + " on " + PickleException.describe(t) + ", expected a set");
        return (Set<Object>) t;
    }

    private void putPairs(Map<Object, Object> m, List<Object> items) throws PickleException {
        if (items.size() % 2 != 0) throw error(opName + " with an odd number (" + items.size() + ") of keys and values");
        for (int i = 0; i < items.size(); i += 2) m.put(key(items.get(i)), items.get(i + 1));
    }

    /**
     * Dict keys and set items must be scalars or flat tuples of scalars: what checkpoints use, and it keeps
     * hashing shallow (a hostile list that contains itself would otherwise hash forever).
     */
    private Object key(Object k) throws PickleException {
        if (isScalar(k) || (k instanceof List<?> t && !(k instanceof ArrayList) && t.stream().allMatch(Unpickler::isScalar))) return k;
        throw error(opName + " with key " + PickleException.describe(k) + ": keys must be str, int, float, bool, None or flat tuples of them");
    }

    private static boolean isScalar(Object o) {
        return o == null || o instanceof String || o instanceof Long || o instanceof BigInteger || o instanceof Double || o instanceof Boolean;
    }

    private Object memoGet(long key) throws PickleException {
        if (!memo.containsKey(key)) throw error("malformed pickle: memo entry " + key + " used before it was defined (" + opName + " at byte " + opPos + ")");
        return memo.get(key);
    }

    private static List<Object> tuple(List<Object> items) {
        return Collections.unmodifiableList(new ArrayList<>(items));
    }

    // ---- input helpers --------------------------------------------------------------------------------

    private void need(long n) throws PickleException {
        if (n > in.remaining()) throw truncated(n);
    }

    private PickleException truncated(long n) {
        return error("truncated pickle: " + opName + " at byte " + opPos + " needs " + n + " bytes, " + in.remaining() + " left");
    }

    private int u8() throws PickleException {
        need(1);
        return in.get() & 0xff;
    }

    private long u32l() throws PickleException {
        need(4);
        return in.getInt() & 0xffffffffL;
    }

    private int u32() throws PickleException {
        long n = u32l();
        need(n);
        return (int) n;
    }

    private byte[] bytes(int n) throws PickleException {
        need(n);
        byte[] b = new byte[n];
        in.get(b);
        return b;
    }

    private String utf8(int n) throws PickleException {
        byte[] b = bytes(n);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw error("malformed pickle: invalid UTF-8 in " + opName + " at byte " + opPos);
        }
    }

    /** A newline-terminated ASCII line (GLOBAL's module and name). */
    private String line() throws PickleException {
        StringBuilder sb = new StringBuilder();
        while (true) {
            int c = u8();
            if (c == '\n') return sb.toString();
            if (c < 0x20 || c >= 0x7f) throw error("malformed pickle: non-ASCII byte in GLOBAL name at byte " + (in.position() - 1));
            sb.append((char) c);
        }
    }

    /** LONG1: n bytes of little-endian two's complement. */
    private Object long1(int n) throws PickleException {
        byte[] le = bytes(n);
        if (n == 0) return 0L;
        byte[] be = new byte[n];
        for (int i = 0; i < n; i++) be[i] = le[n - 1 - i];
        BigInteger v = new BigInteger(be);
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    private String string(Object o) throws PickleException {
        if (!(o instanceof String)) throw error(opName + " needs strings, found " + PickleException.describe(o));
        return (String) o;
    }


    private PickleException error(String problem) {
        return new PickleException(source, problem);
    }
}
