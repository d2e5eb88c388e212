//! Liquid's standard library with every way of making work bounded: the tags and filters a
//! template can use to loop, build values or write, replaced by versions that count what
//! they do against one [`Budget`] per render and stop at the limits of [`crate::limits`].
//!
//! liquid-lib's `for` and `tablerow` collect the whole range into a `Vec` before the first
//! iteration, so `(1..10000000000)` allocates without bound before anything could count
//! it; `capture` and `ifchanged` render into a `Vec` of their own that no writer limits.
//! Those four are rewritten here (the loops iterate lazily and refuse a range larger than
//! the budget before any of it exists); `assign` is rewritten to measure what it stores;
//! `include` and every filter keep liquid-lib's code behind a wrapper that checks the
//! clock and measures results. `render` is left out: Embulk's Liquid has no `render`, and
//! its `for` clause would need the same rewrite.
//!
//! Loops follow Ruby Liquid, as Embulk does: `offset` and `limit` take a window of the
//! items (liquid-rust pads a window past the end with nils), then `reversed` reverses it.

use super::error::Limit;
use crate::limits::{
    TEMPLATE_MAX_ASSIGNED_BYTES, TEMPLATE_MAX_INCLUDE_DEPTH, TEMPLATE_MAX_LOOP_ITERATIONS,
    TEMPLATE_MAX_OUTPUT_BYTES, TEMPLATE_MAX_VALUE_BYTES,
};
use liquid_core::error::ResultLiquidExt;
use liquid_core::model::{KString, KStringRef, Object, Scalar, Value, ValueCow, ValueView};
use liquid_core::parser::{
    BlockElement, FilterArguments, FilterChain, FilterReflection, TryMatchToken,
};
use liquid_core::runtime::{Interrupt, InterruptRegister, StackFrame};
use liquid_core::{
    BlockReflection, Error, Expression, Filter, Language, ParseBlock, ParseFilter, ParseTag,
    Renderable, Result, Runtime, TagBlock, TagReflection, TagTokenIter, Template,
};
use liquid_lib::stdlib;
use std::collections::HashMap;
use std::io::Write;
use std::time::Instant;

/// What one render has used so far, in the runtime's registers (one per render; the
/// frames of loops and includes share their parent's).
#[derive(Debug, Default)]
pub(super) struct Budget {
    /// When the render must have finished; set before it starts.
    deadline: Option<Instant>,
    iterations: u64,
    include_depth: usize,
    /// The size of each name's value set by `assign` or `capture`, and their sum.
    assigned: HashMap<KString, usize>,
    assigned_total: usize,
    /// The limit that stopped the render, so the caller reports it rather than the
    /// trace Liquid wraps around the error.
    pub(super) exceeded: Option<Limit>,
}

impl Budget {
    /// Starts the budget of a render that must end by `deadline`.
    pub(super) fn start(&mut self, deadline: Instant) {
        *self = Budget {
            deadline: Some(deadline),
            ..Budget::default()
        };
    }
}

/// Records `limit` as what stopped the render, and the error that unwinds it.
fn refuse(runtime: &dyn Runtime, limit: Limit) -> Error {
    let mut budget = runtime.registers().get_mut::<Budget>();
    budget.exceeded.get_or_insert(limit);
    Error::with_msg(limit.message().english())
}

/// Fails once the render's time is up.
fn check_time(runtime: &dyn Runtime) -> Result<()> {
    let late = runtime
        .registers()
        .get_mut::<Budget>()
        .deadline
        .is_some_and(|d| Instant::now() > d);
    if late {
        return Err(refuse(runtime, Limit::RenderTime));
    }
    Ok(())
}

/// Refuses a loop of `count` iterations that the remaining budget cannot cover, before
/// it starts; the iterations are charged one by one as they run (see [`charge_iteration`]).
fn check_loop_size(runtime: &dyn Runtime, count: u64) -> Result<()> {
    let used = runtime.registers().get_mut::<Budget>().iterations;
    if count > TEMPLATE_MAX_LOOP_ITERATIONS.saturating_sub(used) {
        return Err(refuse(runtime, Limit::LoopIterations));
    }
    Ok(())
}

