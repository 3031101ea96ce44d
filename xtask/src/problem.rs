//! A broken spec rule and where it was found, shared by the lint and the catalogue reader.

use std::fmt;

/// One broken rule, with where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// A dotted path into the document, such as `paths./v1/sessions.post.responses.2XX`.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Records a problem.
pub fn report(
    problems: &mut Vec<Problem>,
    location: impl Into<String>,
    message: impl Into<String>,
) {
    problems.push(Problem {
        location: location.into(),
        message: message.into(),
    });
}
