//! `$name$` variables as typed, one row each: fixed text, the run's date and time, or (a
//! job's only) a query, with how the value is written into SQL and what a run due now would
//! get. The job wizard's step 4 and the data mart form (`settings.variables`) and the workflow editor
//! (`spec.variables`, texts and times) use the same editor.

use crate::components::{RowError, row_input, row_select};
use crate::forms::Form;
use crate::i18n::{Key, fill, tr, use_lang};
use hakobu_core::api::connections::ConnectionView;
use hakobu_core::ids::ConnectionId;
use hakobu_core::messages::MessageCode;
use hakobu_core::validation::FieldErrors;
use hakobu_core::variables::{
    Offset, OffsetDirection, OffsetUnit, RunContext, SqlUse, TimeBase, Variable, VariableValue,
    resolve_local,
};
use leptos::prelude::*;

fn text(s: &str) -> RwSignal<String> {
    RwSignal::new(s.to_owned())
}

/// The browser's time zone: a new timestamp variable's.
fn browser_zone() -> String {
    crate::format::time_zone(crate::i18n::Lang::En).0
}

/// The connections among `conns` that run SQL a job asks of them
/// (`ConnectionKind::runs_data_checks`: databases and data warehouses), by id and name:
/// what a data check or a query variable can run on.
pub(crate) fn sql_connections(
    conns: StoredValue<Vec<ConnectionView>>,
) -> StoredValue<Vec<(ConnectionId, String)>> {
    let kept = conns.with_value(|c| {
        c.iter()
            .filter(|c| c.kind.runs_data_checks())
            .map(|c| (c.id, c.name.clone()))
            .collect()
    });
    StoredValue::new(kept)
}

/// The `<option>`s of a select of [`sql_connections`]: "Choose a connection", then each
/// of `databases`, with `selected` chosen.
pub(crate) fn sql_connection_options(
    databases: StoredValue<Vec<(ConnectionId, String)>>,
    selected: RwSignal<Option<ConnectionId>>,
) -> impl IntoView {
    view! {
        <option value="">{tr(Key::ChooseConnection)}</option>
        {databases.get_value().into_iter().map(|(cid, name)| view! {
            <option value=cid.to_string() selected=move || selected.get() == Some(cid)>{name}</option>
        }).collect_view()}
    }
}

/// What a variable would be for a run due now (built-ins, text and timestamps; a query's
/// value is known only when a run starts).
fn example_value(variables: &[Variable], name: &str) -> Option<String> {
    let now = chrono::Utc::now();
    let run = RunContext {
        run_id: "00000000-0000-0000-0000-000000000000",
        job_name: "",
        scheduled_time: now,
        start_time: now,
    };
    resolve_local(variables, &run, &Default::default())
        .ok()?
        .get(name)
        .map(str::to_owned)
}

/// A `$name$` variable as typed. Every kind's inputs are kept, so switching the kind back
/// and forth loses nothing.
#[derive(Debug, Clone, Copy)]
pub struct VariableRow {
    pub(crate) key: u64,
    pub(crate) name: RwSignal<String>,
    /// `string`, `timestamp` or `query`.
    pub(crate) kind: RwSignal<String>,
    pub(crate) in_sql: RwSignal<SqlUse>,
    pub(crate) value: RwSignal<String>,
    pub(crate) base: RwSignal<TimeBase>,
    pub(crate) quantity: RwSignal<String>,
    pub(crate) unit: RwSignal<OffsetUnit>,
    pub(crate) direction: RwSignal<OffsetDirection>,
    pub(crate) format: RwSignal<String>,
    pub(crate) timezone: RwSignal<String>,
    pub(crate) connection: RwSignal<Option<ConnectionId>>,
    pub(crate) sql: RwSignal<String>,
    pub(crate) timeout: RwSignal<String>,
}

