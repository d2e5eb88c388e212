//! A job's data checks as typed (`settings.checks`), one row each: what it makes sure of,
//! the connection it runs on, the query returning one value, the comparison and what a
//! failure does. The transfer wizard's step 4 and the data mart form use the same editor.

use crate::components::{RowError, checkbox};
use crate::forms::Form;
use crate::i18n::{Key, fill, tr, use_lang};
use crate::widgets::variables::{sql_connection_options, sql_connections};
use hakobu_core::api::connections::ConnectionView;
use hakobu_core::ids::ConnectionId;
use hakobu_core::job::checks::{CheckOperator, DataCheck, OnCheckFailure};
use hakobu_core::messages::MessageCode;
use hakobu_core::validation::FieldErrors;
use leptos::prelude::*;

/// The comparisons a check offers, as `CheckOperator` reads them.
const OPERATORS: [&str; 6] = ["=", "!=", "<", "<=", ">", ">="];

fn text(s: &str) -> RwSignal<String> {
    RwSignal::new(s.to_owned())
}

/// A data check as typed.
#[derive(Debug, Clone, Copy)]
pub struct CheckRow {
    key: u64,
    pub(crate) name: RwSignal<String>,
    pub(crate) connection: RwSignal<Option<ConnectionId>>,
    pub(crate) sql: RwSignal<String>,
    pub(crate) operator: RwSignal<String>,
    pub(crate) expected: RwSignal<String>,
    pub(crate) null_passes: RwSignal<bool>,
    pub(crate) warn_only: RwSignal<bool>,
}

impl CheckRow {
    fn new(key: u64, connection: Option<ConnectionId>) -> Self {
        CheckRow {
            key,
            name: text(""),
            connection: RwSignal::new(connection),
            sql: text(""),
            operator: text("="),
            expected: text("0"),
            null_passes: RwSignal::new(false),
            warn_only: RwSignal::new(false),
        }
    }

    fn from_check(key: u64, c: &DataCheck) -> Self {
        CheckRow {
            key,
            name: text(&c.name),
            connection: RwSignal::new(Some(c.connection_id)),
            sql: text(&c.sql),
            operator: text(c.operator.as_str()),
            expected: text(&c.expected),
            null_passes: RwSignal::new(c.null_passes),
            warn_only: RwSignal::new(c.on_failure == OnCheckFailure::Warn),
        }
    }

    /// The check as typed; one without a connection is reported and left out.
    fn check(&self, prefix: &str, index: usize, errors: &mut FieldErrors) -> Option<DataCheck> {
        let Some(connection_id) = self.connection.get_untracked() else {
            errors.push_message(
                format!("{prefix}[{index}].connection_id"),
                MessageCode::Required,
            );
            return None;
        };
        Some(DataCheck {
            name: self.name.get_untracked().trim().to_owned(),
            connection_id,
            sql: self.sql.get_untracked(),
            operator: serde_json::from_value(serde_json::Value::String(
                self.operator.get_untracked(),
            ))
            .unwrap_or(CheckOperator::Eq),
            expected: self.expected.get_untracked().trim().to_owned(),
            null_passes: self.null_passes.get_untracked(),
            on_failure: if self.warn_only.get_untracked() {
                OnCheckFailure::Warn
            } else {
                OnCheckFailure::Fail
            },
        })
    }
}

/// The checks being typed (`settings.checks`).
#[derive(Debug, Clone, Copy)]
pub struct CheckList {
    /// Rows are created under the owner current when the list was made, so they live as
    /// long as the form holding it, not as long as the part of the view that added them.
    owner: StoredValue<Owner>,
    next_key: StoredValue<u64>,
    pub rows: RwSignal<Vec<CheckRow>>,
    /// The field path of the list, as `core` and the server name its errors.
    prefix: &'static str,
}

impl CheckList {
    pub fn new(prefix: &'static str) -> Self {
        CheckList {
            owner: StoredValue::new(Owner::current().unwrap_or_default()),
            next_key: StoredValue::new(0),
            rows: RwSignal::new(Vec::new()),
            prefix,
        }
    }

    /// Rows for saved checks, replacing those typed.
    pub fn load(&self, saved: &[DataCheck]) {
        let rows = saved
            .iter()
            .map(|c| {
                let key = self.key();
                self.owned(|| CheckRow::from_check(key, c))
            })
            .collect();
        self.rows.set(rows);
    }

    /// A new, empty row running on `connection`.
    pub fn add(&self, connection: Option<ConnectionId>) {
        let key = self.key();
        let row = self.owned(|| CheckRow::new(key, connection));
        self.rows.update(|r| r.push(row));
    }

    /// The checks as typed; what cannot be built goes to `errors` (`prefix[i]...`).
    pub fn definitions(&self, errors: &mut FieldErrors) -> Vec<DataCheck> {
        self.rows
            .get_untracked()
            .iter()
            .enumerate()
            .filter_map(|(i, row)| row.check(self.prefix, i, errors))
            .collect()
    }

    fn owned<T>(&self, f: impl FnOnce() -> T) -> T {
        self.owner.with_value(|o| o.with(f))
    }

    fn key(&self) -> u64 {
        let k = self.next_key.get_value();
        self.next_key.set_value(k + 1);
        k
    }
}

