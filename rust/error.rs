//! `CoreError`: every way a pure function of the core can refuse its input.
#![forbid(unsafe_code)]

use std::fmt;

/// Why a core function refused its input. The bindings map each variant to a Python exception
/// (`relay.errors.CodecError` for the codec, `ValueError` for backoff and the token bucket); the
/// `Display` text is the message the user sees, so it names the field and the offending value.
#[derive(Debug, Clone, PartialEq)]
pub enum CoreError {
    /// The envelope's first byte is not a version this build understands.
    UnsupportedVersion(u8),
    /// The envelope ends before `field` is complete.
    Truncated { field: &'static str },
    /// A text field of the envelope is not valid UTF-8.
    InvalidUtf8 { field: &'static str },
    /// The job type is the empty string.
    EmptyJobType,
    /// A length-prefixed field is longer than its one-byte prefix can say.
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    /// An integer field is outside its allowed range (inclusive bounds, as text for the message).
    OutOfRange {
        field: &'static str,
        value: String,
        allowed: &'static str,
    },
    /// A float argument is NaN, infinite or outside its allowed range.
    InvalidFloat {
        field: &'static str,
        value: f64,
        allowed: &'static str,
    },
    /// A backoff policy name that is not `fixed`, `exponential` or `full_jitter`.
    UnknownPolicy(String),
    /// A claim reply whose overall shape is wrong (not groups of four, or an item of the wrong
    /// kind). A bad envelope inside a well-shaped reply is not this error: it is reported per job.
    MalformedReply(String),
}

impl CoreError {
    /// An [`CoreError::OutOfRange`] for any displayable value.
    pub fn out_of_range(
        field: &'static str,
        value: impl fmt::Display,
        allowed: &'static str,
    ) -> Self {
        Self::OutOfRange {
            field,
            value: value.to_string(),
            allowed,
        }
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedVersion(v) => {
                write!(f, "unsupported envelope version {v} (expected 1)")
            }
            Self::Truncated { field } => write!(f, "envelope truncated in {field}"),
            Self::InvalidUtf8 { field } => write!(f, "{field} is not valid UTF-8"),
            Self::EmptyJobType => f.write_str("job_type must not be empty"),
            Self::TooLong { field, len, max } => {
                write!(f, "{field} is {len} bytes long, at most {max} allowed")
            }
            Self::OutOfRange {
                field,
                value,
                allowed,
            } => write!(f, "{field} = {value} is out of range (allowed: {allowed})"),
            Self::InvalidFloat {
                field,
                value,
                allowed,
            } => write!(f, "{field} = {value} is invalid (allowed: {allowed})"),
            Self::UnknownPolicy(name) => write!(
                f,
                "unknown backoff policy {name:?} (expected \"fixed\", \"exponential\" or \"full_jitter\")"
            ),
            Self::MalformedReply(why) => write!(f, "malformed claim reply: {why}"),
        }
    }
}

impl std::error::Error for CoreError {}

#[cfg(test)]
mod tests {
    use super::CoreError;

    #[test]
    fn messages_name_the_field_and_value() {
        let e = CoreError::out_of_range("priority", 12, "0..=9");
        assert_eq!(
            e.to_string(),
            "priority = 12 is out of range (allowed: 0..=9)"
        );
        assert_eq!(
            CoreError::Truncated { field: "header" }.to_string(),
            "envelope truncated in header"
        );
        assert!(
            CoreError::UnknownPolicy("linear".into())
                .to_string()
                .contains("\"linear\"")
        );
    }
}
