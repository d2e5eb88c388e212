//! Form state: field errors, a problem not tied to one field, and the busy flag.
//!
//! A form validates with `core`'s `validate()` before sending, so the user sees the same
//! message the server would give without a round trip (and no request is sent). What only
//! the server can know (a taken email, a wrong current password) comes back as field errors
//! too, and lands beside the same input.

use crate::api::ApiError;
use crate::i18n::Key;
use hakobu_core::messages::Text;
use hakobu_core::validation::{FieldError, FieldErrors};
use leptos::prelude::*;

/// Something wrong with the form as a whole.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// One of our own messages.
    Key(Key),
    /// A message of the server or of `core`'s validators (translated at display time by
    /// its code, when it has one).
    Server(Text),
}

#[derive(Debug, Clone, Copy)]
pub struct Form {
    /// Prefix of the input ids (`invite` -> `invite-email`), unique on the page.
    pub id: &'static str,
    /// The fields this form has inputs for; errors for other fields go to `problem`.
    fields: &'static [&'static str],
    errors: RwSignal<Vec<FieldError>>,
    pub problem: RwSignal<Option<Problem>>,
    pub busy: RwSignal<bool>,
}

/// The input a field path belongs to: `teams[0].role` -> `teams`.
fn base_field(path: &str) -> &str {
    path.split(['[', '.']).next().unwrap_or(path)
}

/// Whether an error at `path` belongs to the input for `field`: the same path, a part of
/// it (`source.table.name` belongs to `source.table`), or, for a plain name, anything
/// under it (`teams[0].role` belongs to `teams`).
fn belongs_to(path: &str, field: &str) -> bool {
    path == field
        || base_field(path) == field
        || path
            .strip_prefix(field)
            .is_some_and(|rest| rest.starts_with(['.', '[']))
}

