//! What a command hands to `main`: its product, and why it still fails, if it does.

/// What a command prints on stdout, and why it still fails, if it does: decode prints its
/// report for a token that fails verification, then exits 1.
pub struct Output {
    /// `None` when the command wrote its product itself, a line at a time (`--users`).
    pub stdout: Option<String>,
    pub failure: Option<String>,
    /// The files of a key made for this run: committed once stdout is written, else removed.
    pub pending_files: Option<crate::keys::PendingKeyFiles>,
    /// What the command changed on a Qlik site ("created the identity provider ... on ..."),
    /// said when the report cannot be written: Qlik holds the change all the same.
    pub changed: Option<String>,
}

impl Output {
    pub fn product(stdout: String) -> Self {
        Self {
            stdout: Some(stdout),
            failure: None,
            pending_files: None,
            changed: None,
        }
    }

    /// The product is on standard output already; `pending_files` wait for main as ever.
    pub fn streamed(pending_files: Option<crate::keys::PendingKeyFiles>) -> Self {
        Self {
            stdout: None,
            failure: None,
            pending_files,
            changed: None,
        }
    }

    /// The same, having changed Qlik as `what` says.
    pub fn changed(mut self, what: impl Into<String>) -> Self {
        self.changed = Some(what.into());
        self
    }
}
