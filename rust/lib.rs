//! relay-core: the pure Rust core behind `relay._core`.
pub mod backoff;
pub mod codec;
pub mod error;
pub mod resp;
pub mod token_bucket;

#[cfg(feature = "python")]
mod python;
