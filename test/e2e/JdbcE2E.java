// pgjdbc end-to-end checks for test/e2e/run.sh, run as a single-file program (one JVM for all cases):
//   TOKEN_A=... java -cp /usr/share/java/postgresql.jar test/e2e/JdbcE2E.java 'label|jdbc-url|user|TOKEN_A|ok' ...
// Each case is `label|url|user|password-env-var|expect`: the password is read from the named environment
// variable (tokens never go on argv); expect is `ok` (run SELECT 1, a server-side prepared statement past
// prepareThreshold, current_user) or a SQLSTATE the connection must fail with.
// Prints one `JDBC PASS <label>: …` or `JDBC FAIL <label>: …` line per case; exit 1 if any failed.
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

public class JdbcE2E {
  static String runOk(Connection conn) throws SQLException {
    try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SELECT 1")) {
      if (!rs.next() || rs.getInt(1) != 1) throw new IllegalStateException("SELECT 1 returned no 1");
    }
    int sum = 0;
    try (PreparedStatement ps = conn.prepareStatement("SELECT ?::int + 1")) {
      for (int i = 0; i < 8; i++) {
        ps.setInt(1, i);
        try (ResultSet rs = ps.executeQuery()) {
          if (!rs.next()) throw new IllegalStateException("prepared statement returned no row");
          sum += rs.getInt(1);
        }
      }
    }
    if (sum != 36) throw new IllegalStateException("prepared statement sum " + sum + " != 36");
    String user;
    try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SELECT current_user")) {
      rs.next();
      user = rs.getString(1);
    }
    return "select1 prepared sum=" + sum + " current_user=" + user + " server_version=" + conn.getMetaData().getDatabaseProductVersion();
  }

  static boolean runCase(String spec) {
    String[] f = spec.split("\\|", -1);
    if (f.length != 5) {
      System.out.println("JDBC FAIL " + spec + ": case must be label|url|user|password-env|expect");
      return false;
    }
    String label = f[0], url = f[1], user = f[2], expect = f[4];
    String password = System.getenv(f[3]);
    if (password == null || password.isEmpty()) {
      System.out.println("JDBC FAIL " + label + ": environment variable " + f[3] + " is empty");
      return false;
    }
    Properties props = new Properties();
    props.setProperty("user", user);
    props.setProperty("password", password);
    props.setProperty("connectTimeout", "10");
    try (Connection conn = DriverManager.getConnection(url, props)) {
      if (!expect.equals("ok")) {
        System.out.println("JDBC FAIL " + label + ": connected, expected SQLSTATE " + expect);
        return false;
      }
      System.out.println("JDBC PASS " + label + ": " + runOk(conn));
      return true;
    } catch (SQLException e) {
      String first = String.valueOf(e.getMessage()).split("\n")[0];
      if (expect.equals(e.getSQLState())) {
        System.out.println("JDBC PASS " + label + ": sqlstate=" + e.getSQLState() + " " + first);
        return true;
      }
      System.out.println("JDBC FAIL " + label + ": sqlstate=" + e.getSQLState() + " " + first);
      return false;
    } catch (RuntimeException e) {
      System.out.println("JDBC FAIL " + label + ": " + e);
      return false;
    }
  }

  public static void main(String[] args) {
    if (args.length == 0) {
      System.err.println("usage: JdbcE2E 'label|jdbc-url|user|password-env|expect' ...");
      System.exit(2);
    }
    boolean ok = true;
    for (String spec : args) ok &= runCase(spec);
    System.exit(ok ? 0 : 1);
  }
}
