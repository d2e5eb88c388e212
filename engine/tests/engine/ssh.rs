//! SSH tunnels: PostgreSQL and MariaDB reached through a real local sshd (testkit
//! [`Sshd`], one per test) forwarding to the local servers; ed25519, RSA (PEM) and
//! passphrase-protected keys; a key the bastion does not know and a changed host key
//! refused. The egress policy on the bastion's address is tested through the API
//! (`app/tests/api/tenant_boundary.rs`), where a probe worker has a policy.

use crate::common::*;
use hakobu_core::config::{DbEndpoint, Secret, SshTunnel, Tls};
use hakobu_engine::check::{self, Connection, DbKind, ErrorKind};
use hakobu_testkit::Sshd;
use mysql_async::prelude::Queryable;
use std::time::Duration;

fn tunnel(sshd: &Sshd, key: &str, pinned: Option<&str>) -> SshTunnel {
    SshTunnel {
        host: "127.0.0.1".into(),
        port: Some(sshd.port),
        user: sshd.user.clone(),
        private_key: Secret(key.to_owned()),
        private_key_passphrase: None,
        host_key_fingerprint: pinned.map(str::to_owned),
    }
}

/// A database behind the bastion: the host is as the bastion sees it (`localhost`,
/// which only the bastion resolves).
fn through(kind: DbKind, db: &str, ssh: SshTunnel) -> Connection {
    Connection {
        endpoint: DbEndpoint {
            kind,
            host: "localhost".into(),
            port: None,
            user: if kind == DbKind::Postgresql {
                "postgres"
            } else {
                "root"
            }
            .into(),
            password: None,
            database: db.into(),
            tls: Tls::disabled(),
            ssh: Some(ssh),
        },
        timeout: Duration::from_secs(10),
    }
}