/// Counts one loop iteration against the render's budget, and checks the clock.
fn charge_iteration(runtime: &dyn Runtime) -> Result<()> {
    let over = {
        let mut budget = runtime.registers().get_mut::<Budget>();
        budget.iterations += 1;
        budget.iterations > TEMPLATE_MAX_LOOP_ITERATIONS
    };
    if over {
        return Err(refuse(runtime, Limit::LoopIterations));
    }
    check_time(runtime)
}

/// Roughly the memory a value takes: the bytes of its text, one per array or object entry.
pub(super) fn value_size(value: &dyn ValueView) -> usize {
    if let Some(s) = value.as_scalar() {
        s.to_kstr().len()
    } else if let Some(a) = value.as_array() {
        a.values().map(|v| 1 + value_size(v)).sum()
    } else if let Some(o) = value.as_object() {
        o.iter().map(|(k, v)| 1 + k.len() + value_size(v)).sum()
    } else {
        0
    }
}

/// Stores `value` as the global `name` if it fits the value limit and the total.
fn assign_bounded(runtime: &dyn Runtime, name: &KString, value: Value) -> Result<()> {
    let size = value_size(&value);
    if size > TEMPLATE_MAX_VALUE_BYTES {
        return Err(refuse(runtime, Limit::ValueSize));
    }
    let over_total = {
        let mut budget = runtime.registers().get_mut::<Budget>();
        let before = budget.assigned.insert(name.clone(), size).unwrap_or(0);
        budget.assigned_total = budget.assigned_total - before + size;
        budget.assigned_total > TEMPLATE_MAX_ASSIGNED_BYTES
    };
    if over_total {
        return Err(refuse(runtime, Limit::AssignedSize));
    }
    runtime.set_global(name.clone(), value);
    Ok(())
}

/// A writer that keeps at most `max` bytes and fails past them.
pub(super) struct LimitedWriter {
    pub(super) bytes: Vec<u8>,
    max: usize,
    /// Whether a write was refused for the limit.
    pub(super) overflowed: bool,
}

impl LimitedWriter {
    pub(super) fn new(max: usize) -> Self {
        LimitedWriter {
            bytes: Vec::new(),
            max,
            overflowed: false,
        }
    }

