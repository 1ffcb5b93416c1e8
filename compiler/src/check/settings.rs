//! Statements of a block that may be given once: a repeat is an error that
//! points at both.

use super::Checker;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::Span;

/// A setting of a block, with the span of the statement that set it.
pub(super) struct Slot<T> {
    value: Option<(T, Span)>,
    setting: &'static str,
}

impl<T> Slot<T> {
    pub(super) fn new(setting: &'static str) -> Self {
        Slot {
            value: None,
            setting,
        }
    }

    pub(super) fn set(&mut self, checker: &mut Checker, value: T, span: Span) {
        match &self.value {
            Some((_, first)) => checker.report(
                Diagnostic::new(
                    Code::DuplicateSetting,
                    span,
                    format!("`{}` is set twice", self.setting),
                )
                .with_label("set again here")
                .with_secondary(*first, "first set here")
                .with_help("keep one of them"),
            ),
            None => self.value = Some((value, span)),
        }
    }

    pub(super) fn get(&self) -> Option<&T> {
        self.value.as_ref().map(|(v, _)| v)
    }

    pub(super) fn span(&self) -> Option<Span> {
        self.value.as_ref().map(|(_, s)| *s)
    }

    pub(super) fn take(self) -> Option<T> {
        self.value.map(|(v, _)| v)
    }

    /// The value, or an error at `block` saying the setting is missing.
    pub(super) fn require(
        &self,
        checker: &mut Checker,
        block: Span,
        what: &str,
        example: &str,
    ) -> Option<&T> {
        if self.value.is_none() {
            checker.report(
                Diagnostic::new(
                    Code::MissingSetting,
                    block,
                    format!("{what} has no `{}`", self.setting),
                )
                .with_label(format!("`{}` is required here", self.setting))
                .with_help(format!("add `{example}`")),
            );
        }
        self.get()
    }
}
