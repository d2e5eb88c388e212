//! Liquid templates, the one place they are rendered: `.yml.liquid` configs (the runner's
//! files and imported Embulk configs) and notification messages.
//!
//! Configs render as Embulk does: `{{ env.NAME }}` reads the environment and an unset
//! variable renders as an empty string, with a warning naming that variable alone (never
//! the others: the environment holds what the tenant must not see); `{% include 'x' %}`
//! loads `_x.yml.liquid` from the folder of the file and nowhere else. Any other undefined
//! variable is an error (liquid-rust is strict), so a typo there never turns into an
//! empty value.
//!
//! Every template is tenant input, so every render is bounded ([`crate::limits`]): the
//! source size, loop iterations over all loops of the render, the output, the values that
//! `assign`, `capture` and filters build, the time, and the depth of includes. A render
//! runs on a thread of its own with a stack sized for the deepest template the source
//! limit allows, and a refusal names the limit ([`TemplateError::Limit`]).
//!
//! - `bounded`: the standard library with its loops, values and writes bounded.
//! - `error`: [`TemplateError`] and the [`Limit`] a render reached.

mod bounded;
mod error;

pub use error::{Limit, TemplateError};

use crate::limits::{
    TEMPLATE_MAX_OUTPUT_BYTES, TEMPLATE_MAX_RENDER_TIME, TEMPLATE_MAX_SOURCE_BYTES,
};
use anyhow::{Context, Result};
use bounded::{Budget, LimitedWriter};
use liquid_core::partials::{EagerCompiler, InMemorySource, PartialCompiler};
use liquid_core::runtime::RuntimeBuilder;
use liquid_core::{Language, Object, Renderable, Runtime};
use std::path::Path;
use std::sync::{Arc, LazyLock};
use std::time::Instant;

const SUFFIX: &str = ".yml.liquid";

/// The stack of a render's thread. Liquid parses and renders nested blocks and `and`/`or`
/// conditions recursively; the deepest nesting a source within the size limit can write
/// must fit, where a tokio worker's 2 MiB would overflow and abort the whole process (a
/// debug build needs 16 MiB for it; this leaves room). The memory is reserved, not used,
/// until a template nests that deep.
const RENDER_STACK_BYTES: usize = 64 * 1024 * 1024;

static LANGUAGE: LazyLock<Arc<Language>> = LazyLock::new(|| Arc::new(bounded::language()));

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
    let mut partials = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_prefix('_').and_then(|n| n.strip_suffix(SUFFIX)) {
            let body = std::fs::read_to_string(entry.path())
                .with_context(|| format!("cannot read {}", entry.path().display()))?;
            partials.push((stem.to_owned(), body));
        }
    }
    let sources: Vec<&str> = std::iter::once(text)
        .chain(partials.iter().map(|(_, body)| body.as_str()))
        .collect();
    render_bounded(text, &env_globals(env, &sources), &partials)
        .map_err(|e| anyhow::anyhow!("liquid: {e}"))
}

/// Renders a Liquid config with `env` as `{{ env.* }}` and no partials (an imported config
/// has no files beside it).
pub fn render_config(
    text: &str,
    env: impl Iterator<Item = (String, String)>,
) -> Result<String, TemplateError> {
    render_bounded(text, &env_globals(env, &[text]), &[])
}

/// `env` for the templates in `sources`: the environment, plus an empty string for each
/// variable they name that is not set, as Embulk renders it, with a warning naming it.
fn env_globals(env: impl Iterator<Item = (String, String)>, sources: &[&str]) -> Object {
    let mut env: Object = env
        .map(|(k, v)| (k.into(), liquid_core::model::Value::scalar(v)))
        .collect();
    for source in sources {
        for name in env_names(source) {
            if !env.contains_key(name) {
                tracing::warn!("liquid: env.{name} is not set; it renders as an empty string");
                env.insert(
                    name.to_owned().into(),
                    liquid_core::model::Value::scalar(""),
                );
            }
        }
    }
    let mut globals = Object::new();
    globals.insert("env".into(), liquid_core::model::Value::Object(env));
    globals
}