    /// The text written (Liquid writes UTF-8 only).
    pub(super) fn into_string(self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

impl Write for LimitedWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + data.len() > self.max {
            self.overflowed = true;
            return Err(std::io::Error::other(
                "the template's output limit is reached",
            ));
        }
        self.bytes.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The language every template is parsed with: liquid-lib's standard library with the
/// bounded versions in place.
pub(super) fn language() -> Language {
    let mut lang = Language::empty();
    let mut tag = |t: Box<dyn ParseTag>| {
        let name = t.reflection().tag().to_owned();
        lang.tags.register(name, t);
    };
    tag(Box::new(AssignTag));
    tag(Box::new(stdlib::BreakTag));
    tag(Box::new(stdlib::ContinueTag));
    tag(Box::new(stdlib::CycleTag));
    tag(Box::new(IncludeTag));
    tag(Box::new(stdlib::IncrementTag));
    tag(Box::new(stdlib::DecrementTag));
    let mut block = |b: Box<dyn ParseBlock>| {
        let name = b.reflection().start_tag().to_owned();
        lang.blocks.register(name, b);
    };
    block(Box::new(stdlib::RawBlock));
    block(Box::new(stdlib::IfBlock));
    block(Box::new(stdlib::UnlessBlock));
    block(Box::new(IfChangedBlock));
    block(Box::new(ForBlock));
    block(Box::new(TableRowBlock));
    block(Box::new(stdlib::CommentBlock));
    block(Box::new(CaptureBlock));
    block(Box::new(stdlib::CaseBlock));
    let filters: Vec<Box<dyn ParseFilter>> = vec![
        Box::new(stdlib::Abs),
        Box::new(stdlib::Append),
        Box::new(stdlib::AtLeast),
        Box::new(stdlib::AtMost),
        Box::new(stdlib::Capitalize),
        Box::new(stdlib::Ceil),
        Box::new(stdlib::Compact),
        Box::new(stdlib::Concat),
        Box::new(stdlib::Date),
        Box::new(stdlib::Default),
        Box::new(stdlib::DividedBy),
        Box::new(stdlib::Downcase),
        Box::new(stdlib::Escape),
        Box::new(stdlib::EscapeOnce),
        Box::new(stdlib::First),
        Box::new(stdlib::Floor),
        Box::new(stdlib::Join),
        Box::new(stdlib::Last),
        Box::new(stdlib::Lstrip),
        Box::new(stdlib::Map),
        Box::new(stdlib::Minus),
        Box::new(stdlib::Modulo),
        Box::new(stdlib::NewlineToBr),
        Box::new(stdlib::Plus),
        Box::new(stdlib::Prepend),
        Box::new(stdlib::Remove),
        Box::new(stdlib::RemoveFirst),
        Box::new(stdlib::Replace),
        Box::new(stdlib::ReplaceFirst),
        Box::new(stdlib::Reverse),
        Box::new(stdlib::Round),
        Box::new(stdlib::Rstrip),
        Box::new(stdlib::Size),
        Box::new(stdlib::Slice),
        Box::new(stdlib::Sort),
        Box::new(stdlib::SortNatural),
        Box::new(stdlib::Split),
        Box::new(stdlib::Strip),
        Box::new(stdlib::StripHtml),
        Box::new(stdlib::StripNewlines),
        Box::new(stdlib::Times),
        Box::new(stdlib::Truncate),
        Box::new(stdlib::TruncateWords),
        Box::new(stdlib::Uniq),
        Box::new(stdlib::Upcase),
        Box::new(stdlib::UrlDecode),
        Box::new(stdlib::UrlEncode),
        Box::new(stdlib::Where),
    ];
    for inner in filters {
        let name = inner.reflection().name().to_owned();
        lang.filters
            .register(name, Box::new(BoundedFilter { inner }));
    }
    lang
}

// --- loops ---

/// What a loop iterates over, as parsed.
#[derive(Clone, Debug)]
enum RangeExpression {
    Array(Expression),
    Counted(Expression, Expression),
}

impl std::fmt::Display for RangeExpression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RangeExpression::Array(a) => write!(f, "{a}"),
            RangeExpression::Counted(start, end) => write!(f, "({start}..{end})"),
        }
    }
}

/// What a loop iterates over, evaluated but not materialised: a counted range stays two
/// numbers, an array stays the value it is.
enum Items<'r> {
    Counted {
        start: i64,
        len: u64,
    },
    Array(ValueCow<'r>),
    /// An object iterates as `[key, value]` pairs, made from a value that already exists
    /// (so no larger than it).
    Pairs(Vec<Value>),
    Empty,
}

impl<'r> Items<'r> {
    fn evaluate(range: &'r RangeExpression, runtime: &'r dyn Runtime) -> Result<Items<'r>> {
        match range {
            RangeExpression::Counted(start, stop) => {
                let start = int_argument(start, runtime, "start")?;
                let stop = int_argument(stop, runtime, "end")?;
                // i128: the length of (-2^63..2^63-1) does not fit an i64.
                let len = (i128::from(stop) - i128::from(start) + 1).max(0);
                Ok(Items::Counted {
                    start,
                    len: u64::try_from(len).unwrap_or(u64::MAX),
                })
            }
            RangeExpression::Array(expression) => {
                let value = expression.evaluate(runtime)?;
                let view = value.as_view();
                if view.as_array().is_some() {
                    Ok(Items::Array(value))
                } else if let Some(object) = view.as_object() {
                    Ok(Items::Pairs(
                        object
                            .iter()
                            .map(|(k, v)| {
                                Value::Array(vec![Value::scalar(k.into_owned()), v.to_value()])
                            })
                            .collect(),
                    ))
                } else if view.is_state() || view.is_nil() {
                    Ok(Items::Empty)
                } else {
                    Err(Error::with_msg(format!(
                        "Expected array, found `{}`",
                        view.type_name()
                    )))
                }
            }
        }
    }

    fn len(&self) -> u64 {
        match self {
            Items::Counted { len, .. } => *len,
            Items::Array(v) => v.as_view().as_array().map_or(0, |a| a.size().max(0) as u64),
            Items::Pairs(pairs) => pairs.len() as u64,
            Items::Empty => 0,
        }
    }

    /// The item at `index` (< [`Items::len`]).
    fn get(&self, index: u64) -> Value {
        match self {
            Items::Counted { start, .. } => Value::scalar(start.wrapping_add(index as i64)),
            Items::Array(v) => v
                .as_view()
                .as_array()
                .and_then(|a| a.get(index as i64))
                .map_or(Value::Nil, |item| item.to_value()),
            Items::Pairs(pairs) => pairs.get(index as usize).cloned().unwrap_or(Value::Nil),
            Items::Empty => Value::Nil,
        }
    }
}

