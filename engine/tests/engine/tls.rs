//! Encrypted database connections against real servers, and the plain-language errors of
//! each way TLS can fail.
//!
//! - PostgreSQL (127.0.0.1:5432) has `ssl = on` with Debian's self-signed "snakeoil"
//!   certificate, which names `localhost` only.
//! - MariaDB on 3306 has TLS off.
//! - `scripts/mariadb-tls.sh` starts (once) a second MariaDB with TLS on, whose certificate
//!   is signed by a test CA and names `localhost` only.
//! - `scripts/postgres-tls-only.sh` starts (once) a second PostgreSQL that refuses plain
//!   connections.

use crate::common::*;
use hakobu_core::config::DbEndpoint;
use hakobu_core::config::{Tls, TlsMode};
use hakobu_core::job::checks::CheckOperator;
use hakobu_engine::check::{self, Connection, DbKind, ErrorKind};
use std::time::Duration;

const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

fn tls(mode: TlsMode, ca: Option<&str>) -> Tls {
    Tls {
        mode,
        ca_certificate: ca.map(str::to_owned),
    }
}

fn pg(host: &str, db: &str, tls: Tls) -> Connection {
    Connection {
        endpoint: DbEndpoint {
            kind: DbKind::Postgresql,
            host: host.into(),
            port: None,
            user: "postgres".into(),
            password: None,
            database: db.into(),
            tls,
            ssh: None,
        },
        timeout: Duration::from_secs(10),
    }
}

fn my(host: &str, port: u16, db: &str, tls: Tls) -> Connection {
    Connection {
        endpoint: DbEndpoint {
            kind: DbKind::Mysql,
            host: host.into(),
            port: Some(port),
            user: "root".into(),
            password: None,
            database: db.into(),
            tls,
            ssh: None,
        },
        timeout: Duration::from_secs(10),
    }
}

/// Whether the server says this session is encrypted.
async fn encrypted(c: &Connection) -> bool {
    let sql = match c.endpoint.kind {
        DbKind::Postgresql => "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        DbKind::Mysql => {
            "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_version'"
        }
    };
    let r = check::data_check(c, sql, CheckOperator::Ne, "", false)
        .await
        .unwrap();
    let value = r.actual.unwrap_or_default();
    value == "true" || value.starts_with("TLS")
}

