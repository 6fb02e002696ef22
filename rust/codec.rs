//! Job envelope codec (format v1) and batch decode of claim replies — pure.
//!
//! A job's immutable record is one binary string in Redis. The Lua scripts read `max_attempts`
//! at bytes 2..4, so the layout below is a contract, not an implementation detail:
//!
//! ```text
//! offset 0      u8   version = 1
//! offset 1      u8   priority 0..=9 (raw byte)
//! offset 2..4   u16  max_attempts, big-endian, 1..=65535
//! offset 4..8   u32  timeout_ms, big-endian (0 = no timeout)
//! offset 8..16  u64  created_ms, big-endian (unix ms)
//! then          u8   type length L (1..=255), then L bytes UTF-8 job type
//! then          u8   idempotency key length K (0..=255; 0 = none), then K bytes UTF-8
//! then          the payload: every remaining byte, untouched (may be empty)
//! ```
#![forbid(unsafe_code)]

use crate::error::CoreError;

/// The only envelope version this build writes and reads.
pub const VERSION: u8 = 1;
/// Highest priority (runs first); the lowest is 0.
pub const MAX_PRIORITY: u8 = 9;
/// Fixed-size part of the envelope: version, priority, `max_attempts`, `timeout_ms`, `created_ms`.
pub const HEADER_LEN: usize = 16;
/// Longest job type and idempotency key, in bytes (their length prefix is one byte).
pub const MAX_STRING_LEN: usize = 255;

/// One job as the envelope holds it; borrows its strings and payload from the caller or from the
/// envelope being decoded, so decoding copies nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Job<'a> {
    pub job_type: &'a str,
    pub payload: &'a [u8],
    pub priority: u8,
    pub max_attempts: u16,
    pub timeout_ms: u32,
    pub created_ms: u64,
    /// `None` when the producer gave no key; an empty key is not representable (length 0 = none).
    pub idempotency_key: Option<&'a str>,
}

impl Job<'_> {
    /// The exact size of this job's envelope.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN
            + 1
            + self.job_type.len()
            + 1
            + self.idempotency_key.map_or(0, str::len)
            + self.payload.len()
    }

    /// Checks every rule the decoder enforces, so that whatever encodes also decodes.
    ///
    /// # Errors
    /// `OutOfRange` for a priority above 9 or zero `max_attempts`; `EmptyJobType`; `TooLong` for a
    /// type or key over 255 bytes; `OutOfRange` for an empty idempotency key (use `None`).
    pub fn validate(&self) -> Result<(), CoreError> {
        if self.priority > MAX_PRIORITY {
            return Err(CoreError::out_of_range("priority", self.priority, "0..=9"));
        }
        if self.max_attempts == 0 {
            return Err(CoreError::out_of_range("max_attempts", 0, "1..=65535"));
        }
        if self.job_type.is_empty() {
            return Err(CoreError::EmptyJobType);
        }
        check_len("job_type", self.job_type)?;
        if let Some(key) = self.idempotency_key {
            if key.is_empty() {
                return Err(CoreError::out_of_range(
                    "idempotency_key length",
                    0,
                    "1..=255 bytes, or None for no key",
                ));
            }
            check_len("idempotency_key", key)?;
        }
        Ok(())
    }
}

fn check_len(field: &'static str, s: &str) -> Result<(), CoreError> {
    if s.len() > MAX_STRING_LEN {
        return Err(CoreError::TooLong {
            field,
            len: s.len(),
            max: MAX_STRING_LEN,
        });
    }
    Ok(())
}

/// Encodes `job` as a v1 envelope.
///
/// # Errors
/// Whatever [`Job::validate`] rejects; nothing is written then.
pub fn encode_envelope(job: &Job<'_>) -> Result<Vec<u8>, CoreError> {
    let mut out = Vec::with_capacity(job.encoded_len());
    encode_envelope_into(job, &mut out)?;
    Ok(out)
}

