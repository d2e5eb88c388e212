//! The deployment files agree with the code and with each other, without Docker: nothing
//! here can pull a base image, so the Dockerfiles are never built in these tests.
//! - `docker-compose.yml` parses, every service has an image or a build whose Dockerfile
//!   exists, no secret has a fixed value, ports are published on this machine only, and the
//!   app's environment (with the image's `ENV`) is accepted by the app's own settings code
//!   and names a launcher the app image can run.
//! - Each Dockerfile's final stage is what `make image` builds here
//!   (`scripts/image-containerfile.sh`): the same lines, one `COPY` of the root filesystem
//!   that `scripts/image-rootfs.sh` lays out for both paths, the same cargo builds.
//! - That root filesystem holds what the final stages name: the entrypoint, the user, the
//!   CA bundle, `/tmp`, the web UI at `HAKOBU_STATIC_DIR`, the compose healthcheck's tool.

use serde_norway::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The instructions of a Dockerfile's final stage (from `FROM scratch`), continuation
/// lines joined, comments and blank lines left out: `(INSTRUCTION, arguments)`.
fn final_stage(dockerfile: &str) -> Vec<(String, String)> {
    let from = dockerfile
        .lines()
        .position(|l| l == "FROM scratch")
        .expect("a final stage FROM scratch");
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines().skip(from) {
        let line = line.trim();
        if current.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part.trim());
                current.push(' ');
            }
            None => {
                current.push_str(line);
                let (instruction, args) = current.split_once(' ').unwrap_or((&current, ""));
                instructions.push((instruction.to_owned(), args.trim().to_owned()));
                current.clear();
            }
        }
    }
    instructions
}

fn one<'a>(stage: &'a [(String, String)], instruction: &str) -> &'a str {
    let found: Vec<&str> = stage
        .iter()
        .filter(|(i, _)| i == instruction)
        .map(|(_, a)| a.as_str())
        .collect();
    assert_eq!(found.len(), 1, "one {instruction} in {stage:?}");
    found[0]
}

/// `ENV A=b C=d` of a final stage.
fn stage_env(stage: &[(String, String)]) -> BTreeMap<String, String> {
    stage
        .iter()
        .filter(|(i, _)| i == "ENV")
        .flat_map(|(_, args)| args.split_whitespace())
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("ENV in the key=value form");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// `(profile, package)` of every `cargo build` line of a file.
fn cargo_builds(text: &str) -> BTreeSet<(String, String)> {
    text.lines()
        .filter(|l| {
            // The commands, not messages about them.
            let l = l.trim_start();
            l.strip_prefix("&& ")
                .unwrap_or(l)
                .starts_with("cargo build")
        })
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let after = |flag: &str| {
                words
                    .iter()
                    .position(|w| *w == flag)
                    .map(|i| words[i + 1].to_owned())
            };
            let profile = if words.contains(&"--release") {
                "release".to_owned()
            } else {
                after("--profile").expect("a cargo profile")
            };
            assert!(words.contains(&"--locked"), "{line}");
            (profile, after("-p").expect("a package"))
        })
        .collect()
}

/// The images: Dockerfile, `image-rootfs.sh` kind, entrypoint binary.
const IMAGES: [(&str, &str, &str); 2] = [
    ("runner-image/Dockerfile", "runner", "hakobu-runner"),
    ("Dockerfile", "app", "hakobu"),
];