/// The window `offset`/`limit` take of `len` items: its first index and its length.
fn window(len: u64, offset: Option<i64>, limit: Option<i64>) -> (u64, u64) {
    let offset = (offset.unwrap_or(0).max(0) as u64).min(len);
    let rest = len - offset;
    let count = limit.map_or(rest, |l| (l.max(0) as u64).min(rest));
    (offset, count)
}

fn int_argument(arg: &Expression, runtime: &dyn Runtime, name: &str) -> Result<i64> {
    let value = arg.evaluate(runtime)?;
    value
        .as_scalar()
        .and_then(|v| v.to_integer())
        .ok_or_else(|| {
            Error::with_msg(format!(
                "Expected whole number, found `{}`",
                value.type_name()
            ))
            .context("argument", name.to_owned())
        })
}

fn optional_int(
    arg: &Option<Expression>,
    runtime: &dyn Runtime,
    name: &str,
) -> Result<Option<i64>> {
    arg.as_ref()
        .map(|a| int_argument(a, runtime, name))
        .transpose()
}

/// `var in range` and the `name: value` parameters after it, as `for` and `tablerow` take.
struct LoopHead {
    var_name: KString,
    range: RangeExpression,
    params: HashMap<String, Expression>,
    reversed: bool,
}

fn parse_loop_head(
    arguments: &mut TagTokenIter<'_>,
    allowed: &[&str],
    allow_reversed: bool,
) -> Result<LoopHead> {
    let var_name = arguments
        .expect_next("Identifier expected.")?
        .expect_identifier()
        .into_result()?;
    arguments
        .expect_next("\"in\" expected.")?
        .expect_str("in")
        .into_result_custom_msg("\"in\" expected.")?;
    let range = arguments.expect_next("Array or range expected.")?;
    let range = match range.expect_value() {
        TryMatchToken::Matches(array) => RangeExpression::Array(array),
        TryMatchToken::Fails(range) => match range.expect_range() {
            TryMatchToken::Matches((start, stop)) => RangeExpression::Counted(start, stop),
            TryMatchToken::Fails(range) => return range.raise_error().into_err(),
        },
    };
    let mut params = HashMap::new();
    let mut reversed = false;
    while let Some(token) = arguments.next() {
        let word = token.as_str().to_owned();
        if allow_reversed && word == "reversed" {
            reversed = true;
        } else if allowed.contains(&word.as_str()) {
            arguments
                .expect_next("\":\" expected.")?
                .expect_str(":")
                .into_result_custom_msg("\":\" expected.")?;
            let value = arguments
                .expect_next("Value expected.")?
                .expect_value()
                .into_result()?;
            params.insert(word, value);
        } else {
            let expected = allowed
                .iter()
                .map(|a| format!("\"{a}\""))
                .chain(allow_reversed.then(|| "\"reversed\"".to_owned()))
                .collect::<Vec<_>>()
                .join(", ");
            return token
                .raise_custom_error(&format!("{expected} expected."))
                .into_err();
        }
    }
    arguments.expect_nothing()?;
    Ok(LoopHead {
        var_name: KString::from_ref(var_name),
        range,
        params,
        reversed,
    })
}

/// `{% for x in items %}...{% else %}...{% endfor %}`, iterating lazily within the budget.
#[derive(Copy, Clone, Debug, Default)]
struct ForBlock;