impl VariableRow {
    pub(crate) fn new(key: u64, timezone: &str) -> Self {
        VariableRow {
            key,
            name: text(""),
            kind: text("timestamp"),
            in_sql: RwSignal::new(SqlUse::Literal),
            value: text(""),
            base: RwSignal::new(TimeBase::ScheduledTime),
            quantity: text("1"),
            unit: RwSignal::new(OffsetUnit::Day),
            direction: RwSignal::new(OffsetDirection::Ago),
            format: text("%Y-%m-%d"),
            timezone: text(timezone),
            connection: RwSignal::new(None),
            sql: text(""),
            timeout: text("30"),
        }
    }

    pub(crate) fn from_variable(key: u64, v: &Variable, timezone: &str) -> Self {
        let row = VariableRow::new(key, timezone);
        row.name.set(v.name.clone());
        row.in_sql.set(v.in_sql);
        match &v.value {
            VariableValue::String { value } => {
                row.kind.set("string".into());
                row.value.set(value.clone());
            }
            VariableValue::Timestamp {
                base,
                offset,
                format,
                timezone,
            } => {
                row.kind.set("timestamp".into());
                row.base.set(*base);
                match offset {
                    Some(o) => {
                        row.quantity.set(o.quantity.to_string());
                        row.unit.set(o.unit);
                        row.direction.set(o.direction);
                    }
                    None => row.quantity.set("0".into()),
                }
                row.format.set(format.clone());
                row.timezone.set(timezone.clone());
            }
            VariableValue::Query {
                connection_id,
                sql,
                timeout_seconds,
            } => {
                row.kind.set("query".into());
                row.connection.set(Some(*connection_id));
                row.sql.set(sql.clone());
                row.timeout.set(timeout_seconds.to_string());
            }
        }
        row
    }

    /// The variable as typed; a query without a connection is reported and left out.
    pub(crate) fn variable(
        &self,
        prefix: &str,
        index: usize,
        errors: &mut FieldErrors,
    ) -> Option<Variable> {
        let value = match self.kind.get_untracked().as_str() {
            "string" => VariableValue::String {
                value: self.value.get_untracked(),
            },
            "query" => {
                let Some(connection_id) = self.connection.get_untracked() else {
                    errors.push_message(
                        format!("{prefix}[{index}].value.connection_id"),
                        MessageCode::Required,
                    );
                    return None;
                };
                VariableValue::Query {
                    connection_id,
                    sql: self.sql.get_untracked(),
                    // Not a number: 0 is out of range, so core names the field.
                    timeout_seconds: self.timeout.get_untracked().trim().parse().unwrap_or(0),
                }
            }
            _ => {
                let quantity = self.quantity.get_untracked();
                let quantity = quantity.trim();
                let offset = match quantity {
                    "" | "0" => None,
                    // Not a number: beyond the limit, so core names the field.
                    q => Some(Offset {
                        quantity: q.parse().unwrap_or(u32::MAX),
                        unit: self.unit.get_untracked(),
                        direction: self.direction.get_untracked(),
                    }),
                };
                VariableValue::Timestamp {
                    base: self.base.get_untracked(),
                    offset,
                    format: self.format.get_untracked(),
                    timezone: self.timezone.get_untracked().trim().to_owned(),
                }
            }
        };
        Some(Variable {
            name: self.name.get_untracked().trim().to_owned(),
            value,
            in_sql: self.in_sql.get_untracked(),
        })
    }
}

/// The variables being typed: a job's (`settings.variables`, query variables too) or a
/// workflow's (`spec.variables`).
#[derive(Debug, Clone, Copy)]
pub struct VariableList {
    /// Rows are created under the owner current when the list was made, so they live as
    /// long as the form holding it, not as long as the part of the view that added them.
    owner: StoredValue<Owner>,
    next_key: StoredValue<u64>,
    pub rows: RwSignal<Vec<VariableRow>>,
    /// The field path of the list, as `core` and the server name its errors.
    prefix: &'static str,
    /// Whether query variables are offered.
    queries: bool,
}

impl VariableList {
    pub fn new(prefix: &'static str, queries: bool) -> Self {
        VariableList {
            owner: StoredValue::new(Owner::current().unwrap_or_default()),
            next_key: StoredValue::new(0),
            rows: RwSignal::new(Vec::new()),
            prefix,
            queries,
        }
    }