#[test]
fn each_dockerfile_final_stage_is_what_make_image_builds() {
    let root = repo_root();
    let image_sh = read(root.join("scripts/image.sh"));
    for (dockerfile, kind, binary) in IMAGES {
        let text = read(root.join(dockerfile));
        let stage = final_stage(&text);
        assert_eq!(
            stage.iter().filter(|(i, _)| i == "FROM").count(),
            1,
            "{dockerfile}: one final stage"
        );
        assert_eq!(
            one(&stage, "COPY"),
            "--from=build /rootfs/ /",
            "{dockerfile}"
        );
        assert!(
            !stage.iter().any(|(i, _)| i == "RUN" || i == "ADD"),
            "{dockerfile}: an empty image has nothing to run, and the local path adds nothing"
        );
        assert_eq!(one(&stage, "USER"), "10001:10001", "{dockerfile}");
        assert_eq!(one(&stage, "WORKDIR"), "/tmp", "{dockerfile}");
        assert_eq!(
            one(&stage, "ENTRYPOINT"),
            format!("[\"/usr/local/bin/{binary}\"]"),
            "{dockerfile}"
        );

        // The local path's Containerfile is this stage, its files from the local rootfs.
        let local = Command::new("bash")
            .arg("scripts/image-containerfile.sh")
            .arg(dockerfile)
            .current_dir(&root)
            .output()
            .unwrap();
        assert!(
            local.status.success(),
            "{}",
            String::from_utf8_lossy(&local.stderr)
        );
        let local_stage = final_stage(&String::from_utf8(local.stdout).unwrap());
        let expected: Vec<(String, String)> = stage
            .iter()
            .map(|(i, a)| match (i.as_str(), a.as_str()) {
                ("COPY", "--from=build /rootfs/ /") => (i.clone(), "rootfs/ /".to_owned()),
                _ => (i.clone(), a.clone()),
            })
            .collect();
        assert_eq!(local_stage, expected, "{dockerfile}");
        assert!(
            image_sh.contains(&format!("build_image {kind} ")) && image_sh.contains(dockerfile),
            "scripts/image.sh builds {dockerfile} as {kind}"
        );

        // Both lay out the root filesystem with the same script and kind...
        let build_stage = &text[..text.find("\nFROM scratch").unwrap()];
        assert!(
            build_stage.contains(&format!("scripts/image-rootfs.sh {kind} /rootfs ")),
            "{dockerfile}: the build stage runs image-rootfs.sh {kind}"
        );
        // ... from binaries built the same way.
        let here: BTreeSet<(String, String)> = cargo_builds(&image_sh)
            .into_iter()
            .filter(|(_, package)| kind == "app" || package == "hakobu-runner")
            .collect();
        assert_eq!(cargo_builds(build_stage), here, "{dockerfile}");
        for package in ["musl-tools", "ca-certificates"]
            .into_iter()
            .chain((kind == "app").then_some("busybox-static"))
        {
            assert!(
                build_stage.contains(package) && image_sh.contains(package),
                "{dockerfile} and scripts/image.sh install {package}"
            );
        }
    }
}

/// A static executable standing in for the musl binaries (image-rootfs.sh refuses
/// dynamically linked ones): Debian's `ldconfig` is static-pie.
const STATIC_STAND_IN: &str = "/sbin/ldconfig";

fn lay_out(kind: &str, busybox: Option<&Path>) -> (tempdir::Dir, PathBuf) {
    let dir = tempdir::Dir::new();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["hakobu", "hakobu-runner"] {
        std::fs::copy(STATIC_STAND_IN, bin.join(name)).unwrap();
    }
    let dist = dir.path().join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("index.html"), "<!doctype html>").unwrap();
    let out = dir.path().join("rootfs");
    let mut command = Command::new("bash");
    command
        .arg("scripts/image-rootfs.sh")
        .arg(kind)
        .arg(&out)
        .arg(&bin)
        .arg(&dist)
        .current_dir(repo_root());
    if let Some(busybox) = busybox {
        command.env("BUSYBOX", busybox);
    }
    let done = command.output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    (dir, out)
}