impl BlockReflection for ForBlock {
    fn start_tag(&self) -> &str {
        "for"
    }
    fn end_tag(&self) -> &str {
        "endfor"
    }
    fn description(&self) -> &str {
        "Repeats its body for each item, within the render's loop budget."
    }
}

impl ParseBlock for ForBlock {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        mut tokens: TagBlock<'_, '_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        let mut head = parse_loop_head(&mut arguments, &["limit", "offset"], true)?;
        let mut body = Vec::new();
        let mut otherwise = None;
        while let Some(element) = tokens.next()? {
            match element {
                BlockElement::Tag(mut tag) if tag.name() == "else" => {
                    tag.tokens().expect_nothing()?;
                    otherwise = Some(Template::new(tokens.parse_all(options)?));
                    break;
                }
                BlockElement::Tag(tag) => body.push(tag.parse(&mut tokens, options)?),
                element => body.push(element.parse(&mut tokens, options)?),
            }
        }
        tokens.assert_empty();
        Ok(Box::new(For {
            limit: head.params.remove("limit"),
            offset: head.params.remove("offset"),
            var_name: head.var_name,
            range: head.range,
            reversed: head.reversed,
            body: Template::new(body),
            otherwise,
        }))
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

#[derive(Debug)]
struct For {
    var_name: KString,
    range: RangeExpression,
    limit: Option<Expression>,
    offset: Option<Expression>,
    reversed: bool,
    body: Template,
    otherwise: Option<Template>,
}

impl For {
    fn trace(&self) -> String {
        format!("{{% for {} in {} %}}", self.var_name, self.range)
    }
}

/// `forloop`: where an iteration stands.
fn forloop_object(i: u64, len: u64, parent: Option<Value>) -> Value {
    let (i, len) = (i as i64, len as i64);
    let mut o = Object::new();
    o.insert("length".into(), Value::scalar(len));
    o.insert("index0".into(), Value::scalar(i));
    o.insert("index".into(), Value::scalar(i + 1));
    o.insert("rindex0".into(), Value::scalar(len - i - 1));
    o.insert("rindex".into(), Value::scalar(len - i));
    o.insert("first".into(), Value::scalar(i == 0));
    o.insert("last".into(), Value::scalar(i == len - 1));
    if let Some(parent) = parent {
        o.insert("parentloop".into(), parent);
    }
    Value::Object(o)
}

impl Renderable for For {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let items = Items::evaluate(&self.range, runtime).trace_with(|| self.trace().into())?;
        let offset = optional_int(&self.offset, runtime, "offset")?;
        let limit = optional_int(&self.limit, runtime, "limit")?;
        let (first, count) = window(items.len(), offset, limit);
        check_loop_size(runtime, count)?;
        if count == 0 {
            if let Some(otherwise) = &self.otherwise {
                otherwise
                    .render_to(writer, runtime)
                    .trace("{% else %}")
                    .trace_with(|| self.trace().into())?;
            }
            return Ok(());
        }
        let parent = runtime
            .try_get(&[Scalar::new("forloop")])
            .map(|v| v.into_owned());
        for i in 0..count {
            charge_iteration(runtime)?;
            let index = if self.reversed {
                first + count - 1 - i
            } else {
                first + i
            };
            let item = items.get(index);
            let forloop = forloop_object(i, count, parent.clone());
            let mut root = HashMap::<KStringRef<'_>, &dyn ValueView>::new();
            root.insert("forloop".into(), &forloop);
            root.insert(self.var_name.as_ref(), &item);
            let scope = StackFrame::new(runtime, &root);
            self.body
                .render_to(writer, &scope)
                .trace_with(|| self.trace().into())
                .context_key("index")
                .value_with(|| format!("{}", i + 1).into())?;
            // `continue` only needs clearing at the end of the body; `break` stops.
            let interrupt = scope.registers().get_mut::<InterruptRegister>().reset();
            if let Some(Interrupt::Break) = interrupt {
                break;
            }
        }
        Ok(())
    }
}

