//! Why a template did not render: a limit of [`crate::limits`] it reached, named in words
//! an analyst can act on (and as a message of `core`'s catalogue, so the API sends its
//! code), or a template Liquid cannot parse or render.

use crate::limits::{
    TEMPLATE_MAX_ASSIGNED_BYTES, TEMPLATE_MAX_INCLUDE_DEPTH, TEMPLATE_MAX_LOOP_ITERATIONS,
    TEMPLATE_MAX_OUTPUT_BYTES, TEMPLATE_MAX_RENDER_TIME, TEMPLATE_MAX_SOURCE_BYTES,
    TEMPLATE_MAX_VALUE_BYTES, human_bytes,
};
use hakobu_core::messages::{Message, MessageCode};

/// A limit every render is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// [`TEMPLATE_MAX_SOURCE_BYTES`]
    SourceSize,
    /// [`TEMPLATE_MAX_LOOP_ITERATIONS`]
    LoopIterations,
    /// [`TEMPLATE_MAX_OUTPUT_BYTES`]
    OutputSize,
    /// [`TEMPLATE_MAX_VALUE_BYTES`]
    ValueSize,
    /// [`TEMPLATE_MAX_ASSIGNED_BYTES`]
    AssignedSize,
    /// [`TEMPLATE_MAX_RENDER_TIME`]
    RenderTime,
    /// [`TEMPLATE_MAX_INCLUDE_DEPTH`]
    IncludeDepth,
}

impl Limit {
    /// The refusal, naming the limit and its value.
    pub fn message(self) -> Message {
        match self {
            Limit::SourceSize => {
                MessageCode::TemplateTooLong.with("size", human_bytes(TEMPLATE_MAX_SOURCE_BYTES))
            }
            Limit::LoopIterations => {
                MessageCode::TemplateLoops.with("n", TEMPLATE_MAX_LOOP_ITERATIONS)
            }
            Limit::OutputSize => {
                MessageCode::TemplateOutput.with("size", human_bytes(TEMPLATE_MAX_OUTPUT_BYTES))
            }
            Limit::ValueSize => {
                MessageCode::TemplateValue.with("size", human_bytes(TEMPLATE_MAX_VALUE_BYTES))
            }
            Limit::AssignedSize => {
                MessageCode::TemplateValues.with("size", human_bytes(TEMPLATE_MAX_ASSIGNED_BYTES))
            }
            Limit::RenderTime => {
                MessageCode::TemplateTime.with("seconds", TEMPLATE_MAX_RENDER_TIME.as_secs())
            }
            Limit::IncludeDepth => {
                MessageCode::TemplateIncludes.with("n", TEMPLATE_MAX_INCLUDE_DEPTH)
            }
        }
    }
}

/// Why a template did not render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// It reached a limit; the message names it.
    #[error("{}", .0.message().english())]
    Limit(Limit),
    /// Liquid refused it (syntax, an unknown variable or filter), in one line.
    #[error("{0}")]
    Invalid(String),
}

impl TemplateError {
    /// The limit it reached, if that is why.
    pub fn limit(&self) -> Option<Limit> {
        match self {
            TemplateError::Limit(l) => Some(*l),
            TemplateError::Invalid(_) => None,
        }
    }
}
