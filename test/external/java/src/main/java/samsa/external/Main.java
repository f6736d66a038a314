package samsa.external;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Arrays;

/**
 * Entry point shared by our programs: {@code Main <program> args...}. Each
 * program prints what it verified on stdout, one fact a line, in a form the
 * Go test (test/external/java_test.go) compares exactly. Any failed check or
 * exception prints "FAILED: ..." on stderr and exits 1.
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        int code = 0;
        try {
            if (args.length == 0) {
                throw new Check.Failure("usage: Main produce|consume|admin|group|errors|txn ...");
            }
            String[] rest = Arrays.copyOfRange(args, 1, args.length);
            switch (args[0]) {
                case "produce" -> Produce.run(rest);
                case "consume" -> Consume.run(rest);
                case "admin" -> Admin.run(rest);
                case "group" -> Group.run(rest);
                case "errors" -> Errors.run(rest);
                case "txn" -> Txn.run(rest);
                default -> throw new Check.Failure("unknown program " + args[0]);
            }
        } catch (Throwable e) {
            StringWriter sw = new StringWriter();
            e.printStackTrace(new PrintWriter(sw));
            System.out.flush();
            System.err.println("FAILED: " + e);
            System.err.print(sw);
            code = 1;
        }
        System.out.flush();
        // A client thread left running must not keep the JVM (and the test) alive.
        System.exit(code);
    }
}