/// `{% tablerow x in items cols: n %}`: HTML table cells, within the same loop budget.
#[derive(Copy, Clone, Debug, Default)]
struct TableRowBlock;

impl BlockReflection for TableRowBlock {
    fn start_tag(&self) -> &str {
        "tablerow"
    }
    fn end_tag(&self) -> &str {
        "endtablerow"
    }
    fn description(&self) -> &str {
        "Writes its body once per item as HTML table cells, within the render's loop budget."
    }
}

impl ParseBlock for TableRowBlock {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        mut tokens: TagBlock<'_, '_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        let mut head = parse_loop_head(&mut arguments, &["cols", "limit", "offset"], false)?;
        let body = Template::new(tokens.parse_all(options)?);
        tokens.assert_empty();
        Ok(Box::new(TableRow {
            cols: head.params.remove("cols"),
            limit: head.params.remove("limit"),
            offset: head.params.remove("offset"),
            var_name: head.var_name,
            range: head.range,
            body,
        }))
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

#[derive(Debug)]
struct TableRow {
    var_name: KString,
    range: RangeExpression,
    cols: Option<Expression>,
    limit: Option<Expression>,
    offset: Option<Expression>,
    body: Template,
}

impl Renderable for TableRow {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let trace = || format!("{{% tablerow {} in {} %}}", self.var_name, self.range);
        let items = Items::evaluate(&self.range, runtime).trace_with(|| trace().into())?;
        let offset = optional_int(&self.offset, runtime, "offset")?;
        let limit = optional_int(&self.limit, runtime, "limit")?;
        let (first, count) = window(items.len(), offset, limit);
        check_loop_size(runtime, count)?;
        let cols = optional_int(&self.cols, runtime, "cols")?
            .filter(|c| *c > 0)
            .map_or(count.max(1), |c| c as u64);
        let failed = |_| Error::with_msg("Failed to render");
        for i in 0..count {
            charge_iteration(runtime)?;
            let item = items.get(first + i);
            let (col, row) = (i % cols, i / cols);
            let last = i == count - 1;
            let col_last = col == cols - 1 || last;
            let mut tablerow = Object::new();
            tablerow.insert("length".into(), Value::scalar(count as i64));
            tablerow.insert("index0".into(), Value::scalar(i as i64));
            tablerow.insert("index".into(), Value::scalar(i as i64 + 1));
            tablerow.insert("rindex0".into(), Value::scalar((count - i - 1) as i64));
            tablerow.insert("rindex".into(), Value::scalar((count - i) as i64));
            tablerow.insert("first".into(), Value::scalar(i == 0));
            tablerow.insert("last".into(), Value::scalar(last));
            tablerow.insert("col0".into(), Value::scalar(col as i64));
            tablerow.insert("col".into(), Value::scalar(col as i64 + 1));
            tablerow.insert("col_first".into(), Value::scalar(col == 0));
            tablerow.insert("col_last".into(), Value::scalar(col_last));
            let tablerow = Value::Object(tablerow);
            if col == 0 {
                write!(writer, "<tr class=\"row{}\">", row + 1).map_err(failed)?;
            }
            write!(writer, "<td class=\"col{}\">", col + 1).map_err(failed)?;
            let mut root = HashMap::<KStringRef<'_>, &dyn ValueView>::new();
            root.insert("tablerow".into(), &tablerow);
            root.insert(self.var_name.as_ref(), &item);
            let scope = StackFrame::new(runtime, &root);
            self.body
                .render_to(writer, &scope)
                .trace_with(|| trace().into())
                .context_key("index")
                .value_with(|| format!("{}", i + 1).into())?;
            write!(writer, "</td>").map_err(failed)?;
            if col_last {
                write!(writer, "</tr>").map_err(failed)?;
            }
        }
        Ok(())
    }
}

// --- values ---

/// `{% assign name = value | filters %}`, measuring what it stores.
#[derive(Copy, Clone, Debug, Default)]
struct AssignTag;

impl TagReflection for AssignTag {
    fn tag(&self) -> &'static str {
        "assign"
    }
    fn description(&self) -> &'static str {
        "Sets a variable, within the render's value limits."
    }
}

