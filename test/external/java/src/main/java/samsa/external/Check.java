package samsa.external;

import java.util.Objects;

/** Assertions that stop the program with a message (Java's assert is off by default). */
final class Check {
    private Check() {}

    static final class Failure extends RuntimeException {
        Failure(String msg) {
            super(msg);
        }
    }

    static void that(boolean cond, String format, Object... args) {
        if (!cond) {
            throw new Failure(String.format(format, args));
        }
    }

    static void equal(Object got, Object want, String what) {
        if (!Objects.equals(got, want)) {
            throw new Failure(what + ": got " + got + ", want " + want);
        }
    }

    /** Returns the cause of type want of an ExecutionException or the like, or fails. */
    static <T extends Throwable> T cause(Throwable e, Class<T> want, String what) {
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (want.isInstance(c)) {
                return want.cast(c);
            }
        }
        throw new Failure(what + ": got " + e + ", want " + want.getSimpleName());
    }

    /** Prints one verified fact. */
    static void say(String format, Object... args) {
        System.out.println(String.format(format, args));
    }

    static long deadline(long millis) {
        return System.nanoTime() + millis * 1_000_000L;
    }

    static boolean before(long deadline) {
        return System.nanoTime() - deadline < 0;
    }
}