/// Appends `job`'s envelope to `out` (for callers that reuse or preallocate the buffer).
///
/// # Errors
/// Whatever [`Job::validate`] rejects; `out` is left untouched then.
pub fn encode_envelope_into(job: &Job<'_>, out: &mut Vec<u8>) -> Result<(), CoreError> {
    job.validate()?;
    let key = job.idempotency_key.unwrap_or("");
    out.reserve(job.encoded_len());
    out.push(VERSION);
    out.push(job.priority);
    out.extend_from_slice(&job.max_attempts.to_be_bytes());
    out.extend_from_slice(&job.timeout_ms.to_be_bytes());
    out.extend_from_slice(&job.created_ms.to_be_bytes());
    // validate() bounded both lengths by 255, so the casts are exact.
    out.push(u8::try_from(job.job_type.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(job.job_type.as_bytes());
    out.push(u8::try_from(key.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(job.payload);
    Ok(())
}

/// A cursor over an envelope that never reads past its end.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], CoreError> {
        let (head, rest) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(CoreError::Truncated { field })?;
        self.rest = rest;
        Ok(*head)
    }

    /// A one-byte length prefix, then that many bytes of UTF-8.
    fn short_str(&mut self, field: &'static str) -> Result<&'a str, CoreError> {
        let [len] = self.take::<1>(field)?;
        let (bytes, rest) = self
            .rest
            .split_at_checked(usize::from(len))
            .ok_or(CoreError::Truncated { field })?;
        self.rest = rest;
        std::str::from_utf8(bytes).map_err(|_| CoreError::InvalidUtf8 { field })
    }
}

/// Decodes a v1 envelope, borrowing the strings and payload from `envelope`.
///
/// # Errors
/// `UnsupportedVersion`, `Truncated`, `InvalidUtf8`, `EmptyJobType`, or `OutOfRange` for a
/// priority above 9 or zero `max_attempts`. Never panics, whatever the bytes.
pub fn decode_envelope(envelope: &[u8]) -> Result<Job<'_>, CoreError> {
    let mut r = Reader { rest: envelope };
    let [version] = r.take::<1>("header")?;
    if version != VERSION {
        return Err(CoreError::UnsupportedVersion(version));
    }
    let [priority] = r.take::<1>("header")?;
    let max_attempts = u16::from_be_bytes(r.take::<2>("header")?);
    let timeout_ms = u32::from_be_bytes(r.take::<4>("header")?);
    let created_ms = u64::from_be_bytes(r.take::<8>("header")?);
    if priority > MAX_PRIORITY {
        return Err(CoreError::out_of_range("priority", priority, "0..=9"));
    }
    if max_attempts == 0 {
        return Err(CoreError::out_of_range("max_attempts", 0, "1..=65535"));
    }
    let job_type = r.short_str("job_type")?;
    if job_type.is_empty() {
        return Err(CoreError::EmptyJobType);
    }
    let key = r.short_str("idempotency_key")?;
    Ok(Job {
        job_type,
        payload: r.rest,
        priority,
        max_attempts,
        timeout_ms,
        created_ms,
        idempotency_key: (!key.is_empty()).then_some(key),
    })
}

/// One element of the flat tail of a claim reply, as Redis sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimItem<'a> {
    Bytes(&'a [u8]),
    Int(i64),
    /// Anything else (a nil, a nested array, an integer beyond i64): a malformed reply.
    Other,
}

/// A claimed job whose envelope decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimedJob<'a> {
    pub id: &'a str,
    pub job: Job<'a>,
    /// Attempts so far, this claim included (the claim script bumps it).
    pub attempts: i64,
    /// The claim token (fencing): ack and extend must present it.
    pub token: i64,
}

/// A claimed job whose envelope did not decode; the caller dead-letters it with `reason`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimFailure<'a> {
    pub id: &'a str,
    pub token: i64,
    pub reason: CoreError,
}

/// The outcome for one job of a claim reply: a bad envelope fails only its own job.
pub type ClaimOutcome<'a> = Result<ClaimedJob<'a>, ClaimFailure<'a>>;

/// Decodes one `id, envelope, attempts, token` group of a claim reply.
///
/// # Errors
/// `MalformedReply` when the id is not UTF-8 (ids are relay's own, so the reply itself is broken).
/// A bad envelope is not an error here: it comes back as `Ok(Err(ClaimFailure))`.
pub fn decode_claim_group<'a>(
    id: &'a [u8],
    envelope: &'a [u8],
    attempts: i64,
    token: i64,
) -> Result<ClaimOutcome<'a>, CoreError> {
    let id = std::str::from_utf8(id)
        .map_err(|_| CoreError::MalformedReply("job id is not valid UTF-8".into()))?;
    Ok(match decode_envelope(envelope) {
        Ok(job) => Ok(ClaimedJob {
            id,
            job,
            attempts,
            token,
        }),
        Err(reason) => Err(ClaimFailure { id, token, reason }),
    })
}