impl ParseTag for AssignTag {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        let name = arguments
            .expect_next("Identifier expected.")?
            .expect_identifier()
            .into_result()?;
        arguments
            .expect_next("Assignment operator \"=\" expected.")?
            .expect_str("=")
            .into_result_custom_msg("Assignment operator \"=\" expected.")?;
        let value = arguments
            .expect_next("FilterChain expected.")?
            .expect_filter_chain(options)
            .into_result()?;
        arguments.expect_nothing()?;
        Ok(Box::new(Assign {
            name: KString::from_ref(name),
            value,
        }))
    }

    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

#[derive(Debug)]
struct Assign {
    name: KString,
    value: FilterChain,
}

impl Renderable for Assign {
    fn render_to(&self, _writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let value = self
            .value
            .evaluate(runtime)
            .trace_with(|| format!("{{% assign {} = {} %}}", self.name, self.value).into())?
            .into_owned();
        assign_bounded(runtime, &self.name, value)
    }
}

/// `{% capture name %}...{% endcapture %}`, rendering into a writer that stops at the
/// value limit.
#[derive(Copy, Clone, Debug, Default)]
struct CaptureBlock;

impl BlockReflection for CaptureBlock {
    fn start_tag(&self) -> &str {
        "capture"
    }
    fn end_tag(&self) -> &str {
        "endcapture"
    }
    fn description(&self) -> &str {
        "Sets a variable to what its body writes, within the render's value limits."
    }
}

impl ParseBlock for CaptureBlock {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        mut tokens: TagBlock<'_, '_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        let name = arguments
            .expect_next("Identifier expected")?
            .expect_identifier()
            .into_result()?;
        arguments.expect_nothing()?;
        let body = Template::new(tokens.parse_all(options)?);
        tokens.assert_empty();
        Ok(Box::new(Capture {
            name: KString::from_ref(name),
            body,
        }))
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

#[derive(Debug)]
struct Capture {
    name: KString,
    body: Template,
}

impl Renderable for Capture {
    fn render_to(&self, _writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let mut captured = LimitedWriter::new(TEMPLATE_MAX_VALUE_BYTES);
        if let Err(e) = self.body.render_to(&mut captured, runtime) {
            if captured.overflowed {
                return Err(refuse(runtime, Limit::ValueSize));
            }
            return Err(e.trace(format!("{{% capture {} %}}", self.name)));
        }
        assign_bounded(runtime, &self.name, Value::scalar(captured.into_string()))
    }
}

/// `{% ifchanged %}...{% endifchanged %}`, rendering its body within the output limit.
#[derive(Copy, Clone, Debug, Default)]
struct IfChangedBlock;

impl BlockReflection for IfChangedBlock {
    fn start_tag(&self) -> &str {
        "ifchanged"
    }
    fn end_tag(&self) -> &str {
        "endifchanged"
    }
    fn description(&self) -> &str {
        "Writes its body when it differs from the last time."
    }
}

impl ParseBlock for IfChangedBlock {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        mut tokens: TagBlock<'_, '_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        arguments.expect_nothing()?;
        let body = Template::new(tokens.parse_all(options)?);
        tokens.assert_empty();
        Ok(Box::new(IfChanged { body }))
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

#[derive(Debug)]
struct IfChanged {
    body: Template,
}

/// The last text an `ifchanged` wrote.
#[derive(Debug, Default)]
struct LastChanged(Option<String>);

impl Renderable for IfChanged {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let mut rendered = LimitedWriter::new(TEMPLATE_MAX_OUTPUT_BYTES);
        if let Err(e) = self.body.render_to(&mut rendered, runtime) {
            if rendered.overflowed {
                return Err(refuse(runtime, Limit::OutputSize));
            }
            return Err(e.trace("{% ifchanged %}"));
        }
        let rendered = rendered.into_string();
        let changed = {
            let mut last = runtime.registers().get_mut::<LastChanged>();
            let changed = last.0.as_deref() != Some(rendered.as_str());
            if changed {
                last.0 = Some(rendered.clone());
            }
            changed
        };
        if changed {
            writer
                .write_all(rendered.as_bytes())
                .map_err(|_| Error::with_msg("Failed to render"))?;
        }
        Ok(())
    }
}

// --- includes ---

/// liquid-lib's `include`, counting how deep includes nest.
#[derive(Copy, Clone, Debug, Default)]
struct IncludeTag;

impl TagReflection for IncludeTag {
    fn tag(&self) -> &'static str {
        "include"
    }
    fn description(&self) -> &'static str {
        "Renders a partial in place, at most a few levels deep."
    }
}