/// Renders `source` with `globals` and `partials` (name, source) within the limits of
/// [`crate::limits`]. This is the one way the service renders Liquid.
pub fn render_bounded(
    source: &str,
    globals: &Object,
    partials: &[(String, String)],
) -> Result<String, TemplateError> {
    render_within(source, globals, partials, TEMPLATE_MAX_RENDER_TIME)
}

/// [`render_bounded`] with another time limit: tests of the other limits give a generous
/// one, so a loaded machine cannot turn their answer into the time limit's.
fn render_within(
    source: &str,
    globals: &Object,
    partials: &[(String, String)],
    time_limit: std::time::Duration,
) -> Result<String, TemplateError> {
    let too_long = |text: &str| text.len() > TEMPLATE_MAX_SOURCE_BYTES;
    if too_long(source) || partials.iter().any(|(_, body)| too_long(body)) {
        return Err(TemplateError::Limit(Limit::SourceSize));
    }
    let deadline = Instant::now() + time_limit;
    std::thread::scope(|scope| {
        let render = std::thread::Builder::new()
            .name("liquid-render".to_owned())
            .stack_size(RENDER_STACK_BYTES)
            .spawn_scoped(scope, || render_here(source, globals, partials, deadline))
            .map_err(|e| TemplateError::Invalid(format!("cannot start rendering: {e}")))?;
        render
            .join()
            .unwrap_or_else(|_| Err(TemplateError::Invalid("the template engine failed".into())))
    })
}

/// Parses and renders on the current thread (the render's own, see [`render_bounded`]).
fn render_here(
    source: &str,
    globals: &Object,
    partials: &[(String, String)],
    deadline: Instant,
) -> Result<String, TemplateError> {
    let invalid = |e: liquid_core::Error| TemplateError::Invalid(one_line(&e.to_string()));
    let language = LANGUAGE.clone();
    let mut sources = InMemorySource::new();
    for (name, body) in partials {
        sources.add(name.as_str(), body.as_str());
    }
    let store = EagerCompiler::new(sources)
        .compile(language.clone())
        .map_err(invalid)?;
    let template = liquid_core::parser::parse(source, &language)
        .map(liquid_core::runtime::Template::new)
        .map_err(invalid)?;
    let runtime = RuntimeBuilder::new()
        .set_globals(globals)
        .set_partials(store.as_ref())
        .build();
    runtime.registers().get_mut::<Budget>().start(deadline);
    let mut out = LimitedWriter::new(TEMPLATE_MAX_OUTPUT_BYTES);
    match template.render_to(&mut out, &runtime) {
        Ok(()) => Ok(out.into_string()),
        Err(e) => {
            if let Some(limit) = runtime.registers().get_mut::<Budget>().exceeded {
                return Err(TemplateError::Limit(limit));
            }
            if out.overflowed {
                return Err(TemplateError::Limit(Limit::OutputSize));
            }
            Err(invalid(e))
        }
    }
}