/// Decodes the flat tail of a claim reply: repeating groups of `id (bytes), envelope (bytes),
/// attempts (int), token (int)`.
///
/// # Errors
/// `MalformedReply` when the length is not a multiple of 4, an item has the wrong kind, or an id
/// is not UTF-8. Bad envelopes fail only their own job (see [`ClaimOutcome`]).
pub fn decode_claim_items<'a>(items: &[ClaimItem<'a>]) -> Result<Vec<ClaimOutcome<'a>>, CoreError> {
    if items.len() % 4 != 0 {
        return Err(CoreError::MalformedReply(format!(
            "{} items is not a whole number of (id, envelope, attempts, token) groups",
            items.len()
        )));
    }
    items
        .chunks_exact(4)
        .enumerate()
        .map(|(group, chunk)| match *chunk {
            [
                ClaimItem::Bytes(id),
                ClaimItem::Bytes(envelope),
                ClaimItem::Int(attempts),
                ClaimItem::Int(token),
            ] => decode_claim_group(id, envelope, attempts, token),
            _ => Err(CoreError::MalformedReply(format!(
                "group {group} is not (bytes, bytes, int, int)"
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Job<'static> {
        Job {
            job_type: "email.send",
            payload: br#"{"to":"a@b.c"}"#,
            priority: 7,
            max_attempts: 5,
            timeout_ms: 300_000,
            created_ms: 1_732_900_000_123,
            idempotency_key: Some("order-42"),
        }
    }

    #[test]
    fn layout_is_exact() {
        let env = encode_envelope(&sample()).unwrap();
        let mut want = vec![1u8, 7, 0, 5, 0, 0x04, 0x93, 0xE0];
        want.extend_from_slice(&1_732_900_000_123u64.to_be_bytes());
        want.push(10);
        want.extend_from_slice(b"email.send");
        want.push(8);
        want.extend_from_slice(b"order-42");
        want.extend_from_slice(br#"{"to":"a@b.c"}"#);
        assert_eq!(env, want);
        assert_eq!(env.len(), sample().encoded_len());
        // What the Lua scripts read: max_attempts at bytes 2..4, big-endian.
        assert_eq!(u16::from_be_bytes([env[2], env[3]]), 5);
    }

    #[test]
    fn round_trips() {
        let job = sample();
        assert_eq!(
            decode_envelope(&encode_envelope(&job).unwrap()).unwrap(),
            job
        );
        let bare = Job {
            payload: b"",
            idempotency_key: None,
            priority: 0,
            max_attempts: u16::MAX,
            timeout_ms: u32::MAX,
            created_ms: u64::MAX,
            job_type: "x",
        };
        assert_eq!(
            decode_envelope(&encode_envelope(&bare).unwrap()).unwrap(),
            bare
        );
        let long = "é".repeat(127); // 254 bytes of two-byte characters
        let job = Job {
            job_type: &long,
            idempotency_key: Some(&long),
            ..sample()
        };
        assert_eq!(
            decode_envelope(&encode_envelope(&job).unwrap()).unwrap(),
            job
        );
    }

    #[test]
    fn payload_passes_through_untouched() {
        let payload = [0u8, 0xff, 0xfe, b'\n', 1];
        let job = Job {
            payload: &payload,
            ..sample()
        };
        let env = encode_envelope(&job).unwrap();
        assert_eq!(decode_envelope(&env).unwrap().payload, &payload);
    }

    #[test]
    fn encode_appends() {
        let mut out = vec![9u8];
        encode_envelope_into(&sample(), &mut out).unwrap();
        assert_eq!(out[0], 9);
        assert_eq!(decode_envelope(&out[1..]).unwrap(), sample());
        let before = out.clone();
        let bad = Job {
            priority: 10,
            ..sample()
        };
        assert!(encode_envelope_into(&bad, &mut out).is_err());
        assert_eq!(out, before);
    }

    #[test]
    fn encode_rejects() {
        let long = "a".repeat(256);
        let cases = [
            (
                Job {
                    priority: 10,
                    ..sample()
                },
                "priority",
            ),
            (
                Job {
                    max_attempts: 0,
                    ..sample()
                },
                "max_attempts",
            ),
            (
                Job {
                    job_type: "",
                    ..sample()
                },
                "job_type",
            ),
            (
                Job {
                    job_type: &long,
                    ..sample()
                },
                "job_type",
            ),
            (
                Job {
                    idempotency_key: Some(&long),
                    ..sample()
                },
                "idempotency_key",
            ),
            (
                Job {
                    idempotency_key: Some(""),
                    ..sample()
                },
                "idempotency_key",
            ),
        ];
        for (job, field) in cases {
            let err = encode_envelope(&job).unwrap_err();
            assert!(err.to_string().contains(field), "{err} should name {field}");
        }
        let ok = "a".repeat(255);
        assert!(
            encode_envelope(&Job {
                job_type: &ok,
                idempotency_key: Some(&ok),
                ..sample()
            })
            .is_ok()
        );
    }

    #[test]
    fn decode_rejects() {
        let env = encode_envelope(&sample()).unwrap();
        let with = |i: usize, b: u8| {
            let mut e = env.clone();
            e[i] = b;
            e
        };
        assert_eq!(
            decode_envelope(&with(0, 2)),
            Err(CoreError::UnsupportedVersion(2))
        );
        assert_eq!(
            decode_envelope(&with(0, 0)),
            Err(CoreError::UnsupportedVersion(0))
        );
        assert!(matches!(
            decode_envelope(&with(1, 10)),
            Err(CoreError::OutOfRange {
                field: "priority",
                ..
            })
        ));
        let mut zero_attempts = env.clone();
        zero_attempts[2..4].copy_from_slice(&[0, 0]);
        assert!(matches!(
            decode_envelope(&zero_attempts),
            Err(CoreError::OutOfRange {
                field: "max_attempts",
                ..
            })
        ));
        assert_eq!(decode_envelope(&with(16, 0)), Err(CoreError::EmptyJobType));
        assert_eq!(
            decode_envelope(&with(17, 0xff)),
            Err(CoreError::InvalidUtf8 { field: "job_type" })
        );
        assert_eq!(
            decode_envelope(&with(28, 0xc3)),
            Err(CoreError::InvalidUtf8 {
                field: "idempotency_key"
            })
        );
        assert_eq!(
            decode_envelope(&[]),
            Err(CoreError::Truncated { field: "header" })
        );
    }

    #[test]
    fn every_truncation_is_an_error_never_a_panic() {
        let env = encode_envelope(&Job {
            payload: b"",
            ..sample()
        })
        .unwrap();
        for cut in 0..env.len() {
            let err = decode_envelope(&env[..cut]).unwrap_err();
            assert!(
                matches!(err, CoreError::Truncated { .. }),
                "cut {cut}: {err}"
            );
        }
        assert!(decode_envelope(&env).is_ok());
    }

    #[test]
    fn decode_never_panics_on_any_short_input() {
        // Every 2-byte input, and every 17-byte input that varies the type length prefix.
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let _ = decode_envelope(&[a, b]);
            }
            let mut e = [1u8, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, a];
            let _ = decode_envelope(&e);
            e[1] = a;
            let _ = decode_envelope(&e);
        }
    }

    fn claim_items<'a>(envs: &'a [Vec<u8>], ids: &'a [String]) -> Vec<ClaimItem<'a>> {
        envs.iter()
            .zip(ids)
            .enumerate()
            .flat_map(|(i, (env, id))| {
                let n = i64::try_from(i).unwrap();
                [
                    ClaimItem::Bytes(id.as_bytes()),
                    ClaimItem::Bytes(env),
                    ClaimItem::Int(n + 1),
                    ClaimItem::Int(100 + n),
                ]
            })
            .collect()
    }

    #[test]
    fn claim_batch_decodes_and_isolates_bad_envelopes() {
        let good = encode_envelope(&sample()).unwrap();
        let envs = vec![good.clone(), vec![1, 2, 3], good];
        let ids: Vec<String> = (0..3).map(|i| format!("job-{i}")).collect();
        let out = decode_claim_items(&claim_items(&envs, &ids)).unwrap();
        assert_eq!(out.len(), 3);
        let first = out[0].as_ref().unwrap();
        assert_eq!((first.id, first.attempts, first.token), ("job-0", 1, 100));
        assert_eq!(first.job, sample());
        let failure = out[1].as_ref().unwrap_err();
        assert_eq!((failure.id, failure.token), ("job-1", 101));
        assert!(matches!(failure.reason, CoreError::Truncated { .. }));
        assert!(out[2].is_ok());
        assert_eq!(decode_claim_items(&[]).unwrap(), vec![]);
    }

    #[test]
    fn claim_batch_rejects_bad_shapes() {
        let env = encode_envelope(&sample()).unwrap();
        let b = ClaimItem::Bytes(b"id");
        let e = ClaimItem::Bytes(&env);
        let n = ClaimItem::Int(1);
        let bad: [&[ClaimItem<'_>]; 5] = [
            &[b, e, n],
            &[b, e, n, n, b],
            &[n, e, n, n],
            &[b, e, b, n],
            &[b, e, n, e],
        ];
        for items in bad {
            assert!(matches!(
                decode_claim_items(items),
                Err(CoreError::MalformedReply(_))
            ));
        }
        assert!(matches!(
            decode_claim_items(&[ClaimItem::Bytes(&[0xff]), e, n, n]),
            Err(CoreError::MalformedReply(_))
        ));
    }
}
