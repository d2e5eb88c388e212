//! `.yml.liquid` configs, rendered as Embulk does: `{{ env.NAME }}` reads the environment,
//! `{% include 'x' %}` loads `_x.yml.liquid` beside the file, and an undefined variable is
//! an error (liquid-rust is strict), so a typo never turns into an empty value.

use anyhow::{Context, Result};
use liquid::partials::{EagerCompiler, InMemorySource};
use std::path::Path;

const SUFFIX: &str = ".yml.liquid";

/// Reads a config file, rendering it when its name ends with `.liquid`.
pub fn read_config_file(path: &Path) -> Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !path.to_string_lossy().ends_with(".liquid") {
        return Ok(text);
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    render(&text, dir, std::env::vars()).with_context(|| format!("{}", path.display()))
}

/// Renders a Liquid config with `env` as `{{ env.* }}` and partials from `dir`.
pub fn render(
    text: &str,
    dir: &Path,
    env: impl Iterator<Item = (String, String)>,
) -> Result<String> {
    let mut partials = InMemorySource::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_prefix('_').and_then(|n| n.strip_suffix(SUFFIX)) {
            let body = std::fs::read_to_string(entry.path())
                .with_context(|| format!("cannot read {}", entry.path().display()))?;
            partials.add(stem, body);
        }
    }
    let parser = liquid::ParserBuilder::with_stdlib()
        .partials(EagerCompiler::new(partials))
        .build()
        .context("liquid setup")?;
    let template = parser
        .parse(text)
        .map_err(|e| anyhow::anyhow!("liquid: {}", one_line(&e.to_string())))?;
    let env: liquid::Object = env
        .map(|(k, v)| (k.into(), liquid::model::Value::scalar(v)))
        .collect();
    let globals = liquid::object!({ "env": env });
    template
        .render(&globals)
        .map_err(|e| anyhow::anyhow!("liquid: {}", one_line(&e.to_string())))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_env_and_includes_and_rejects_undefined() {
        let dir = std::env::temp_dir().join(format!("hakobu-liquid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("_conn.yml.liquid"), "host: {{ env.PGHOST_T }}\n").unwrap();
        let env = || [("PGHOST_T".to_owned(), "db.internal".to_owned())].into_iter();
        let out = render("in:\n  {% include 'conn' %}  table: t\n", &dir, env()).unwrap();
        assert_eq!(out, "in:\n  host: db.internal\n  table: t\n");
        let err = render("x: {{ env.MISSING }}", &dir, env())
            .unwrap_err()
            .to_string();
        assert!(err.contains("MISSING"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