/// The names a template reads from `env`: `env.NAME`, `env["NAME"]` and `env['NAME']`.
fn env_names(source: &str) -> Vec<&str> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut names = Vec::new();
    for (at, _) in source.match_indices("env") {
        if source[..at]
            .chars()
            .next_back()
            .is_some_and(|c| is_name(c) || c == '.')
        {
            continue;
        }
        let rest = &source[at + 3..];
        let name = if let Some(rest) = rest.strip_prefix('.') {
            &rest[..rest.find(|c: char| !is_name(c)).unwrap_or(rest.len())]
        } else if let Some(rest) = rest.strip_prefix('[') {
            let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                continue;
            };
            let rest = &rest[1..];
            match rest.find(quote) {
                Some(end) => &rest[..end],
                None => continue,
            }
        } else {
            continue;
        };
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{
        TEMPLATE_MAX_ASSIGNED_BYTES, TEMPLATE_MAX_LOOP_ITERATIONS, TEMPLATE_MAX_VALUE_BYTES,
    };
    use liquid_core::model::Value;

    fn globals(pairs: &[(&str, &str)]) -> Object {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned().into(), Value::scalar((*v).to_owned())))
            .collect()
    }

    /// Every limit but time, which is a minute here (see [`render_within`]).
    fn render_with(source: &str, pairs: &[(&str, &str)]) -> Result<String, TemplateError> {
        render_within(
            source,
            &globals(pairs),
            &[],
            std::time::Duration::from_secs(60),
        )
    }

    #[test]
    fn renders_env_and_includes_and_rejects_undefined() {
        let dir = std::env::temp_dir().join(format!("hakobu-liquid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("_conn.yml.liquid"), "host: {{ env.PGHOST_T }}\n").unwrap();
        let env = || [("PGHOST_T".to_owned(), "db.internal".to_owned())].into_iter();
        let out = render("in:\n  {% include 'conn' %}  table: t\n", &dir, env()).unwrap();
        assert_eq!(out, "in:\n  host: db.internal\n  table: t\n");
        // An unset variable is empty, as in Embulk; other undefined names stay errors.
        let out = render(
            "x: '{{ env.MISSING }}'\ny: {{ env['ALSO_MISSING'] }}",
            &dir,
            env(),
        )
        .unwrap();
        assert_eq!(out, "x: ''\ny: ");
        let err = render("x: {{ nothing }}", &dir, env())
            .unwrap_err()
            .to_string();
        assert!(err.contains("nothing"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn env_names_are_found_in_every_spelling_and_only_there() {
        assert_eq!(
            env_names(
                "{{ env.A_1 }} {{ env[\"B\"] }} {{ env['C'] | upcase }} {{ myenv.D }} {{ x.env.E }} {% if env.A_1 %}{% endif %}"
            ),
            ["A_1", "B", "C"]
        );
    }

    #[test]
    fn an_unset_variable_warns_with_its_own_name_only() {
        // The warning goes through tracing; capture it with a subscriber of this test.
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Lines(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Lines {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let env = [("SECRET_TOKEN_T".to_owned(), "s3cr3t".to_owned())];
        let out = tracing::subscriber::with_default(subscriber, || {
            render_config("a: {{ env.UNSET_T }}", env.into_iter()).unwrap()
        });
        assert_eq!(out, "a: ");
        let logged = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        assert!(
            logged.contains("liquid: env.UNSET_T is not set; it renders as an empty string"),
            "{logged}"
        );
        assert!(
            !logged.contains("SECRET_TOKEN_T") && !logged.contains("s3cr3t"),
            "{logged}"
        );
    }

    #[test]
    fn includes_stay_in_the_folder_of_the_config() {
        let base = std::env::temp_dir().join(format!("hakobu-liquid-inc-{}", std::process::id()));
        let dir = base.join("configs");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(base.join("_outside.yml.liquid"), "leaked: yes\n").unwrap();
        std::fs::write(dir.join("_inside.yml.liquid"), "ok: yes\n").unwrap();
        let none = || std::iter::empty::<(String, String)>();
        assert_eq!(
            render("{% include 'inside' %}", &dir, none()).unwrap(),
            "ok: yes\n"
        );
        for attack in [
            "{% include '../outside' %}",
            "{% include '../_outside.yml.liquid' %}",
            &format!(
                "{{% include '{}' %}}",
                base.join("_outside.yml.liquid").display()
            ),
            &format!("{{% include '{}' %}}", base.join("outside").display()),
        ] {
            let err = render(attack, &dir, none()).unwrap_err().to_string();
            assert!(!err.contains("leaked"), "{attack}: {err}");
            assert!(err.contains("liquid:"), "{attack}: {err}");
        }
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn the_standard_library_still_works_within_the_limits() {
        let mut g = globals(&[("name", "hakobu"), ("csv", "a,b,c")]);
        g.insert(
            "list".into(),
            Value::Array(vec![Value::scalar("a"), Value::scalar("b")]),
        );
        g.insert("empty".into(), Value::Array(vec![]));
        g.insert(
            "settings".into(),
            Value::Object(globals(&[("mode", "merge")])),
        );
        let source = [
            "{% for x in list %}{{ forloop.index }}:{{ x | upcase }}{% unless forloop.last %},{% endunless %}{% endfor %}",
            "{% for i in (1..10) offset: 2 limit: 3 reversed %}{{ i }}{% endfor %}",
            "{% for x in empty %}no{% else %}none{% endfor %}",
            "{% for i in (1..5) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 4 %}{% break %}{% endif %}{{ i }}{% endfor %}",
            "{% for i in (1..2) %}{% for j in (1..2) %}{{ forloop.parentloop.index }}{{ j }} {% endfor %}{% endfor %}",
            "{% capture c %}{{ name }}!{% endcapture %}{{ c }}",
            "{% assign n = name | append: \"s\" %}{{ n }}",
            "{% tablerow i in (1..3) cols: 2 %}{{ i }}{% endtablerow %}",
            "{% for i in (1..3) %}{% ifchanged %}{{ i | divided_by: 2 }}{% endifchanged %}{% endfor %}",
            "{{ csv | split: \",\" | join: \"+\" }}",
            "{{ name | replace: \"o\", \"0\" }}",
            "{% for i in (1..3) %}{% cycle \"a\", \"b\" %}{% endfor %}",
            "{% for pair in settings %}{{ pair[0] }}={{ pair[1] }}{% endfor %}",
        ]
        .join("|");
        assert_eq!(
            render_bounded(&source, &g, &[]).unwrap(),
            [
                "1:A,2:B",
                "543",
                "none",
                "13",
                "11 12 21 22 ",
                "hakobu!",
                "hakobus",
                "<tr class=\"row1\"><td class=\"col1\">1</td><td class=\"col2\">2</td></tr><tr class=\"row2\"><td class=\"col1\">3</td></tr>",
                "01",
                "a+b+c",
                "hak0bu",
                "aba",
                "mode=merge",
            ]
            .join("|")
        );
    }

    #[test]
    fn a_ten_billion_range_is_refused_before_it_exists() {
        let err = render_with("{% for i in (1..10000000000) %}x{% endfor %}", &[]).unwrap_err();
        assert_eq!(err, TemplateError::Limit(Limit::LoopIterations));
        assert_eq!(
            err.to_string(),
            format!(
                "this template loops more than {TEMPLATE_MAX_LOOP_ITERATIONS} times; \
                 templates are limited to {TEMPLATE_MAX_LOOP_ITERATIONS} loop iterations"
            )
        );
        // tablerow materialised its range the same way.
        let err = render_with(
            "{% tablerow i in (1..10000000000) %}x{% endtablerow %}",
            &[],
        );
        assert_eq!(err, Err(TemplateError::Limit(Limit::LoopIterations)));
    }

    #[test]
    fn nested_loops_count_together() {
        // Each loop alone is within the budget; together they make a million iterations.
        let err = render_with(
            "{% for i in (1..1000) %}{% for j in (1..1000) %}{% endfor %}{% endfor %}",
            &[],
        );
        assert_eq!(err, Err(TemplateError::Limit(Limit::LoopIterations)));
        assert!(
            render_with(
                "{% for i in (1..300) %}{% for j in (1..300) %}{% endfor %}{% endfor %}",
                &[]
            )
            .is_ok()
        );
    }

    #[test]
    fn output_stops_at_its_limit() {
        let line = "x".repeat(100);
        let err = render_with(
            "{% for i in (1..50000) %}{{ line }}{% endfor %}",
            &[("line", &line)],
        );
        assert_eq!(err, Err(TemplateError::Limit(Limit::OutputSize)));
        // ifchanged renders into a buffer of its own first.
        let err = render_with(
            "{% for i in (1..2) %}{% ifchanged %}{% for j in (1..50000) %}{{ line }}{% endfor %}{% endifchanged %}{% endfor %}",
            &[("line", &line)],
        );
        assert_eq!(err, Err(TemplateError::Limit(Limit::OutputSize)));
    }

    #[test]
    fn assign_and_capture_cannot_double_a_value() {
        let err = render_with(
            "{% assign s = \"x\" %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}{{ s | size }}",
            &[],
        );
        assert_eq!(err, Err(TemplateError::Limit(Limit::ValueSize)));
        let err = render_with(
            "{% capture c %}{% for i in (1..50000) %}0123456789{% endfor %}{% endcapture %}",
            &[],
        );
        assert_eq!(err, Err(TemplateError::Limit(Limit::ValueSize)));
        assert_eq!(
            render_with(
                "{% assign s = \"ab\" %}{% for i in (1..3) %}{% assign s = s | append: s %}{% endfor %}{{ s | size }}",
                &[]
            ),
            Ok("16".to_owned())
        );
    }

    #[test]
    fn a_filter_is_refused_before_it_multiplies_a_value() {
        // Replacing the empty string puts the replacement between every character:
        // 10 KB with 10 KB between each would be 100 MB.
        let s = "y".repeat(10_000);
        let err = render_with("{{ s | replace: \"\", s | size }}", &[("s", &s)]);
        assert_eq!(err, Err(TemplateError::Limit(Limit::ValueSize)));
        let err = render_with("{{ s | split: \"\" | join: s | size }}", &[("s", &s)]);
        assert_eq!(err, Err(TemplateError::Limit(Limit::ValueSize)));
    }

    #[test]
    fn many_assigned_values_count_together() {
        let big = "z".repeat(TEMPLATE_MAX_VALUE_BYTES - 10);
        let names = TEMPLATE_MAX_ASSIGNED_BYTES / big.len() + 2;
        let source: String = (0..names)
            .map(|i| format!("{{% assign v{i} = big %}}"))
            .collect();
        let err = render_with(&source, &[("big", &big)]);
        assert_eq!(err, Err(TemplateError::Limit(Limit::AssignedSize)));
        // Assigning one name again replaces its value rather than adding to it.
        let again: String = (0..names).map(|_| "{% assign v = big %}").collect();
        assert!(render_with(&again, &[("big", &big)]).is_ok());
    }

    #[test]
    fn a_slow_render_stops_at_its_time_limit() {
        // 99 000 iterations of filters over 40 KB each: within every other limit, but
        // many seconds of work.
        let big = "ab".repeat(20_000);
        let err = render_bounded(
            "{% for i in (1..99000) %}{% assign t = big | replace: \"a\", \"b\" | upcase | downcase | remove: \"b\" %}{% endfor %}",
            &globals(&[("big", &big)]),
            &[],
        );
        assert_eq!(err, Err(TemplateError::Limit(Limit::RenderTime)));
    }

    #[test]
    fn sources_and_includes_are_bounded() {
        let long = "x".repeat(TEMPLATE_MAX_SOURCE_BYTES + 1);
        assert_eq!(
            render_with(&long, &[]),
            Err(TemplateError::Limit(Limit::SourceSize))
        );
        let itself = [("me".to_owned(), "a{% include 'me' %}".to_owned())];
        assert_eq!(
            render_bounded("{% include 'me' %}", &Object::new(), &itself),
            Err(TemplateError::Limit(Limit::IncludeDepth))
        );
    }

    #[test]
    fn the_deepest_template_the_size_limit_allows_renders_without_overflowing() {
        let levels = TEMPLATE_MAX_SOURCE_BYTES / "{% if true %}{% endif %}".len();
        let nested = format!(
            "{}x{}",
            "{% if true %}".repeat(levels),
            "{% endif %}".repeat(levels)
        );
        assert_eq!(render_with(&nested, &[]), Ok("x".to_owned()));
        let conditions = (TEMPLATE_MAX_SOURCE_BYTES - 40) / " and a".len();
        let chain = format!("{{% if a{} %}}y{{% endif %}}", " and a".repeat(conditions));
        assert_eq!(render_with(&chain, &[("a", "1")]), Ok("y".to_owned()));
    }
}