    /// Rows for saved variables, replacing those typed.
    pub fn load(&self, saved: &[Variable]) {
        let zone = browser_zone();
        let rows = saved
            .iter()
            .map(|v| {
                let key = self.key();
                self.owned(|| VariableRow::from_variable(key, v, &zone))
            })
            .collect();
        self.rows.set(rows);
    }

    /// The variables as typed; what cannot be built goes to `errors` (`prefix[i]...`).
    pub fn definitions(&self, errors: &mut FieldErrors) -> Vec<Variable> {
        self.rows
            .get_untracked()
            .iter()
            .enumerate()
            .filter_map(|(i, row)| row.variable(self.prefix, i, errors))
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

/// The variables, one row each with its example, and a button to add one (up to
/// `MAX_VARIABLES`).
#[component]
pub fn VariablesEditor(
    list: VariableList,
    form: Form,
    /// The organization's connections, for query variables (`None` offers none: a
    /// workflow's variables are texts and times).
    #[prop(optional)]
    conns: Option<StoredValue<Vec<ConnectionView>>>,
    /// The hint under the heading, when where the variables go differs from a transfer's
    /// (default [`Key::VariablesHint`]).
    #[prop(optional)]
    hint: Option<Key>,
) -> impl IntoView {
    let lang = use_lang();
    let databases = sql_connections(conns.unwrap_or_else(|| StoredValue::new(Vec::new())));
    let queries = list.queries && conns.is_some();
    let prefix = list.prefix;
    let add = move |_| {
        let key = list.key();
        let row = list.owned(|| VariableRow::new(key, &browser_zone()));
        list.rows.update(|v| v.push(row));
        let i = list.rows.with_untracked(Vec::len) - 1;
        crate::forms::focus(&form.input_id(&format!("{prefix}[{i}].name")));
    };
    // Every variable as typed, read reactively so the examples follow the inputs.
    let all_variables = move || {
        let rows = list.rows.get();
        for r in &rows {
            r.name.track();
            r.kind.track();
            r.value.track();
            r.base.track();
            r.quantity.track();
            r.unit.track();
            r.direction.track();
            r.format.track();
            r.timezone.track();
        }
        list.definitions(&mut FieldErrors::default())
    };
    let rows = move || {
        list.rows
            .get()
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                let p = move |f: &str| format!("{prefix}[{i}].{f}");
                let kind_id = form.input_id(&p("value.kind"));
                let sql_use_id = form.input_id(&p("in_sql"));
                let example = move || {
                    let name = row.name.get().trim().to_owned();
                    if row.kind.get() == "query" {
                        return view! { <p class="hint">{tr(Key::VarExampleQuery)}</p> }.into_any();
                    }
                    match example_value(&all_variables(), &name) {
                        Some(v) => view! {
                            <p class="hint example" data-testid="variable-example">
                                {tr(Key::VarExample)} " " <code>{v}</code>
                            </p>
                        }
                        .into_any(),
                        None => view! { <p class="hint">{tr(Key::VarExampleInvalid)}</p> }.into_any(),
                    }
                };
                let kind_inputs = move || match row.kind.get().as_str() {
                    "string" => row_input(form, p("value.value"), Key::VariableText, row.value, None).into_any(),
                    "query" => {
                        let conn_id = form.input_id(&p("value.connection_id"));
                        let sql_id = form.input_id(&p("value.sql"));
                        view! {
                            <div class="field">
                                <label for=conn_id.clone()>{tr(Key::VarQueryConnection)}</label>
                                <select id=conn_id on:change=move |ev| row.connection.set(event_target_value(&ev).parse().ok())>
                                    {sql_connection_options(databases, row.connection)}
                                </select>
                                <RowError form path=p("value.connection_id") label=Key::VarQueryConnection/>
                            </div>
                            <div class="field wide">
                                <label for=sql_id.clone()>{tr(Key::VarSql)}</label>
                                <textarea id=sql_id class="code" rows="3" spellcheck="false" placeholder="SELECT max(day) FROM loaded_days"
                                    prop:value=move || row.sql.get() on:input=move |ev| row.sql.set(event_target_value(&ev))></textarea>
                                <p class="hint">{tr(Key::VarSqlHint)}</p>
                                <RowError form path=p("value.sql") label=Key::VarSql/>
                            </div>
                            {row_input(form, p("value.timeout_seconds"), Key::VarTimeout, row.timeout, None)}
                        }
                        .into_any()
                    }
                    _ => view! {
                        {row_select(form, p("value.base"), Key::VarBase, row.base, vec![
                            (TimeBase::ScheduledTime, Key::VarBaseScheduled),
                            (TimeBase::StartTime, Key::VarBaseStart),
                        ])}
                        <div class="row-inputs">
                            {row_input(form, p("value.offset.quantity"), Key::VarOffsetQuantity, row.quantity, Some(Key::VarOffsetQuantityHint))}
                            {row_select(form, p("value.offset.unit"), Key::VarOffsetUnit, row.unit, vec![
                                (OffsetUnit::Minute, Key::UnitMinute),
                                (OffsetUnit::Hour, Key::UnitHour),
                                (OffsetUnit::Day, Key::UnitDay),
                                (OffsetUnit::Week, Key::UnitWeek),
                                (OffsetUnit::Month, Key::UnitMonth),
                            ])}
                            {row_select(form, p("value.offset.direction"), Key::VarOffsetDirection, row.direction, vec![
                                (OffsetDirection::Ago, Key::DirectionAgo),
                                (OffsetDirection::Later, Key::DirectionLater),
                            ])}
                        </div>
                        {row_input(form, p("value.format"), Key::VarFormat, row.format, Some(Key::VarFormatHint))}
                        {row_input(form, p("value.timezone"), Key::VarTimezone, row.timezone, Some(Key::VarTimezoneHint))}
                    }
                    .into_any(),
                };
                view! {
                    <fieldset class="check" data-testid="variable-row">
                        <legend>{move || fill(lang.get(), Key::VariableN, &[("n", &(i + 1).to_string())])}</legend>
                        {row_input(form, p("name"), Key::VariableName, row.name, Some(Key::VariableNameHint))}
                        <div class="field">
                            <label for=kind_id.clone()>{tr(Key::VariableKind)}</label>
                            <select id=kind_id on:change=move |ev| row.kind.set(event_target_value(&ev))>
                                {[("timestamp", Key::VarKindTimestamp), ("string", Key::VarKindString), ("query", Key::VarKindQuery)]
                                    .into_iter()
                                    .filter(|(k, _)| queries || *k != "query")
                                    .map(|(k, label)| view! { <option value=k selected=move || row.kind.get() == k>{tr(label)}</option> })
                                    .collect_view()}
                            </select>
                        </div>
                        {kind_inputs}
                        <div class="field">
                            <label for=sql_use_id.clone()>{tr(Key::VarInSql)}</label>
                            <select id=sql_use_id on:change=move |ev| row.in_sql.set(match event_target_value(&ev).as_str() {
                                "identifier" => SqlUse::Identifier,
                                "raw" => SqlUse::Raw,
                                _ => SqlUse::Literal,
                            })>
                                {[("literal", SqlUse::Literal, Key::InSqlLiteral), ("identifier", SqlUse::Identifier, Key::InSqlIdentifier), ("raw", SqlUse::Raw, Key::InSqlRaw)]
                                    .into_iter()
                                    .map(|(v, u, label)| view! { <option value=v selected=move || row.in_sql.get() == u>{tr(label)}</option> })
                                    .collect_view()}
                            </select>
                        </div>
                        <div aria-live="polite">{example}</div>
                        <button type="button" class="link-button" on:click=move |_| list.rows.update(|v| v.retain(|x| x.key != row.key))>{tr(Key::RemoveVariable)}</button>
                    </fieldset>
                }
            })
            .collect_view()
    };
    view! {
        <h3>{tr(Key::Variables)}</h3>
        <p class="hint">{tr(hint.unwrap_or(Key::VariablesHint))}</p>
        {rows}
        <button type="button" on:click=add disabled=move || { list.rows.with(Vec::len) >= hakobu_core::variables::MAX_VARIABLES }>
            {tr(Key::AddVariable)}
        </button>
    }
}
