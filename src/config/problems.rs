//! Located problems: every error and warning names the file, line, column and config path.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One finding about a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    pub file: PathBuf,
    /// 1-based line and column; `None` when the problem has no single place (a missing section).
    pub position: Option<(usize, usize)>,
    /// Where in the configuration, e.g. `accounts[0].users[1] "develop"`.
    pub at: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}", self.file.display())?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": {level}")?;
        if !self.at.is_empty() {
            write!(f, " in {}", self.at)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Collects problems while a file is checked, turning byte spans into line and column.
pub struct Problems<'a> {
    file: PathBuf,
    text: &'a str,
    pub list: Vec<Problem>,
}

impl<'a> Problems<'a> {
    pub fn new(file: &Path, text: &'a str) -> Self {
        Problems {
            file: file.to_path_buf(),
            text,
            list: Vec::new(),
        }
    }

    /// 1-based (line, column) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
        (line, column)
    }

    fn position(&self, span: &Range<usize>) -> Option<(usize, usize)> {
        // Defaults carry an empty 0..0 span: they have no place in the file.
        (span.end > 0).then(|| self.line_col(span.start))
    }

    pub fn error(
        &mut self,
        span: &Range<usize>,
        at: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.push(
            Severity::Error,
            self.position(span),
            at.into(),
            message.into(),
        );
    }

    pub fn warning(
        &mut self,
        span: &Range<usize>,
        at: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.push(
            Severity::Warning,
            self.position(span),
            at.into(),
            message.into(),
        );
    }

    /// An error at an explicit line and column (inside a policy document embedded in the file).
    pub fn error_at(
        &mut self,
        position: (usize, usize),
        at: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Error, Some(position), at.into(), message.into());
    }

    fn push(
        &mut self,
        severity: Severity,
        position: Option<(usize, usize)>,
        at: String,
        message: String,
    ) {
        self.list.push(Problem {
            severity,
            file: self.file.clone(),
            position,
            at,
            message,
        });
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|p| p.severity == Severity::Error)
    }

    /// The text a span covers, as written in the file.
    pub fn source(&self, span: &Range<usize>) -> &'a str {
        self.text.get(span.clone()).unwrap_or("")
    }
}