/// The data checks, one row each, and a button to add one; a new check runs on
/// `default_connection` (where a check usually looks: a transfer's destination, a data
/// mart's connection).
#[component]
pub fn ChecksEditor(
    list: CheckList,
    form: Form,
    /// The organization's connections; checks run on databases and data warehouses.
    conns: StoredValue<Vec<ConnectionView>>,
    #[prop(into)] default_connection: Signal<Option<ConnectionId>>,
    /// The hint under the heading (what the checks run after).
    hint: Key,
) -> impl IntoView {
    let lang = use_lang();
    let connections = sql_connections(conns);
    let prefix = list.prefix;
    let add = move |_| {
        list.add(default_connection.get_untracked());
        let i = list.rows.with_untracked(Vec::len) - 1;
        crate::forms::focus(&form.input_id(&format!("{prefix}[{i}].name")));
    };
    let rows = move || {
        list.rows
            .get()
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                let p = move |f: &str| format!("{prefix}[{i}].{f}");
                let id = |f: &str| form.input_id(&p(f));
                let (name_id, conn_id, sql_id, op_id, expected_id) =
                    (id("name"), id("connection_id"), id("sql"), id("operator"), id("expected"));
                view! {
                    <fieldset class="check" data-testid="check-row">
                        <legend>{move || fill(lang.get(), Key::CheckN, &[("n", &(i + 1).to_string())])}</legend>
                        <div class="field">
                            <label for=name_id.clone()>{tr(Key::CheckName)}</label>
                            <input id=name_id type="text" placeholder=move || Key::CheckNameHint.text(lang.get()) prop:value=move || row.name.get() on:input=move |ev| row.name.set(event_target_value(&ev))/>
                            <RowError form path=p("name") label=Key::CheckName/>
                        </div>
                        <div class="field">
                            <label for=conn_id.clone()>{tr(Key::CheckConnection)}</label>
                            <select id=conn_id on:change=move |ev| row.connection.set(event_target_value(&ev).parse().ok()) prop:value=move || row.connection.get().map(|c| c.to_string()).unwrap_or_default()>
                                {sql_connection_options(connections, row.connection)}
                            </select>
                            <RowError form path=p("connection_id") label=Key::CheckConnection/>
                        </div>
                        <div class="field wide">
                            <label for=sql_id.clone()>{tr(Key::CheckSql)}</label>
                            <textarea id=sql_id class="code" rows="3" spellcheck="false" placeholder="SELECT count(*) FROM orders WHERE amount < 0" prop:value=move || row.sql.get() on:input=move |ev| row.sql.set(event_target_value(&ev))></textarea>
                            <RowError form path=p("sql") label=Key::CheckSql/>
                        </div>
                        <div class="row-inputs">
                            <div class="field">
                                <label for=op_id.clone()>{tr(Key::CheckOperatorLabel)}</label>
                                <select id=op_id on:change=move |ev| row.operator.set(event_target_value(&ev)) prop:value=move || row.operator.get()>
                                    {OPERATORS.into_iter().map(|o| view! { <option value=o selected=move || row.operator.get() == o>{o}</option> }).collect_view()}
                                </select>
                            </div>
                            <div class="field">
                                <label for=expected_id.clone()>{tr(Key::CheckExpected)}</label>
                                <input id=expected_id type="text" prop:value=move || row.expected.get() on:input=move |ev| row.expected.set(event_target_value(&ev))/>
                                <RowError form path=p("expected") label=Key::CheckExpected/>
                            </div>
                        </div>
                        {checkbox(Key::CheckNullPasses, row.null_passes)}
                        {checkbox(Key::CheckWarnOnly, row.warn_only)}
                        <button type="button" class="link-button" on:click=move |_| list.rows.update(|c| c.retain(|x| x.key != row.key))>{tr(Key::RemoveCheck)}</button>
                    </fieldset>
                }
            })
            .collect_view()
    };
    view! {
        <h3>{tr(Key::DataChecks)}</h3>
        <p class="hint">{tr(hint)}</p>
        {rows}
        <button type="button" on:click=add>{tr(Key::AddCheck)}</button>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Saved checks load into rows that give back the same checks; a row without a
    /// connection is named at its field instead of being sent.
    #[test]
    fn saved_checks_come_back_as_typed() {
        let saved = vec![
            DataCheck {
                name: "no negative totals".into(),
                connection_id: ConnectionId::new(),
                sql: "SELECT count(*) FROM daily WHERE total < 0".into(),
                operator: CheckOperator::Eq,
                expected: "0".into(),
                null_passes: false,
                on_failure: OnCheckFailure::Fail,
            },
            DataCheck {
                name: "a day was written".into(),
                connection_id: ConnectionId::new(),
                sql: "SELECT count(*) FROM daily WHERE day = $day$".into(),
                operator: CheckOperator::Ge,
                expected: "1".into(),
                null_passes: true,
                on_failure: OnCheckFailure::Warn,
            },
        ];
        let list = CheckList::new("settings.checks");
        list.load(&saved);
        let mut errors = FieldErrors::default();
        assert_eq!(list.definitions(&mut errors), saved);
        assert!(errors.is_empty(), "{errors:?}");

        list.add(None);
        let mut errors = FieldErrors::default();
        assert_eq!(list.definitions(&mut errors).len(), 2);
        assert_eq!(
            errors.first().unwrap().field,
            "settings.checks[2].connection_id"
        );
    }
}
