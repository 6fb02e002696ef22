//! Token bucket refill/take math — pure: the caller passes `now`.
//!
//! The distributed limiter runs the same formula in Lua inside Redis (atomic across workers);
//! this copy serves in-process limits and is the reference model the script is tested against.
//! Both run these IEEE-754 double operations in this order, so equal inputs give equal decisions:
//!
//! ```text
//! elapsed  = max(0, now_ms - last_ms)
//! tokens   = min(burst, tokens + (elapsed * rate) / 1000.0)
//! granted  = min(want, floor(tokens))
//! tokens   = tokens - granted
//! last_ms  = max(last_ms, now_ms)
//! wait_ms  = 0 if granted > 0 else ceil(((1.0 - tokens) * 1000.0) / rate)
//! ```
#![forbid(unsafe_code)]

use crate::error::CoreError;

/// Largest `want`: every integer up to 2^53 is exact as an f64, as Lua holds it.
pub const MAX_WANT: u64 = 1 << 53;

/// The outcome of one take: what was granted and the bucket's state afterwards.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// Tokens granted, `0..=want`.
    pub granted: u64,
    /// Tokens left in the bucket.
    pub tokens: f64,
    /// The bucket's clock afterwards (it never runs backwards).
    pub last_ms: i64,
    /// When nothing was granted: milliseconds until one token is available; else 0.
    pub wait_ms: u64,
}

/// Checks the bucket's shape: `rate` tokens per second (> 0) and `burst` capacity (>= 1).
///
/// # Errors
/// `InvalidFloat` naming the offending argument.
pub fn check_shape(rate: f64, burst: f64) -> Result<(), CoreError> {
    if !(rate.is_finite() && rate > 0.0) {
        return Err(CoreError::InvalidFloat {
            field: "rate",
            value: rate,
            allowed: "finite and > 0",
        });
    }
    if !(burst.is_finite() && burst >= 1.0) {
        return Err(CoreError::InvalidFloat {
            field: "burst",
            value: burst,
            allowed: "finite and >= 1",
        });
    }
    Ok(())
}

/// One take from a bucket whose state is `(tokens, last_ms)`. A fresh bucket is
/// `tokens = burst, last_ms = now_ms`.
///
/// # Errors
/// `InvalidFloat` for a bad `rate`, `burst` or `tokens` (negative or not finite); `OutOfRange`
/// for `want` outside `1..=2^53`.
pub fn take(
    rate: f64,
    burst: f64,
    tokens: f64,
    last_ms: i64,
    now_ms: i64,
    want: u64,
) -> Result<Decision, CoreError> {
    check_shape(rate, burst)?;
    if !(tokens.is_finite() && tokens >= 0.0) {
        return Err(CoreError::InvalidFloat {
            field: "tokens",
            value: tokens,
            allowed: "finite and >= 0",
        });
    }
    if !(1..=MAX_WANT).contains(&want) {
        return Err(CoreError::out_of_range("want", want, "1..=2**53"));
    }
    // Unix-ms clocks are far below 2^53, where integer and double subtraction agree exactly.
    #[allow(clippy::cast_precision_loss)]
    let elapsed = now_ms.saturating_sub(last_ms).max(0) as f64;
    let tokens = burst.min(tokens + (elapsed * rate) / 1000.0);
    #[allow(clippy::cast_precision_loss)]
    let granted = (want as f64).min(tokens.floor());
    let tokens = tokens - granted;
    let wait_ms = if granted > 0.0 {
        0.0
    } else {
        (((1.0 - tokens) * 1000.0) / rate).ceil()
    };
    // granted is an integer in 0..=2^53 and wait_ms a non-negative integer (or +inf, which the
    // cast saturates), so both casts are exact or saturate by design.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(Decision {
        granted: granted as u64,
        tokens,
        last_ms: last_ms.max(now_ms),
        wait_ms: wait_ms as u64,
    })
}

/// An in-process token bucket: starts full, takes at caller-given times.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last_ms: Option<i64>,
}

impl TokenBucket {
    /// A full bucket refilling `rate` tokens per second up to `burst`.
    ///
    /// # Errors
    /// `InvalidFloat` unless `rate > 0` and `burst >= 1`, both finite.
    pub fn new(rate: f64, burst: f64) -> Result<Self, CoreError> {
        check_shape(rate, burst)?;
        Ok(Self {
            rate,
            burst,
            tokens: burst,
            last_ms: None,
        })
    }

    #[must_use]
    pub fn rate(&self) -> f64 {
        self.rate
    }

    #[must_use]
    pub fn burst(&self) -> f64 {
        self.burst
    }

    /// Tokens left after the last take (`burst` before the first).
    #[must_use]
    pub fn tokens(&self) -> f64 {
        self.tokens
    }

    /// The bucket's clock: `None` until the first take.
    #[must_use]
    pub fn last_ms(&self) -> Option<i64> {
        self.last_ms
    }