/// The TLS MariaDB's port and CA file, starting it when it is not running.
fn tls_mariadb() -> (u16, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/mariadb-tls.sh");
    let out = std::process::Command::new("bash")
        .arg(script)
        .output()
        .expect("run scripts/mariadb-tls.sh");
    assert!(
        out.status.success(),
        "scripts/mariadb-tls.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let port = lines.next().unwrap().parse().unwrap();
    (port, lines.next().unwrap().to_owned())
}

/// The port of the PostgreSQL that accepts only TLS, starting it when it is not running.
fn tls_only_postgres() -> u16 {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/postgres-tls-only.sh"
    );
    let out = std::process::Command::new("bash")
        .arg(script)
        .output()
        .expect("run scripts/postgres-tls-only.sh");
    assert!(
        out.status.success(),
        "scripts/postgres-tls-only.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_that_requires_tls_is_named_so_not_a_wrong_password() {
    let port = tls_only_postgres();
    let at = |tls| {
        let mut c = pg("127.0.0.1", "postgres", tls);
        c.endpoint.port = Some(port);
        c
    };
    let e = check::check(&at(Tls::disabled())).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::TlsRequired, "{e:?}");
    assert!(e.to_string().contains("requires an encrypted"), "{e}");
    // The same server with TLS is fine, and prefer finds its way there too.
    check::check(&at(tls(TlsMode::Require, None)))
        .await
        .unwrap();
    assert!(encrypted(&at(tls(TlsMode::Prefer, None))).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_encrypts_in_require_and_prefer_and_not_in_disable() {
    let c = pg("127.0.0.1", "postgres", tls(TlsMode::Require, None));
    check::check(&c).await.unwrap();
    assert!(encrypted(&c).await, "require");
    let c = pg("127.0.0.1", "postgres", tls(TlsMode::Prefer, None));
    assert!(
        encrypted(&c).await,
        "prefer uses TLS when the server offers it"
    );
    let c = pg("127.0.0.1", "postgres", Tls::disabled());
    assert!(!encrypted(&c).await, "disable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_verify_modes_check_the_certificate() {
    // The public authorities did not sign the self-signed snakeoil certificate.
    let e = check::check(&pg("127.0.0.1", "postgres", tls(TlsMode::VerifyFull, None)))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::CertificateNotTrusted, "{e}");
    assert!(e.message.contains("certificate not trusted"), "{e}");
    assert!(
        !e.message.contains("InvalidCertificate"),
        "plain words: {e}"
    );

    // Trusted, but it names localhost, not 127.0.0.1.
    let e = check::check(&pg(
        "127.0.0.1",
        "postgres",
        tls(TlsMode::VerifyFull, Some(SNAKEOIL)),
    ))
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::HostNameMismatch, "{e}");
    assert!(
        e.message.contains(
            "host name mismatch: the server's certificate is for localhost, not 127.0.0.1"
        ),
        "{e}"
    );

    let c = pg(
        "localhost",
        "postgres",
        tls(TlsMode::VerifyFull, Some(SNAKEOIL)),
    );
    check::check(&c).await.unwrap();
    assert!(encrypted(&c).await);

    // verify-ca checks the signer only; the CA also works as PEM text.
    let pem = std::fs::read_to_string(SNAKEOIL).unwrap();
    let c = pg("127.0.0.1", "postgres", tls(TlsMode::VerifyCa, Some(&pem)));
    check::check(&c).await.unwrap();
    assert!(encrypted(&c).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_ca_certificate_is_named_as_such() {
    let bad = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
    let e = check::check(&pg(
        "127.0.0.1",
        "postgres",
        tls(TlsMode::VerifyFull, Some(bad)),
    ))
    .await
    .unwrap_err();
    assert!(e.message.contains("ssl_ca_certificate"), "{e}");
    let e = check::check(&pg(
        "127.0.0.1",
        "postgres",
        tls(TlsMode::VerifyCa, Some("/nonexistent/ca.pem")),
    ))
    .await
    .unwrap_err();
    assert!(
        e.message
            .contains("ssl_ca_certificate: cannot read \"/nonexistent/ca.pem\""),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_without_tls_says_so_and_prefer_falls_back() {
    let (db, _my) = mysql_db().await;
    let e = check::check(&my(
        "127.0.0.1",
        3306,
        &db.name,
        tls(TlsMode::Require, None),
    ))
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::TlsNotOffered, "{e}");
    assert!(e.message.contains("the server does not offer TLS"), "{e}");
    let c = my("127.0.0.1", 3306, &db.name, tls(TlsMode::Prefer, None));
    check::check(&c).await.unwrap();
    assert!(!encrypted(&c).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mariadb_user_that_requires_ssl_is_told_to_use_tls_not_a_wrong_password() {
    let (port, _ca) = tls_mariadb();
    // `hakobu_tls_only` is created by scripts/mariadb-tls.sh with REQUIRE SSL.
    let mut c = my("127.0.0.1", port, "mysql", tls(TlsMode::Disable, None));
    c.endpoint.user = "hakobu_tls_only".into();
    let e = check::check(&c).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::TlsRequired, "{e}");
    assert!(e.message.contains("only over TLS"), "{e}");
    c.endpoint.tls = tls(TlsMode::Require, None);
    check::check(&c).await.unwrap();
    // A wrong password stays a wrong password.
    let mut c = my("127.0.0.1", port, "mysql", tls(TlsMode::Disable, None));
    c.endpoint.user = "hakobu_no_such_user".into();
    assert_eq!(
        check::check(&c).await.unwrap_err().kind,
        ErrorKind::WrongPassword
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_with_tls_encrypts_and_checks_the_certificate() {
    let (port, ca) = tls_mariadb();
    for mode in [TlsMode::Prefer, TlsMode::Require] {
        let c = my("127.0.0.1", port, "mysql", tls(mode, None));
        check::check(&c).await.unwrap();
        assert!(encrypted(&c).await, "{mode}");
    }
    let e = check::check(&my(
        "127.0.0.1",
        port,
        "mysql",
        tls(TlsMode::VerifyFull, None),
    ))
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::CertificateNotTrusted, "{e}");
    let e = check::check(&my(
        "127.0.0.1",
        port,
        "mysql",
        tls(TlsMode::VerifyFull, Some(&ca)),
    ))
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::HostNameMismatch, "{e}");
    assert!(e.message.contains("is for localhost, not 127.0.0.1"), "{e}");
    for (host, mode) in [
        ("localhost", TlsMode::VerifyFull),
        ("127.0.0.1", TlsMode::VerifyCa),
    ] {
        let c = my(host, port, "mysql", tls(mode, Some(&ca)));
        check::check(&c).await.unwrap();
        assert!(encrypted(&c).await, "{host} {mode}");
    }
    // Another authority's certificate does not vouch for this server.
    let e = check::check(&my(
        "127.0.0.1",
        port,
        "mysql",
        tls(TlsMode::VerifyCa, Some(SNAKEOIL)),
    ))
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::CertificateNotTrusted, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_run_over_verified_tls_on_both_ends() {
    let (port, ca) = tls_mariadb();
    let (db, client) = postgres_db().await;
    client
        .batch_execute("CREATE TABLE src (id bigint PRIMARY KEY, note text); INSERT INTO src SELECT g, 'n' || g FROM generate_series(1, 500) g")
        .await
        .unwrap();
    let yaml = format!(
        "{}{}",
        pg_in(
            &db.name,
            &format!("table: src\nssl_mode: verify-ca\nssl_ca_certificate: {SNAKEOIL}\n"),
        ),
        pg_out(&db.name, "table: dst\nmode: replace\nssl: true\n")
            .replace("host: 127.0.0.1", "host: localhost")
    );
    let summary = run(&yaml).await.unwrap();
    assert_eq!(summary.rows_written, 500);
    assert_eq!(
        pg_checksum(&client, "dst", "id").await,
        pg_checksum(&client, "src", "id").await
    );

    // PostgreSQL -> the TLS MariaDB, checked against its CA (Embulk-style JDBC options).
    let my_db = format!("{}_tls", db.name);
    let yaml = format!(
        "{}out:\n  type: mysql\n  host: localhost\n  port: {port}\n  user: root\n  database: mysql\n  table: {my_db}\n  mode: replace\n  options: {{sslMode: VERIFY_IDENTITY, sslrootcert: {ca}}}\n",
        pg_in(&db.name, "table: src\nssl_mode: require\n"),
    );
    let summary = run(&yaml).await.unwrap();
    assert_eq!(summary.rows_written, 500);
    let back = my(
        "localhost",
        port,
        "mysql",
        tls(TlsMode::VerifyFull, Some(&ca)),
    );
    let r = check::data_check(
        &back,
        &format!("SELECT COUNT(*) FROM {my_db}"),
        CheckOperator::Eq,
        "500",
        false,
    )
    .await
    .unwrap();
    let status = std::process::Command::new("mariadb")
        .args([
            "-h",
            "127.0.0.1",
            "-P",
            &port.to_string(),
            "-uroot",
            "--ssl",
            "--skip-ssl-verify-server-cert",
            "mysql",
            "-e",
        ])
        .arg(format!("DROP TABLE IF EXISTS {my_db}"))
        .status()
        .unwrap();
    assert!(status.success());
    assert!(r.passed, "{r:?}");

    // A verify failure stops the run with the same plain words.
    let yaml = format!(
        "{}{}",
        pg_in(&db.name, "table: src\nssl_mode: verify-full\n"),
        pg_out(&db.name, "table: dst2\n")
    );
    let e = format!("{:#}", run(&yaml).await.unwrap_err());
    assert!(
        e.contains("cannot connect to PostgreSQL at 127.0.0.1:5432")
            && e.contains("certificate not trusted"),
        "{e}"
    );
}