/// A small temporary directory removed on drop.
mod tempdir {
    pub struct Dir(std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            let path = std::env::temp_dir().join(format!("hakobu-deploy-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&path).unwrap();
            Dir(path)
        }
        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// What both final stages rely on, checked in the root filesystem both paths copy.
fn check_rootfs(rootfs: &Path, stage: &[(String, String)]) {
    let entrypoint: Vec<String> = serde_json::from_str(one(stage, "ENTRYPOINT")).unwrap();
    let binary = rootfs.join(entrypoint[0].trim_start_matches('/'));
    assert_eq!(mode(&binary), 0o755, "{}", binary.display());
    let (uid, gid) = one(stage, "USER").split_once(':').unwrap();
    let passwd = read(rootfs.join("etc/passwd"));
    assert!(
        passwd
            .lines()
            .any(|l| l.split(':').nth(2) == Some(uid) && l.split(':').nth(3) == Some(gid)),
        "{passwd}"
    );
    assert!(read(rootfs.join("etc/group")).contains(&format!(":{gid}:")));
    assert_eq!(
        std::fs::read(rootfs.join("etc/ssl/certs/ca-certificates.crt")).unwrap(),
        std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap(),
        "the CA bundle"
    );
    let workdir = rootfs.join(one(stage, "WORKDIR").trim_start_matches('/'));
    assert_eq!(mode(&workdir), 0o1777, "a writable /tmp");
    // Reproducible: every file time is the epoch.
    let mut stack = vec![rootfs.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let meta = std::fs::symlink_metadata(entry.path()).unwrap();
            use std::os::unix::fs::MetadataExt;
            assert_eq!(meta.mtime(), 0, "{}", entry.path().display());
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
}

#[test]
fn the_root_filesystems_hold_what_the_final_stages_name() {
    let root = repo_root();
    let runner_stage = final_stage(&read(root.join("runner-image/Dockerfile")));
    let (_dir, rootfs) = lay_out("runner", None);
    check_rootfs(&rootfs, &runner_stage);
    assert!(
        !rootfs.join("bin/sh").exists() && !rootfs.join("usr/local/bin/hakobu").exists(),
        "the runner image has no shell and no app"
    );

    // The app kind needs a static busybox (Debian's busybox-static; `make image` installs
    // it): laid out when one is here, else said so.
    let busybox = std::env::var_os("BUSYBOX")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/bin/busybox".into());
    let is_static = Command::new("file")
        .arg("-L")
        .arg(&busybox)
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("statically linked"));
    if !is_static {
        eprintln!(
            "the app image's root filesystem was not laid out: no static busybox at {} (apt-get install busybox-static)",
            busybox.display()
        );
        return;
    }
    let app_stage = final_stage(&read(root.join("Dockerfile")));
    let (_dir, rootfs) = lay_out("app", Some(&busybox));
    check_rootfs(&rootfs, &app_stage);
    // The local launcher's runner beside the app, as `default_runner_bin` looks for it.
    assert_eq!(mode(&rootfs.join("usr/local/bin/hakobu-runner")), 0o755);
    assert_eq!(
        std::fs::read_link(rootfs.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    let env = stage_env(&app_stage);
    let static_dir = rootfs.join(env["HAKOBU_STATIC_DIR"].trim_start_matches('/'));
    assert!(static_dir.join("index.html").is_file(), "the web UI");
    assert!(
        env["PATH"].split(':').any(|d| d == "/bin"),
        "the local launcher finds `sh`"
    );
    // The compose healthcheck's tool.
    let compose: Value = serde_norway::from_str(&read(root.join("docker-compose.yml"))).unwrap();
    let check = &compose["services"]["app"]["healthcheck"]["test"];
    assert_eq!(check[0].as_str(), Some("CMD"));
    let tool = rootfs.join(check[1].as_str().unwrap().trim_start_matches('/'));
    assert!(tool.is_file(), "{}", tool.display());
}

/// Names whose values are credentials.
fn is_secret(name: &str) -> bool {
    ["SECRET", "PASSWORD", "TOKEN", "_KEY"]
        .iter()
        .any(|part| name.contains(part))
}

/// `${VAR:?message}`: compose refuses to start without the variable.
fn required_variable(value: &str) -> Option<&str> {
    let inner = value.strip_prefix("${")?.strip_suffix('}')?;
    let (name, message) = inner.split_once(":?")?;
    (!message.trim().is_empty() && !name.is_empty()).then_some(name)
}

/// Compose's interpolation of a value with the variables given.
fn interpolate(value: &str, vars: &BTreeMap<&str, String>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closed ${...}") + start;
        let name = required_variable(&rest[start..=end]).expect("${VAR:?message}");
        out.push_str(&vars[name]);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("an environment value is a scalar, not {other:?}"),
    }
}

fn environment(service: &Value) -> BTreeMap<String, String> {
    match &service["environment"] {
        Value::Null => BTreeMap::new(),
        Value::Mapping(m) => m
            .iter()
            .map(|(k, v)| (k.as_str().unwrap().to_owned(), scalar(v)))
            .collect(),
        other => panic!("environment as a mapping, not {other:?}"),
    }
}

#[test]
fn docker_compose_is_valid_and_sets_what_the_app_needs() {
    let root = repo_root();
    let compose: Value = serde_norway::from_str(&read(root.join("docker-compose.yml"))).unwrap();
    let services = compose["services"].as_mapping().expect("services");
    let names: BTreeSet<&str> = services.keys().map(|k| k.as_str().unwrap()).collect();
    assert!(
        names.is_superset(&BTreeSet::from(["app", "postgres"])),
        "{names:?}"
    );
    let volumes: BTreeSet<&str> = compose["volumes"]
        .as_mapping()
        .map(|m| m.keys().map(|k| k.as_str().unwrap()).collect())
        .unwrap_or_default();
    for (name, service) in services {
        let name = name.as_str().unwrap();
        match (&service["image"], &service["build"]) {
            (Value::String(image), Value::Null) => {
                assert!(
                    image.contains(':') && !image.contains(char::is_whitespace),
                    "{name}: an image reference with a tag, not {image:?}"
                );
            }
            (Value::Null, Value::String(context)) => {
                assert!(
                    root.join(context).join("Dockerfile").is_file(),
                    "{name}: {context}/Dockerfile"
                );
            }
            (Value::Null, build @ Value::Mapping(_)) => {
                let context = build["context"].as_str().unwrap_or(".");
                let file = build["dockerfile"].as_str().unwrap_or("Dockerfile");
                assert!(
                    root.join(context).join(file).is_file(),
                    "{name}: {context}/{file}"
                );
            }
            other => panic!("{name}: an image or a build, not {other:?}"),
        }
        if let Some(deps) = service["depends_on"].as_mapping() {
            for dep in deps.keys() {
                assert!(names.contains(dep.as_str().unwrap()), "{name}: {dep:?}");
            }
        }
        for mount in service["volumes"].as_sequence().into_iter().flatten() {
            let source = mount.as_str().unwrap().split(':').next().unwrap();
            assert!(
                volumes.contains(source),
                "{name}: {source} is a named volume (nothing of the host is mounted)"
            );
        }
        for (key, value) in environment(service) {
            if is_secret(&key) {
                assert!(
                    required_variable(&value).is_some(),
                    "{name}: {key} must come from ${{VAR:?message}}, not {value:?}"
                );
            }
            // A password inside a URL too.
            if let Some((_, after)) = value.split_once("://")
                && let Some((userinfo, _)) = after.split_once('@')
                && let Some((_, password)) = userinfo.split_once(':')
            {
                assert!(
                    required_variable(password).is_some(),
                    "{name}: {key} has a fixed password"
                );
            }
        }
        for port in service["ports"].as_sequence().into_iter().flatten() {
            let port = port.as_str().expect("ports as \"address:host:container\"");
            assert!(
                port.starts_with("127.0.0.1:"),
                "{name}: {port} is published on this machine only"
            );
        }
    }

    // The app: the image's ENV, then the compose environment over it.
    let app = &compose["services"]["app"];
    assert_eq!(app["build"].as_str(), Some("."), "the root Dockerfile");
    let stage = final_stage(&read(root.join("Dockerfile")));
    let mut env = stage_env(&stage);
    env.extend(environment(app));
    let bind_port = env["HAKOBU_BIND"].rsplit_once(':').unwrap().1.to_owned();
    assert_eq!(one(&stage, "EXPOSE"), bind_port);
    assert!(
        app["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|p| p.as_str().unwrap().ends_with(&format!(":{bind_port}"))),
        "the app's port {bind_port} is published"
    );
    match env["HAKOBU_LAUNCHER"].as_str() {
        // Runners are child processes in the app's container: they reach it there.
        "local" => assert_eq!(
            env["HAKOBU_RUNNER_APP_URL"],
            format!("http://127.0.0.1:{bind_port}")
        ),
        "container" => {
            let socket = env
                .get("HAKOBU_CONTAINER_SOCKET")
                .cloned()
                .unwrap_or_else(|| "/var/run/docker.sock".to_owned());
            assert!(
                app["volumes"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .any(|v| v.as_str().unwrap().ends_with(&format!(":{socket}"))),
                "the container launcher needs the engine's socket mounted at {socket}"
            );
        }
        other => panic!("HAKOBU_LAUNCHER {other:?}: compose runs local or container"),
    }
    assert!(
        compose["services"]["smtp"].is_null() || env["HAKOBU_SMTP_HOST"] == "smtp",
        "mail goes to the compose mail catcher"
    );
    if let Some(url) = env.get("HAKOBU_DATABASE_URL") {
        assert!(url.contains("@postgres:5432/"), "{url}");
    }

    // The app's own settings code accepts this environment, with the secrets a user would
    // generate by the file's comment.
    let vars: BTreeMap<&str, String> = BTreeMap::from([
        ("HAKOBU_JWT_SECRET", random_text(48)),
        ("HAKOBU_SECRET_KEY", format!("k1:{}", random_base64(32))),
        ("POSTGRES_PASSWORD", random_text(24)),
    ]);
    let env: BTreeMap<String, String> = env
        .into_iter()
        .map(|(k, v)| (k, interpolate(&v, &vars)))
        .collect();
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "settings_from_the_environment_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_clear()
        .envs(&env)
        .env("HAKOBU_DEPLOY_TEST_CHILD", "1")
        .output()
        .unwrap();
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );
    assert!(
        child.status.success() && output.contains("settings accepted"),
        "{output}"
    );
}

fn random_text(chars: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..chars)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn random_base64(bytes: usize) -> String {
    use base64::Engine;
    use rand::Rng;
    let raw: Vec<u8> = (0..bytes).map(|_| rand::rng().random()).collect();
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// Run by `docker_compose_is_valid_and_sets_what_the_app_needs` in a child process whose
/// environment is the compose app's; does nothing in a plain test run.
#[test]
fn settings_from_the_environment_child() {
    if std::env::var_os("HAKOBU_DEPLOY_TEST_CHILD").is_none() {
        return;
    }
    let settings = hakobu::settings::Settings::from_env().expect("the app's settings");
    hakobu::secrets::SecretBox::from_spec(settings.secret_key.as_deref().expect("a secret key"))
        .expect("HAKOBU_SECRET_KEY");
    assert!(
        settings.smtp.is_some(),
        "mail is configured (HAKOBU_SMTP_*)"
    );
    if settings.launcher == "container" {
        hakobu::settings::ContainerSettings::from_env().expect("the container launcher");
    } else {
        assert_eq!(settings.launcher, "local");
    }
    println!("settings accepted");
}