    /// Takes up to `want` tokens at `now_ms`; returns `(granted, wait_ms)`. The state changes
    /// only when the take succeeds.
    ///
    /// # Errors
    /// `OutOfRange` for `want` outside `1..=2^53`.
    pub fn take(&mut self, now_ms: i64, want: u64) -> Result<(u64, u64), CoreError> {
        let last_ms = self.last_ms.unwrap_or(now_ms);
        let d = take(self.rate, self.burst, self.tokens, last_ms, now_ms, want)?;
        self.tokens = d.tokens;
        self.last_ms = Some(d.last_ms);
        Ok((d.granted, d.wait_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_bucket_grants_burst_then_waits() {
        let d = take(10.0, 5.0, 5.0, 1_000, 1_000, 3).unwrap();
        assert_eq!(
            (d.granted, d.tokens, d.last_ms, d.wait_ms),
            (3, 2.0, 1_000, 0)
        );
        let d = take(10.0, 5.0, d.tokens, d.last_ms, 1_000, 3).unwrap();
        assert_eq!((d.granted, d.tokens, d.wait_ms), (2, 0.0, 0));
        let d = take(10.0, 5.0, d.tokens, d.last_ms, 1_000, 1).unwrap();
        assert_eq!((d.granted, d.tokens, d.wait_ms), (0, 0.0, 100));
    }

    #[test]
    fn refills_with_time_up_to_burst() {
        let d = take(10.0, 5.0, 0.0, 1_000, 1_250, 5).unwrap();
        assert_eq!((d.granted, d.tokens, d.last_ms), (2, 0.5, 1_250));
        let d = take(10.0, 5.0, 0.0, 0, 3_600_000, 100).unwrap();
        assert_eq!((d.granted, d.tokens), (5, 0.0));
    }

    #[test]
    fn wait_is_time_to_one_token() {
        let d = take(4.0, 1.0, 0.25, 0, 0, 1).unwrap();
        assert_eq!((d.granted, d.wait_ms), (0, 188)); // 0.75 token at 4/s = 187.5 ms
        let d = take(0.001, 1.0, 0.0, 0, 0, 1).unwrap();
        assert_eq!(d.wait_ms, 1_000_000);
        let d = take(f64::MIN_POSITIVE, 1.0, 0.0, 0, 0, 1).unwrap();
        assert_eq!(d.wait_ms, u64::MAX);
    }

    #[test]
    fn clock_never_runs_backwards() {
        let d = take(10.0, 5.0, 1.0, 5_000, 4_000, 1).unwrap();
        assert_eq!((d.granted, d.tokens, d.last_ms), (1, 0.0, 5_000));
        let d = take(10.0, 5.0, 0.0, i64::MAX, i64::MIN, 1).unwrap();
        assert_eq!((d.granted, d.last_ms), (0, i64::MAX));
        let d = take(10.0, 5.0, 0.0, i64::MIN, i64::MAX, 1).unwrap();
        assert_eq!((d.granted, d.tokens), (1, 4.0));
    }

    #[test]
    fn tokens_stay_within_bounds() {
        let mut tokens = 3.0;
        let mut last = 0;
        for i in 0..2_000i64 {
            let now = i * 7 % 1_013;
            let want = u64::try_from(i % 4 + 1).unwrap();
            let d = take(2.5, 3.0, tokens, last, now, want).unwrap();
            assert!(d.granted <= want);
            assert!((0.0..=3.0).contains(&d.tokens), "{}", d.tokens);
            assert!(d.last_ms >= last);
            assert_eq!(d.granted == 0, d.wait_ms > 0);
            tokens = d.tokens;
            last = d.last_ms;
        }
    }

    #[test]
    fn rejects_bad_arguments() {
        for (rate, burst) in [
            (0.0, 1.0),
            (-1.0, 1.0),
            (f64::NAN, 1.0),
            (f64::INFINITY, 1.0),
            (1.0, 0.5),
            (1.0, f64::NAN),
            (1.0, f64::INFINITY),
        ] {
            assert!(take(rate, burst, 1.0, 0, 0, 1).is_err(), "{rate} {burst}");
            assert!(TokenBucket::new(rate, burst).is_err(), "{rate} {burst}");
        }
        for tokens in [-0.5, f64::NAN, f64::INFINITY] {
            assert!(take(1.0, 1.0, tokens, 0, 0, 1).is_err());
        }
        for want in [0, MAX_WANT + 1, u64::MAX] {
            assert!(matches!(
                take(1.0, 1.0, 1.0, 0, 0, want),
                Err(CoreError::OutOfRange { field: "want", .. })
            ));
        }
    }

    #[test]
    fn stateful_bucket_starts_full_and_keeps_state() {
        let mut b = TokenBucket::new(2.0, 3.0).unwrap();
        assert_eq!(
            (b.rate(), b.burst(), b.tokens(), b.last_ms()),
            (2.0, 3.0, 3.0, None)
        );
        assert_eq!(b.take(10_000, 2), Ok((2, 0)));
        assert_eq!(b.take(10_000, 2), Ok((1, 0)));
        assert_eq!(b.take(10_000, 1), Ok((0, 500)));
        assert_eq!(b.take(10_500, 1), Ok((1, 0)));
        assert_eq!(b.last_ms(), Some(10_500));
        let before = b.clone();
        assert!(b.take(20_000, 0).is_err());
        assert_eq!(b, before);
    }
}
