//! Test helpers shared by every crate's tests (a dev-dependency only): a throwaway
//! database per test on the local PostgreSQL and MariaDB (optionally cloned from a
//! template), the `psql`/`mariadb` command-line clients, and polling until a condition
//! holds.
//!
//! [`TcpTap`] relays to a server and keeps what clients sent it; [`Sshd`] is a real SSH
//! bastion per test.
//!
//! Databases are created and dropped with the command-line clients, which are installed
//! next to the servers, so `Drop` can clean up without an async runtime.

mod sshd;
mod tap;

pub use sshd::Sshd;
pub use tap::TcpTap;

use rand::Rng;
use std::future::Future;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Where the tests find PostgreSQL (`HAKOBU_TEST_PG_URL`, else the local server), as a
/// URL without a database name.
pub fn pg_server_url() -> String {
    std::env::var("HAKOBU_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// A database name no other test uses: `hakobu_t_<16 hex digits>` (`make clean-test-dbs`
/// removes what an interrupted run left).
pub fn unique_db_name() -> String {
    let n: u64 = rand::rng().random();
    format!("hakobu_t_{n:016x}")
}

/// Runs `sql` with `psql` on database `db` of the local PostgreSQL, stopping at the first
/// error; answers its unaligned, tuples-only output without the last newline. Panics when it fails.
pub fn psql(db: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
        ])
        .args(["-qAt", "-d", db, "-c", sql])
        .output()
        .expect("psql must be installed for the tests (see README)");
    assert!(
        out.status.success(),
        "psql failed on {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
}

/// Runs `sql` with the `mariadb` client on the local MariaDB (database `db`, or none);
/// answers its batch output without column names or the last newline. Panics when it fails.
pub fn mariadb(db: Option<&str>, sql: &str) -> String {
    let mut cmd = Command::new("mariadb");
    cmd.args([
        "-h",
        "127.0.0.1",
        "-uroot",
        "--batch",
        "--skip-column-names",
    ]);
    if let Some(db) = db {
        cmd.arg(db);
    }
    let out = cmd
        .args(["-e", sql])
        .output()
        .expect("the mariadb client must be installed for the tests (see README)");
    assert!(
        out.status.success(),
        "mariadb failed on {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    Postgres,
    Mariadb,
}

/// A database of its own for one test, dropped when the value drops.
#[derive(Debug)]
pub struct TestDb {
    pub name: String,
    server: Server,
}

impl TestDb {
    /// An empty PostgreSQL database.
    pub fn postgres() -> TestDb {
        let name = unique_db_name();
        psql("postgres", &format!("CREATE DATABASE {name}"));
        TestDb {
            name,
            server: Server::Postgres,
        }
    }

    /// A PostgreSQL database copied from `template` (see [`pg_template`]).
    pub fn postgres_from(template: &str) -> TestDb {
        let name = unique_db_name();
        psql(
            "postgres",
            &format!("CREATE DATABASE {name} TEMPLATE \"{template}\""),
        );
        TestDb {
            name,
            server: Server::Postgres,
        }
    }

    /// An empty MariaDB database in utf8mb4.
    pub fn mariadb() -> TestDb {
        Self::mariadb_named(&unique_db_name())
    }

    /// An empty MariaDB database in utf8mb4 called `name` (e.g. the name of the test's
    /// PostgreSQL database, so one config names both).
    pub fn mariadb_named(name: &str) -> TestDb {
        let name = name.to_owned();
        mariadb(
            None,
            &format!("CREATE DATABASE {name} CHARACTER SET utf8mb4"),
        );
        TestDb {
            name,
            server: Server::Mariadb,
        }
    }

    /// The database's URL on the PostgreSQL server.
    pub fn pg_url(&self) -> String {
        format!("{}/{}", pg_server_url(), self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let status = match self.server {
            // FORCE ends the connections a test's pool still holds.
            Server::Postgres => Command::new("psql")
                .args(["-h", "127.0.0.1", "-U", "postgres", "-q", "-c"])
                .arg(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .status(),
            Server::Mariadb => Command::new("mariadb")
                .args(["-h", "127.0.0.1", "-uroot", "-e"])
                .arg(format!("DROP DATABASE IF EXISTS {}", self.name))
                .status(),
        };
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

/// A PostgreSQL template database named after `prefix` and the content of every file in
/// `inputs_dir` (e.g. the migrations), created by `build` on its URL the first time and
/// reused by later tests and later runs until those files change. Tests then clone it
/// with [`TestDb::postgres_from`] instead of migrating their own database.
///
/// Safe across processes: the template is built under a temporary name and renamed into
/// place, so a clone never sees a half-built template.
pub async fn pg_template<F, Fut>(prefix: &str, inputs_dir: &Path, build: F) -> String
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let name = format!("{prefix}_tpl_{}", content_hash(inputs_dir));
    let exists = psql(
        "postgres",
        &format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
    );
    if exists == "1" {
        return name;
    }
    let building = format!("{name}_{:08x}", rand::rng().random::<u32>());
    psql("postgres", &format!("CREATE DATABASE {building}"));
    build(format!("{}/{building}", pg_server_url())).await;
    // The builder's pool may still hold sessions, which would block the rename.
    psql(
        "postgres",
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{building}'"
        ),
    );
    let renamed = Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-X", "-q", "-c"])
        .arg(format!("ALTER DATABASE {building} RENAME TO {name}"))
        .output()
        .expect("psql must be installed for the tests (see README)");
    if !renamed.status.success() {
        // Another process may have won the race: then ours is not needed.
        psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
        );
        let exists = psql(
            "postgres",
            &format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
        );
        assert_eq!(
            exists,
            "1",
            "the template database {name} could not be put in place: {}",
            String::from_utf8_lossy(&renamed.stderr)
        );
    }
    name
}

/// Hex SHA-256 (first 12 digits) of every file's name and content under `dir`, in order.
fn content_hash(dir: &Path) -> String {
    use sha2::{Digest, Sha256};
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut hasher = Sha256::new();
    for f in files {
        hasher.update(f.strip_prefix(dir).unwrap().to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&f).unwrap());
    }
    hex::encode(hasher.finalize())[..12].to_owned()
}

/// Polls `check` every `every` until it answers `Some`, for at most `limit`; panics naming
/// `what` when time runs out.
pub async fn wait_until<T, F, Fut>(what: &str, limit: Duration, every: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {} s",
            limit.as_secs_f32()
        );
        tokio::time::sleep(every).await;
    }
}
