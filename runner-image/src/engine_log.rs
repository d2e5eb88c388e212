//! The engine's own messages (info and above: a fallback it took, a leftover table it
//! dropped, a table it could not read in parallel) reach the person running the transfer:
//! printed above the progress bar in CLI mode, sent to the run's log in managed mode.
//! Without this they would go nowhere, as nothing else subscribes to the engine's events.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// One message of the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// `info`, `warn` or `error`, as the run log names levels.
    pub level: &'static str,
    pub message: String,
}

/// Where the lines go.
pub type Sink = Box<dyn Fn(Line) + Send + Sync>;

/// Sends the engine's events at INFO and above to `sink`, for the rest of the process.
pub fn forward_to(sink: Sink) {
    // A second call (tests) keeps the first subscriber; that is fine for one process.
    let _ = tracing_subscriber::registry()
        .with(Forward { sink })
        .try_init();
}

/// Lines kept for the next post to the app, at most [`BUFFERED_LINES`]: a chatty engine
/// must not grow the runner's memory. Lines past the bound are counted, not kept.
#[derive(Default, Clone)]
pub struct Buffer(Arc<Mutex<(Vec<Line>, usize)>>);

pub const BUFFERED_LINES: usize = 1000;

impl Buffer {
    pub fn sink(&self) -> Sink {
        let buffer = self.clone();
        Box::new(move |line| {
            let mut held = buffer.0.lock().unwrap_or_else(|e| e.into_inner());
            if held.0.len() < BUFFERED_LINES {
                held.0.push(line);
            } else {
                held.1 += 1;
            }
        })
    }

    /// The lines gathered since the last call, with a line saying how many were dropped.
    pub fn take(&self) -> Vec<Line> {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (mut lines, dropped) = (std::mem::take(&mut held.0), std::mem::take(&mut held.1));
        if dropped > 0 {
            lines.push(Line {
                level: "warn",
                message: format!("{dropped} more engine messages were not kept"),
            });
        }
        lines
    }
}

struct Forward {
    sink: Sink,
}

impl<S: Subscriber> Layer<S> for Forward {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        if !meta.target().starts_with("hakobu_engine") || *meta.level() > Level::INFO {
            return;
        }
        let level = match *meta.level() {
            Level::ERROR => "error",
            Level::WARN => "warn",
            _ => "info",
        };
        let mut text = Text::default();
        event.record(&mut text);
        (self.sink)(Line {
            level,
            message: text.0,
        });
    }
}

/// The event's message, then its other fields as `name=value`.
#[derive(Default)]
struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let rest = std::mem::take(&mut self.0);
            let _ = write!(self.0, "{value:?}");
            if !rest.is_empty() {
                self.0.push(' ');
                self.0.push_str(&rest);
            }
        } else {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            let _ = write!(self.0, "{}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_events_become_lines_and_others_are_left_out() {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::registry().with(Forward {
            sink: buffer.sink(),
        });
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "hakobu_engine::connectors::mysql", rows = 3, "dropping {}", "t_hakobu_1");
            tracing::warn!(target: "hakobu_engine", "local infile refused");
            tracing::debug!(target: "hakobu_engine", "too fine to show");
            tracing::info!(target: "reqwest", "not the engine's");
        });
        assert_eq!(
            buffer.take(),
            [
                Line {
                    level: "info",
                    message: "dropping t_hakobu_1 rows=3".to_owned()
                },
                Line {
                    level: "warn",
                    message: "local infile refused".to_owned()
                },
            ]
        );
        assert!(buffer.take().is_empty(), "taken once");
    }

    #[test]
    fn the_buffer_is_bounded_and_says_what_it_dropped() {
        let buffer = Buffer::default();
        let sink = buffer.sink();
        for i in 0..BUFFERED_LINES + 5 {
            sink(Line {
                level: "info",
                message: i.to_string(),
            });
        }
        let lines = buffer.take();
        assert_eq!(lines.len(), BUFFERED_LINES + 1);
        assert_eq!(
            lines.last().unwrap().message,
            "5 more engine messages were not kept"
        );
    }
}