/// The `ssh:` section of a config, indented under `in:`/`out:`.
fn ssh_yaml(sshd: &Sshd, key: &str) -> String {
    let key: String = key.lines().map(|l| format!("      {l}\n")).collect();
    format!(
        "ssh:\n  host: 127.0.0.1\n  port: {}\n  user: {}\n  host_key_fingerprint: \"{}\"\n  private_key: |\n{key}",
        sshd.port, sshd.user, sshd.host_key_fingerprint
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_through_a_tunnel_with_an_ed25519_key() {
    let sshd = Sshd::start();
    let (db, client) = postgres_db().await;
    client
        .batch_execute("CREATE TABLE src (id int PRIMARY KEY, name text); INSERT INTO src SELECT g, 'n' || g FROM generate_series(1, 1000) g")
        .await
        .unwrap();
    // The first test sees the key (nothing pinned) and reports it for pinning.
    let first = through(
        DbKind::Postgresql,
        &db.name,
        tunnel(&sshd, &sshd.ed25519_key, None),
    );
    let ok = check::check(&first).await.unwrap();
    let seen = ok
        .ssh_host_key
        .clone()
        .expect("the bastion's key is reported");
    assert_eq!(seen.fingerprint, sshd.host_key_fingerprint);
    assert_eq!(seen.algorithm, "ssh-ed25519");
    assert!(ok.server_version.starts_with("15"), "{ok:?}");
    // Pinned: discovery and previews go through the same tunnel.
    let pinned = through(
        DbKind::Postgresql,
        &db.name,
        tunnel(&sshd, &sshd.ed25519_key, Some(&sshd.host_key_fingerprint)),
    );
    assert!(
        check::list_tables(&pinned, "public")
            .await
            .unwrap()
            .items
            .contains(&"src".to_owned())
    );
    let preview = check::preview_table(&pinned, "public", "src", 5)
        .await
        .unwrap();
    assert_eq!(preview.rows.len(), 5);
    assert!(
        !format!("{pinned:?}").contains("PRIVATE KEY"),
        "Debug hides the key"
    );
    // A run: both the source and the destination through the bastion.
    let ssh = ssh_yaml(&sshd, &sshd.ed25519_key);
    let yaml = format!(
        "{}{}",
        pg_in(&db.name, &format!("table: src\n{ssh}"))
            .replace("host: 127.0.0.1\n  user", "host: localhost\n  user"),
        pg_out(&db.name, &format!("table: dst\nmode: replace\n{ssh}"))
    );
    let summary = run(&yaml).await.unwrap();
    assert_eq!(summary.rows_written, 1000, "{summary:?}");
    assert_eq!(
        pg_checksum(&client, "dst", "id").await,
        pg_checksum(&client, "src", "id").await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_through_a_tunnel_with_an_rsa_key() {
    let sshd = Sshd::start();
    assert!(sshd.rsa_key.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let (db, mut my) = mysql_db().await;
    my.query_drop("CREATE TABLE src (id INT PRIMARY KEY, name TEXT)")
        .await
        .unwrap();
    my.query_drop("INSERT INTO src SELECT seq, CONCAT('n', seq) FROM seq_1_to_500")
        .await
        .unwrap();
    let c = through(
        DbKind::Mysql,
        &db.name,
        tunnel(&sshd, &sshd.rsa_key, Some(&sshd.host_key_fingerprint)),
    );
    let ok = check::check(&c).await.unwrap();
    assert!(ok.server_version.contains("MariaDB"), "{ok:?}");
    assert_eq!(
        ok.ssh_host_key.unwrap().fingerprint,
        sshd.host_key_fingerprint
    );
    assert_eq!(
        check::preview_table(&c, &db.name, "src", 3)
            .await
            .unwrap()
            .rows
            .len(),
        3
    );
    // A run into MariaDB through the tunnel (LOAD DATA LOCAL INFILE over the channel).
    let ssh = ssh_yaml(&sshd, &sshd.rsa_key);
    let yaml = format!(
        "{}{}",
        my_in(&db.name, &format!("table: src\n{ssh}")),
        my_out(&db.name, &format!("table: dst\nmode: insert\n{ssh}"))
    );
    let summary = run(&yaml).await.unwrap();
    assert_eq!(summary.rows_written, 500, "{summary:?}");
    let copied: Option<i64> = my.query_first("SELECT COUNT(*) FROM dst").await.unwrap();
    assert_eq!(copied, Some(500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_key_opens_with_its_passphrase_only() {
    let sshd = Sshd::start();
    let (db, _client) = postgres_db().await;
    let mut ssh = tunnel(&sshd, &sshd.encrypted_key, None);
    let refused = check::check(&through(DbKind::Postgresql, &db.name, ssh.clone()))
        .await
        .unwrap_err();
    assert_eq!(refused.kind, ErrorKind::SshSignInRejected, "{refused}");
    assert!(refused.message.contains("passphrase"), "{refused}");
    ssh.private_key_passphrase = Some(Secret("wrong".into()));
    let refused = check::check(&through(DbKind::Postgresql, &db.name, ssh.clone()))
        .await
        .unwrap_err();
    assert_eq!(refused.kind, ErrorKind::SshSignInRejected, "{refused}");
    ssh.private_key_passphrase = Some(Secret(Sshd::PASSPHRASE.into()));
    check::check(&through(DbKind::Postgresql, &db.name, ssh))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_the_bastion_does_not_know_is_refused() {
    let sshd = Sshd::start();
    let (db, _client) = postgres_db().await;
    let c = through(
        DbKind::Postgresql,
        &db.name,
        tunnel(&sshd, &sshd.stranger_key, None),
    );
    let refused = check::check(&c).await.unwrap_err();
    assert_eq!(refused.kind, ErrorKind::SshSignInRejected, "{refused}");
    assert!(refused.message.contains("authorized_keys"), "{refused}");
    assert!(!refused.message.contains("PRIVATE KEY"), "{refused}");
    // A run is refused the same way, before any database is involved.
    let ssh = ssh_yaml(&sshd, &sshd.stranger_key);
    let yaml = format!(
        "{}{}",
        pg_in(&db.name, &format!("table: pg_class\n{ssh}")),
        pg_out(&db.name, "table: dst")
    );
    let e = run(&yaml).await.unwrap_err();
    assert!(
        format!("{e:#}").contains("did not accept the private key"),
        "{e:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_host_key_is_refused_naming_both_keys() {
    let sshd = Sshd::start();
    let other = Sshd::start();
    let (db, _client) = postgres_db().await;
    // Pinned to another bastion's key: this one is an impostor as far as the pin knows.
    let c = through(
        DbKind::Postgresql,
        &db.name,
        tunnel(&sshd, &sshd.ed25519_key, Some(&other.host_key_fingerprint)),
    );
    let refused = check::check(&c).await.unwrap_err();
    assert_eq!(refused.kind, ErrorKind::SshHostKeyChanged, "{refused}");
    assert!(
        refused.message.contains(&other.host_key_fingerprint)
            && refused.message.contains(&sshd.host_key_fingerprint),
        "{refused}"
    );
    assert_eq!(
        refused.ssh_host_key.unwrap().fingerprint,
        sshd.host_key_fingerprint
    );
    // Previews and runs refuse it too.
    let e = check::preview_table(&c, "public", "x", 1)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::SshHostKeyChanged, "{e}");
    let mut yaml_ssh = ssh_yaml(&sshd, &sshd.ed25519_key);
    yaml_ssh = yaml_ssh.replace(&sshd.host_key_fingerprint, &other.host_key_fingerprint);
    let yaml = format!(
        "{}{}",
        pg_in(&db.name, &format!("table: pg_class\n{yaml_ssh}")),
        pg_out(&db.name, "table: dst")
    );
    let e = run(&yaml).await.unwrap_err();
    assert!(format!("{e:#}").contains("presented the host key"), "{e:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_the_bastion_cannot_open_names_the_target() {
    let sshd = Sshd::start();
    let mut c = through(
        DbKind::Postgresql,
        "postgres",
        tunnel(&sshd, &sshd.ed25519_key, None),
    );
    // Nothing listens on port 1 behind the bastion.
    c.endpoint.port = Some(1);
    let e = check::check(&c).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::HostUnreachable, "{e}");
    assert!(e.message.contains("localhost:1"), "{e}");
}
