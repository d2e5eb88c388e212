//! [`Sshd`]: a real OpenSSH server per test, as the bastion of SSH tunnel tests.
//!
//! Started on a free loopback port with its own config, host key and authorized keys in
//! a fresh directory (nothing of the machine's own sshd is used), key-only, with TCP
//! forwarding on; killed and its directory removed on drop. Needs `/usr/sbin/sshd`
//! (Debian `openssh-server`, installed by `scripts/test-setup.sh`) and `ssh-keygen`.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running sshd with two authorized client keys and one it does not know.
pub struct Sshd {
    /// The loopback port it listens on.
    pub port: u16,
    /// The user the client keys sign in as (the one running the tests).
    pub user: String,
    /// Its host key's fingerprint as `ssh-keygen -l` prints it (`SHA256:...`).
    pub host_key_fingerprint: String,
    /// An authorized ed25519 private key, OpenSSH format.
    pub ed25519_key: String,
    /// An authorized RSA private key, PEM (`-----BEGIN RSA PRIVATE KEY-----`) format.
    pub rsa_key: String,
    /// An authorized ed25519 private key encrypted with [`Sshd::PASSPHRASE`].
    pub encrypted_key: String,
    /// A valid ed25519 private key that is not authorized.
    pub stranger_key: String,
    dir: PathBuf,
    child: Child,
}

impl Sshd {
    /// The passphrase of [`Sshd::encrypted_key`].
    pub const PASSPHRASE: &'static str = "correct horse";

    /// Starts one and waits until it answers.
    pub fn start() -> Sshd {
        let sshd = Path::new("/usr/sbin/sshd");
        assert!(
            sshd.exists(),
            "/usr/sbin/sshd is missing: run scripts/test-setup.sh (installs openssh-server)"
        );
        let dir = std::env::temp_dir().join(format!("hakobu-sshd-{}", crate::unique_db_name()));
        std::fs::create_dir_all(&dir).unwrap();
        // sshd refuses to start without its privilege separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let keygen = |name: &str, args: &[&str]| -> String {
            let path = dir.join(name);
            let status = Command::new("ssh-keygen")
                .args(["-q", "-C", "hakobu-test", "-f"])
                .arg(&path)
                .args(args)
                .stdin(Stdio::null())
                .status()
                .expect("ssh-keygen");
            assert!(status.success(), "ssh-keygen {args:?}");
            std::fs::read_to_string(path).unwrap()
        };
        keygen("host_key", &["-t", "ed25519", "-N", ""]);
        let ed25519_key = keygen("client_ed25519", &["-t", "ed25519", "-N", ""]);
        let rsa_key = keygen(
            "client_rsa",
            &["-t", "rsa", "-b", "2048", "-m", "PEM", "-N", ""],
        );
        let encrypted_key = keygen(
            "client_encrypted",
            &["-t", "ed25519", "-N", Self::PASSPHRASE],
        );
        let stranger_key = keygen("stranger", &["-t", "ed25519", "-N", ""]);
        let mut authorized = String::new();
        for name in ["client_ed25519", "client_rsa", "client_encrypted"] {
            authorized += &std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap();
        }
        std::fs::write(dir.join("authorized_keys"), authorized).unwrap();
        let listing = Command::new("ssh-keygen")
            .arg("-lf")
            .arg(dir.join("host_key.pub"))
            .output()
            .unwrap();
        let host_key_fingerprint = String::from_utf8_lossy(&listing.stdout)
            .split_whitespace()
            .nth(1)
            .expect("ssh-keygen -l prints the fingerprint second")
            .to_owned();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_key\nPidFile {dir}/sshd.pid\n\
             AuthorizedKeysFile {dir}/authorized_keys\nPubkeyAuthentication yes\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             PermitRootLogin prohibit-password\nStrictModes no\nAllowTcpForwarding yes\n\
             LogLevel ERROR\n",
            dir = dir.display()
        );
        std::fs::write(dir.join("sshd_config"), config).unwrap();
        let child = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Its complaints (the readiness probe's early hang-up) stay in its directory.
            .stderr(std::fs::File::create(dir.join("sshd.log")).unwrap())
            .spawn()
            .expect("start sshd");
        let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_owned();
        let server = Sshd {
            port,
            user,
            host_key_fingerprint,
            ed25519_key,
            rsa_key,
            encrypted_key,
            stranger_key,
            dir,
            child,
        };
        server.wait_for_banner();
        server
    }

    fn wait_for_banner(&self) {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut banner = [0u8; 4];
                if s.read_exact(&mut banner).is_ok() && &banner == b"SSH-" {
                    return;
                }
            }
            assert!(
                Instant::now() < until,
                "sshd did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
