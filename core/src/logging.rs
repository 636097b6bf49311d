//! Logging externally supplied values: [`Untrusted`] escapes control characters and caps
//! the length, so a `client_id`, an `idp_hint` or an upstream's `error_description` cannot
//! forge log lines (a `\n` followed by a fake record) or flood the log.
//!
//! Every value in idpkit's `tracing` calls that a client, a browser or an upstream chose goes
//! through it (`client_id = %untrusted(&id)`); hosts can use it in their own logs too.

use std::fmt;

/// At most this many characters of a value are logged; the rest is replaced by a marker.
pub const MAX_LOGGED_CHARS: usize = 512;

/// A `Display` of an externally supplied value for logs: control characters (C0, DEL, C1),
/// the Unicode line and paragraph separators and the bidirectional overrides are written as
/// `\u{..}` (`\n`, `\r`, `\t` as themselves escaped), a backslash as `\\` (so an escape in
/// the log is never ambiguous), and only the first [`MAX_LOGGED_CHARS`] characters are
/// kept, followed by `…[truncated]`.
#[derive(Clone, Copy)]
pub struct Untrusted<T>(pub T);

/// Wraps `value` for logging: `tracing::info!(client_id = %untrusted(&id), ...)`.
pub fn untrusted<T: fmt::Display>(value: T) -> Untrusted<T> {
    Untrusted(value)
}

impl<T: fmt::Display> fmt::Display for Untrusted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Escaper {
            out: f,
            left: MAX_LOGGED_CHARS,
            truncated: false,
        };
        fmt::write(&mut out, format_args!("{}", self.0))?;
        if out.truncated {
            out.out.write_str("…[truncated]")?;
        }
        Ok(())
    }
}

impl<T: fmt::Display> fmt::Debug for Untrusted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Whether `c` must not reach a log line as it is.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || c == '\\'
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

struct Escaper<'a, 'b> {
    out: &'a mut fmt::Formatter<'b>,
    left: usize,
    truncated: bool,
}

impl fmt::Write for Escaper<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.left == 0 {
                // Never an error: the caller's `to_string` would panic on one.
                self.truncated = true;
                return Ok(());
            }
            self.left -= 1;
            if !needs_escape(c) {
                self.out.write_char(c)?;
                continue;
            }
            match c {
                '\n' => self.out.write_str("\\n")?,
                '\r' => self.out.write_str("\\r")?,
                '\t' => self.out.write_str("\\t")?,
                '\\' => self.out.write_str("\\\\")?,
                c => write!(self.out, "\\u{{{:x}}}", c as u32)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_and_terminal_escapes_cannot_forge_a_log_line() {
        let forged =
            "demo\n2026-01-01T00:00:00Z  INFO idpkit: tokens issued client_id=admin\r\u{1b}[2J";
        let logged = untrusted(forged).to_string();
        assert!(!logged.chars().any(char::is_control), "{logged:?}");
        assert_eq!(
            logged,
            "demo\\n2026-01-01T00:00:00Z  INFO idpkit: tokens issued client_id=admin\\r\\u{1b}[2J"
        );
    }

    #[test]
    fn unicode_separators_bidi_overrides_c1_and_backslashes_are_escaped() {
        assert_eq!(
            untrusted("a\u{2028}b\u{202E}c\u{85}d\\n\u{7f}").to_string(),
            "a\\u{2028}b\\u{202e}c\\u{85}d\\\\n\\u{7f}"
        );
        assert_eq!(untrusted("demo-client").to_string(), "demo-client");
        assert_eq!(untrusted("ünïcödé ok").to_string(), "ünïcödé ok");
    }

    #[test]
    fn long_values_are_capped_with_a_marker() {
        let long = "x".repeat(10 * MAX_LOGGED_CHARS);
        let logged = untrusted(&long).to_string();
        assert_eq!(
            logged.chars().filter(|c| *c == 'x').count(),
            MAX_LOGGED_CHARS
        );
        assert!(logged.ends_with("…[truncated]"), "{logged}");
        let exact = "y".repeat(MAX_LOGGED_CHARS);
        assert_eq!(untrusted(&exact).to_string(), exact, "no marker at the cap");
    }

    #[test]
    fn wraps_any_display_such_as_an_error() {
        let e = crate::federation::FederationError::Upstream("bad\nline".into());
        assert_eq!(
            untrusted(&e).to_string(),
            "upstream provider error: bad\\nline"
        );
        assert_eq!(format!("{:?}", untrusted("a\nb")), "\"a\\nb\"");
    }
}