impl ParseTag for IncludeTag {
    fn parse(
        &self,
        arguments: TagTokenIter<'_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        let inner = stdlib::IncludeTag.parse(arguments, options)?;
        Ok(Box::new(Include { inner }))
    }

    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

#[derive(Debug)]
struct Include {
    inner: Box<dyn Renderable>,
}

impl Renderable for Include {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        check_time(runtime)?;
        let too_deep = {
            let mut budget = runtime.registers().get_mut::<Budget>();
            budget.include_depth += 1;
            budget.include_depth > TEMPLATE_MAX_INCLUDE_DEPTH
        };
        let result = if too_deep {
            Err(refuse(runtime, Limit::IncludeDepth))
        } else {
            self.inner.render_to(writer, runtime)
        };
        runtime.registers().get_mut::<Budget>().include_depth -= 1;
        result
    }
}

// --- filters ---

/// A liquid-lib filter behind a check of the clock and of the size of what it makes.
#[derive(Clone)]
struct BoundedFilter {
    inner: Box<dyn ParseFilter>,
}

impl ParseFilter for BoundedFilter {
    fn parse(&self, arguments: FilterArguments<'_>) -> Result<Box<dyn Filter>> {
        // The arguments are kept to size the result of `replace` and `join` before
        // they run; the filter gets them as it would have.
        let positional: Vec<Expression> = arguments.positional.collect();
        let keyword: Vec<(&str, Expression)> = arguments.keyword.collect();
        let inner = self.inner.parse(FilterArguments {
            positional: Box::new(positional.clone().into_iter()),
            keyword: Box::new(keyword.into_iter()),
        })?;
        Ok(Box::new(Bounded {
            name: self.inner.reflection().name().to_owned(),
            positional,
            inner,
        }))
    }

    fn reflection(&self) -> &dyn FilterReflection {
        self.inner.reflection()
    }
}

#[derive(Debug)]
struct Bounded {
    name: String,
    positional: Vec<Expression>,
    inner: Box<dyn Filter>,
}

impl std::fmt::Display for Bounded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl Bounded {
    /// The size of the result, for the filters whose result can be many times the size of
    /// what they are given (so it must be known before it is made).
    fn size_before(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Option<usize>> {
        let argument = |i: usize| -> Result<String> {
            Ok(match self.positional.get(i) {
                Some(e) => e.evaluate(runtime)?.to_kstr().to_string(),
                None => String::new(),
            })
        };
        Ok(match self.name.as_str() {
            "replace" => {
                let text = input.to_kstr();
                let (search, replacement) = (argument(0)?, argument(1)?);
                let matches = if search.is_empty() {
                    text.chars().count() + 1
                } else {
                    text.matches(search.as_str()).count()
                };
                Some(text.len() + matches.saturating_mul(replacement.len()))
            }
            "join" => {
                let separator = argument(0)?;
                input.as_array().map(|a| {
                    let items = a.size().max(0) as usize;
                    a.values().map(value_size).sum::<usize>()
                        + items
                            .saturating_sub(1)
                            .saturating_mul(separator.len().max(1))
                })
            }
            _ => None,
        })
    }
}

impl Filter for Bounded {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        check_time(runtime)?;
        if self
            .size_before(input, runtime)?
            .is_some_and(|size| size > TEMPLATE_MAX_VALUE_BYTES)
        {
            return Err(refuse(runtime, Limit::ValueSize));
        }
        let value = self.inner.evaluate(input, runtime)?;
        if value_size(&value) > TEMPLATE_MAX_VALUE_BYTES {
            return Err(refuse(runtime, Limit::ValueSize));
        }
        Ok(value)
    }
}