/// An element id for a field path: `source.table.name` -> `source-table-name`.
fn id_part(field: &str) -> String {
    field
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

impl Form {
    pub fn new(id: &'static str, fields: &'static [&'static str]) -> Self {
        Form {
            id,
            fields,
            errors: RwSignal::new(Vec::new()),
            problem: RwSignal::new(None),
            busy: RwSignal::new(false),
        }
    }

    /// The id of the input for `field`.
    pub fn input_id(&self, field: &str) -> String {
        format!("{}-{}", self.id, id_part(field))
    }

    /// The first error for `field` (reactive); its `text()` is what to translate.
    pub fn error(&self, field: &str) -> Option<FieldError> {
        self.errors
            .with(|errors| errors.iter().find(|e| belongs_to(&e.field, field)).cloned())
    }

    /// Clears earlier errors and marks the form busy: a request is under way.
    pub fn start(&self) {
        self.errors.set(Vec::new());
        self.problem.set(None);
        self.busy.set(true);
    }

    /// Clears everything, e.g. after a successful save.
    pub fn done(&self) {
        self.errors.set(Vec::new());
        self.problem.set(None);
        self.busy.set(false);
    }

    /// Shows validation errors found before sending, and moves focus to the first field at
    /// fault so keyboard and screen-reader users land where the fix is.
    pub fn invalid(&self, errors: FieldErrors) {
        self.busy.set(false);
        self.problem.set(None);
        let first = errors.first().map(|e| e.field.clone());
        self.set_errors(errors.0);
        if let Some(path) = first {
            self.focus_path(&path);
        }
    }

    /// Shows a failed request: field errors beside their inputs, the rest above the button.
    pub fn fail(&self, error: ApiError) {
        self.busy.set(false);
        match &error {
            ApiError::Server { body, .. } => {
                let mut fields = body.fields.clone();
                if fields.is_empty()
                    && let Some(field) = &body.field
                {
                    fields.push(FieldError::said(field.clone(), body.text()));
                }
                let (ours, others): (Vec<_>, Vec<_>) = fields
                    .into_iter()
                    .partition(|e| self.fields.iter().any(|f| belongs_to(&e.field, f)));
                let first = ours.first().map(|e| e.field.clone());
                self.set_errors(ours);
                self.problem.set(if let Some(other) = others.first() {
                    Some(Problem::Server(
                        format!("{}: {}", other.field, other.message).into(),
                    ))
                } else if first.is_some() {
                    None
                } else {
                    Some(Problem::Server(body.text()))
                });
                if let Some(path) = first {
                    self.focus_path(&path);
                }
            }
            ApiError::Network(_) => {
                self.set_errors(Vec::new());
                self.problem.set(Some(Problem::Key(Key::NetworkError)));
            }
        }
    }

    /// Forgets the errors of `field` once the person edits it: they answered the value
    /// being replaced, and a message that stays after the fix reads as if it still applied.
    pub fn clear(&self, field: &str) {
        let shown = self
            .errors
            .with_untracked(|errors| errors.iter().any(|e| belongs_to(&e.field, field)));
        if shown {
            self.errors
                .update(|errors| errors.retain(|e| !belongs_to(&e.field, field)));
        }
    }

    fn set_errors(&self, errors: Vec<FieldError>) {
        self.errors.set(errors);
    }

    /// Moves focus to the input of an error's path: the most specific input the page has
    /// (`source.table.name`, else `source.table`, else `source`).
    fn focus_path(&self, path: &str) {
        let mut candidates = vec![self.input_id(path)];
        let mut rest = path;
        while let Some(i) = rest.rfind(['.', '[']) {
            rest = &rest[..i];
            candidates.push(self.input_id(rest));
        }
        focus_first(&candidates);
    }

    /// Shows errors the page found itself (e.g. a step of a wizard), without focusing.
    pub fn show(&self, errors: Vec<FieldError>) {
        self.busy.set(false);
        self.errors.set(errors);
    }

    /// Whether any error is shown under `prefix` (reactive).
    pub fn has_errors_under(&self, prefix: &str) -> bool {
        self.errors
            .with(|errors| errors.iter().any(|e| belongs_to(&e.field, prefix)))
    }
}

/// A comma-separated list as typed (merge keys, mentions), without blanks or empty items.
pub fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Focuses the first of `ids` that exists on the page.
pub fn focus_first(ids: &[String]) {
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::JsCast;
        let ids = ids.to_vec();
        request_animation_frame(move || {
            if let Some(el) = ids.iter().find_map(|id| {
                document()
                    .get_element_by_id(id)
                    .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok())
            }) {
                let _ = el.focus();
            }
        });
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = ids;
}

/// Moves keyboard focus to the element with `id`, once the DOM shows it.
pub fn focus(id: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::JsCast;
        let id = id.to_owned();
        request_animation_frame(move || {
            if let Some(el) = document()
                .get_element_by_id(&id)
                .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok())
            {
                let _ = el.focus();
            }
        });
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = id;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_map_to_their_input() {
        assert_eq!(base_field("email"), "email");
        assert_eq!(base_field("teams[0].role"), "teams");
        assert_eq!(base_field("a.b"), "a");
        assert!(belongs_to("teams[0].role", "teams"));
        assert!(belongs_to("source.table.name", "source.table"));
        assert!(belongs_to("source.table.name", "source.table.name"));
        assert!(!belongs_to("source.tables", "source.table"));
        assert!(!belongs_to("destination.table", "source.table"));
        assert_eq!(id_part("source.table.name"), "source-table-name");
        assert_eq!(id_part("columns[2].to"), "columns-2--to");
    }

    #[test]
    fn lists_drop_blanks() {
        assert_eq!(
            split_list(" id, , code "),
            vec!["id".to_owned(), "code".to_owned()]
        );
    }

    #[test]
    fn editing_a_field_clears_only_its_own_errors() {
        let form = Form::new("job", &["name", "source.table"]);
        form.show(vec![
            FieldError::new("name", "is required"),
            FieldError::new("source.table.name", "is required"),
        ]);
        form.clear("name");
        assert_eq!(form.error("name"), None);
        assert_eq!(
            form.error("source.table").map(|e| e.message).as_deref(),
            Some("is required")
        );
        form.clear("source.table");
        assert!(!form.has_errors_under("source"));
    }
}
