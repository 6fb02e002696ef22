//! Retry delay policies — pure: the caller passes the random sample, so results reproduce.
#![forbid(unsafe_code)]

use std::str::FromStr;

use crate::error::CoreError;

/// How the delay before retry `attempt` grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Always `base`.
    Fixed,
    /// `min(cap, base · 2^(attempt-1))`.
    Exponential,
    /// `floor(sample · min(cap, base · 2^(attempt-1)))`, the AWS "full jitter" scheme.
    FullJitter,
}

impl FromStr for Policy {
    type Err = CoreError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "fixed" => Ok(Self::Fixed),
            "exponential" => Ok(Self::Exponential),
            "full_jitter" => Ok(Self::FullJitter),
            other => Err(CoreError::UnknownPolicy(other.to_owned())),
        }
    }
}

/// `min(cap, base · 2^(attempt-1))`, saturating instead of overflowing.
fn capped_exponential(base_ms: u64, cap_ms: u64, attempt: u64) -> u64 {
    let factor = u32::try_from(attempt - 1)
        .ok()
        .and_then(|shift| 1u64.checked_shl(shift));
    let grown = match factor {
        Some(factor) => base_ms.saturating_mul(factor),
        None if base_ms == 0 => 0,
        None => u64::MAX,
    };
    grown.min(cap_ms)
}

/// The delay in milliseconds before retry number `attempt` (1 = the first retry).
///
/// `sample` is a uniform random number in `[0, 1)`; only `full_jitter` uses it, but it is
/// checked for every policy so a bad caller fails the same way whatever the policy.
///
/// # Errors
/// `OutOfRange` for `attempt` 0; `InvalidFloat` for a `sample` outside `[0, 1)` or NaN.
pub fn backoff_ms(
    policy: Policy,
    base_ms: u64,
    cap_ms: u64,
    attempt: u64,
    sample: f64,
) -> Result<u64, CoreError> {
    if attempt == 0 {
        return Err(CoreError::out_of_range("attempt", attempt, ">= 1"));
    }
    if !(0.0..1.0).contains(&sample) {
        return Err(CoreError::InvalidFloat {
            field: "sample",
            value: sample,
            allowed: "0.0 <= sample < 1.0",
        });
    }
    Ok(match policy {
        Policy::Fixed => base_ms,
        Policy::Exponential => capped_exponential(base_ms, cap_ms, attempt),
        Policy::FullJitter => {
            let ceiling = capped_exponential(base_ms, cap_ms, attempt);
            // u64 → f64 may round up; the float → int cast saturates; min() keeps the result
            // within the ceiling either way.
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss
            )]
            let jittered = (sample * ceiling as f64).floor() as u64;
            jittered.min(ceiling)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_policy_names() {
        assert_eq!("fixed".parse(), Ok(Policy::Fixed));
        assert_eq!("exponential".parse(), Ok(Policy::Exponential));
        assert_eq!("full_jitter".parse(), Ok(Policy::FullJitter));
        assert_eq!(
            "Fixed".parse::<Policy>(),
            Err(CoreError::UnknownPolicy("Fixed".into()))
        );
    }

    #[test]
    fn fixed_is_base() {
        for attempt in [1, 2, 50, u64::MAX] {
            assert_eq!(backoff_ms(Policy::Fixed, 1500, 10, attempt, 0.9), Ok(1500));
        }
    }

    #[test]
    fn exponential_doubles_up_to_cap() {
        let got: Vec<u64> = (1..=8)
            .map(|a| backoff_ms(Policy::Exponential, 100, 5_000, a, 0.0).unwrap())
            .collect();
        assert_eq!(got, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    }

    #[test]
    fn saturates_instead_of_overflowing() {
        for attempt in [63, 64, 65, 1000, 1 << 33, u64::MAX] {
            assert_eq!(
                backoff_ms(Policy::Exponential, u64::MAX, u64::MAX, attempt, 0.0),
                Ok(u64::MAX)
            );
            assert_eq!(
                backoff_ms(Policy::Exponential, 3, 7_000, attempt, 0.0),
                Ok(7_000)
            );
            assert_eq!(
                backoff_ms(Policy::Exponential, 0, 7_000, attempt, 0.0),
                Ok(0)
            );
            let j = backoff_ms(
                Policy::FullJitter,
                u64::MAX,
                u64::MAX,
                attempt,
                0.999_999_999_999,
            )
            .unwrap();
            assert!(j > u64::MAX / 2);
        }
        assert_eq!(
            backoff_ms(Policy::Exponential, 1, u64::MAX, 64, 0.0),
            Ok(1 << 63)
        );
        assert_eq!(
            backoff_ms(Policy::Exponential, 2, u64::MAX, 64, 0.0),
            Ok(u64::MAX)
        );
    }

    #[test]
    fn full_jitter_scales_the_capped_delay() {
        assert_eq!(backoff_ms(Policy::FullJitter, 100, 10_000, 3, 0.0), Ok(0));
        assert_eq!(backoff_ms(Policy::FullJitter, 100, 10_000, 3, 0.5), Ok(200));
        assert_eq!(
            backoff_ms(Policy::FullJitter, 100, 10_000, 3, 0.999),
            Ok(399)
        );
        assert_eq!(backoff_ms(Policy::FullJitter, 100, 250, 3, 0.5), Ok(125));
        let max_sample = 1.0 - f64::EPSILON / 2.0;
        for ceiling in [1u64, 3, 1 << 53, (1 << 53) + 1, u64::MAX - 1, u64::MAX] {
            let j = backoff_ms(Policy::FullJitter, ceiling, u64::MAX, 1, max_sample).unwrap();
            assert!(j <= ceiling, "{j} > {ceiling}");
        }
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(matches!(
            backoff_ms(Policy::Fixed, 1, 1, 0, 0.0),
            Err(CoreError::OutOfRange {
                field: "attempt",
                ..
            })
        ));
        for sample in [-0.1, 1.0, 1.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(matches!(
                backoff_ms(Policy::FullJitter, 1, 1, 1, sample),
                Err(CoreError::InvalidFloat {
                    field: "sample",
                    ..
                })
            ));
        }
    }
}
