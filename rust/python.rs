//! The Python face of the core — the ONLY module that names pyo3.
//!
//! Each binding converts its arguments, calls one pure function and maps `CoreError` to the
//! exception Python code expects: `relay.errors.CodecError` for the codec (exceptions are defined
//! in Python and raised from here), `ValueError` for backoff and the token bucket.
//!
//! Doc comments on bindings are the Python docstrings, so they name things the Python way.
#![allow(clippy::doc_markdown)]

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::backoff::{self, Policy};
use crate::codec::{self, ClaimItem, Job};
use crate::error::CoreError;
use crate::resp::{self, Arg};
use crate::token_bucket;

pyo3::import_exception!(relay.errors, CodecError);

#[allow(clippy::needless_pass_by_value)] // used as `map_err(codec_error)`
fn codec_error(e: CoreError) -> PyErr {
    CodecError::new_err(e.to_string())
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(value_error)`
fn value_error(e: CoreError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A Python `int` argument of any size. Narrowing it to the field's Rust type is a separate step
/// so that an out-of-range value raises the binding's own error (`CodecError`/`ValueError`)
/// naming the field, instead of pyo3's `OverflowError`. A non-int still raises `TypeError`.
#[derive(Clone)]
enum IntArg {
    Fits(i128),
    /// Beyond `i64::MIN..=u64::MAX`: out of range for every field; holds the decimal text.
    Huge(String),
}

impl IntArg {
    const ONE: Self = Self::Fits(1);

    fn narrow<T: TryFrom<i128>>(
        self,
        field: &'static str,
        allowed: &'static str,
        to_err: fn(CoreError) -> PyErr,
    ) -> PyResult<T> {
        match self {
            Self::Fits(v) => {
                T::try_from(v).map_err(|_| to_err(CoreError::out_of_range(field, v, allowed)))
            }
            Self::Huge(text) => Err(to_err(CoreError::out_of_range(field, text, allowed))),
        }
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for IntArg {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        match obj.extract::<i64>() {
            Ok(v) => Ok(Self::Fits(v.into())),
            Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => match obj.extract::<u64>() {
                Ok(v) => Ok(Self::Fits(v.into())),
                Err(_) => Ok(Self::Huge(obj.str()?.to_string())),
            },
            Err(e) => Err(e),
        }
    }
}

/// Encode one job as a v1 envelope (the immutable record stored in Redis).
///
/// Raises CodecError for a priority outside 0..9, max_attempts outside 1..65535, timeout_ms
/// outside 0..2**32-1, a negative created_ms, an empty job type, a type or key longer than
/// 255 UTF-8 bytes, or an empty idempotency key (pass None for no key).
#[pyfunction]
#[allow(clippy::too_many_arguments)] // mirrors the envelope's fields one to one
fn encode_job<'py>(
    py: Python<'py>,
    job_type: &str,
    payload: &[u8],
    priority: IntArg,
    max_attempts: IntArg,
    timeout_ms: IntArg,
    created_ms: IntArg,
    idempotency_key: Option<&str>,
) -> PyResult<Bound<'py, PyBytes>> {
    let job = Job {
        job_type,
        payload,
        priority: priority.narrow("priority", "0..=9", codec_error)?,
        max_attempts: max_attempts.narrow("max_attempts", "1..=65535", codec_error)?,
        timeout_ms: timeout_ms.narrow("timeout_ms", "0..=4294967295", codec_error)?,
        created_ms: created_ms.narrow("created_ms", "0..=2**64-1", codec_error)?,
        idempotency_key,
    };
    let envelope = codec::encode_envelope(&job).map_err(codec_error)?;
    Ok(PyBytes::new(py, &envelope))
}

/// Decode a v1 envelope.
///
/// Returns (job_type, payload, priority, max_attempts, timeout_ms, created_ms, idempotency_key).
/// Raises CodecError for a wrong version, a priority above 9, max_attempts 0, a truncated
/// envelope, an empty job type, or a type or key that is not UTF-8.
#[pyfunction]
fn decode_job<'py>(py: Python<'py>, envelope: &[u8]) -> PyResult<Bound<'py, PyTuple>> {
    let job = codec::decode_envelope(envelope).map_err(codec_error)?;
    (
        job.job_type,
        PyBytes::new(py, job.payload),
        job.priority,
        job.max_attempts,
        job.timeout_ms,
        job.created_ms,
        job.idempotency_key,
    )
        .into_pyobject(py)
}

/// Sorts one reply item into bytes, an i64, or anything else (which the codec reports as a
/// malformed reply); borrows the bytes in place.
fn claim_item<'a>(obj: &'a Bound<'_, PyAny>) -> ClaimItem<'a> {
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        ClaimItem::Bytes(bytes.as_bytes())
    } else if let Ok(int) = obj.cast::<PyInt>() {
        int.extract::<i64>()
            .map_or(ClaimItem::Other, ClaimItem::Int)
    } else {
        ClaimItem::Other
    }
}

/// The type string of the previous job, reused while consecutive jobs share a type (the common
/// case in one claim), so a batch creates one `str` per run of equal types instead of one per job.
struct LastType<'a, 'py>(Option<(&'a str, Bound<'py, PyString>)>);

impl<'a, 'py> LastType<'a, 'py> {
    fn get(&mut self, py: Python<'py>, job_type: &'a str) -> Bound<'py, PyString> {
        match &self.0 {
            Some((last, s)) if *last == job_type => s.clone(),
            _ => {
                let s = PyString::new(py, job_type);
                self.0 = Some((job_type, s.clone()));
                s
            }
        }
    }
}

/// Decode the flat tail of a claim reply: repeating groups of id (bytes), envelope (bytes),
/// attempts (int), token (int).
///
/// Returns (jobs, failures). Each job is (id, job_type, payload, priority, attempts,
/// max_attempts, timeout_ms, created_ms, token, idempotency_key). An envelope that does not
/// decode fails only its own job: it is listed in failures as (id, token, reason). Raises
/// CodecError only when the reply itself is malformed (length not a multiple of 4, an item of
/// the wrong type, an id that is not UTF-8).
#[pyfunction]
fn decode_claim<'py>(
    items: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyList>)> {
    let py = items.py();
    let owned: Vec<Bound<'py, PyAny>> = match items.cast::<PyList>() {
        Ok(list) => list.iter().collect(),
        Err(_) => items.extract()?,
    };
    let parsed: Vec<ClaimItem<'_>> = owned.iter().map(claim_item).collect();
    let outcomes = codec::decode_claim_items(&parsed).map_err(codec_error)?;

    let mut jobs = Vec::with_capacity(outcomes.len());
    let mut failures = Vec::new();
    let mut last_type = LastType(None);
    for outcome in outcomes {
        match outcome {
            Ok(c) => jobs.push(
                (
                    c.id,
                    last_type.get(py, c.job.job_type),
                    PyBytes::new(py, c.job.payload),
                    c.job.priority,
                    c.attempts,
                    c.job.max_attempts,
                    c.job.timeout_ms,
                    c.job.created_ms,
                    c.token,
                    c.job.idempotency_key,
                )
                    .into_pyobject(py)?,
            ),
            Err(f) => failures.push((f.id, f.token, f.reason.to_string()).into_pyobject(py)?),
        }
    }
    Ok((PyList::new(py, jobs)?, PyList::new(py, failures)?))
}

/// The delay in milliseconds before retry number `attempt` (1 = the first retry).
///
/// policy "fixed" gives base_ms; "exponential" gives min(cap_ms, base_ms * 2**(attempt-1));
/// "full_jitter" gives floor(sample * min(cap_ms, base_ms * 2**(attempt-1))). `sample` is a
/// uniform random number in [0, 1) supplied by the caller. Saturates instead of overflowing.
/// Raises ValueError for an unknown policy, attempt < 1, a negative base or cap, or a sample
/// outside [0, 1).
#[pyfunction]
fn backoff_ms(
    policy: &str,
    base_ms: IntArg,
    cap_ms: IntArg,
    attempt: IntArg,
    sample: f64,
) -> PyResult<u64> {
    let policy: Policy = policy.parse().map_err(value_error)?;
    backoff::backoff_ms(
        policy,
        base_ms.narrow("base_ms", "0..=2**64-1", value_error)?,
        cap_ms.narrow("cap_ms", "0..=2**64-1", value_error)?,
        attempt.narrow("attempt", "1..=2**64-1", value_error)?,
        sample,
    )
    .map_err(value_error)
}

/// One take from a token bucket whose state is (tokens, last_ms); a fresh bucket is
/// tokens=burst, last_ms=now_ms.
///
/// Returns (granted, tokens_after, last_ms_after, wait_ms); wait_ms is the time until one token
/// is available when nothing was granted, else 0. Runs the same IEEE-754 double operations in
/// the same order as relay's Lua rate limiter, so both decide alike. Raises ValueError unless
/// rate > 0, burst >= 1, tokens >= 0 (all finite) and 1 <= want <= 2**53.
#[pyfunction]
fn bucket_take(
    rate: f64,
    burst: f64,
    tokens: f64,
    last_ms: IntArg,
    now_ms: IntArg,
    want: IntArg,
) -> PyResult<(u64, f64, i64, u64)> {
    let d = token_bucket::take(
        rate,
        burst,
        tokens,
        last_ms.narrow("last_ms", "-2**63..=2**63-1", value_error)?,
        now_ms.narrow("now_ms", "-2**63..=2**63-1", value_error)?,
        want.narrow("want", "1..=2**53", value_error)?,
    )
    .map_err(value_error)?;
    Ok((d.granted, d.tokens, d.last_ms, d.wait_ms))
}

/// An in-process token bucket: `rate` tokens per second up to `burst`; starts full.
///
/// A take holds the GIL throughout, so threads sharing one bucket take one at a time.
#[pyclass(module = "relay._core", name = "TokenBucket")]
struct PyTokenBucket(token_bucket::TokenBucket);

#[pymethods]
impl PyTokenBucket {
    #[new]
    fn new(rate: f64, burst: f64) -> PyResult<Self> {
        token_bucket::TokenBucket::new(rate, burst)
            .map(Self)
            .map_err(value_error)
    }

    /// Tokens added per second.
    #[getter]
    fn rate(&self) -> f64 {
        self.0.rate()
    }

    /// Capacity: the most tokens one instant can grant.
    #[getter]
    fn burst(&self) -> f64 {
        self.0.burst()
    }

    /// Take up to `want` tokens at `now_ms` (the caller's clock, in ms).
    ///
    /// Returns (granted, wait_ms): wait_ms is how long until one token is available when nothing
    /// was granted, else 0. Raises ValueError unless 1 <= want <= 2**53.
    #[pyo3(signature = (now_ms, want = IntArg::ONE), text_signature = "($self, now_ms, want=1)")]
    fn take(&mut self, now_ms: IntArg, want: IntArg) -> PyResult<(u64, u64)> {
        self.0
            .take(
                now_ms.narrow("now_ms", "-2**63..=2**63-1", value_error)?,
                want.narrow("want", "1..=2**53", value_error)?,
            )
            .map_err(value_error)
    }
}

/// One command in the Redis protocol (RESP): an array of bulk strings.
///
/// Each argument is bytes, str (sent as UTF-8), int (in decimal; it must fit in 64 signed bits)
/// or float (its repr, as redis-py sends it). Raises TypeError for anything else (bool
/// included), OverflowError for a larger int.
#[pyfunction]
fn pack_command<'py>(py: Python<'py>, args: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let owned: Vec<Bound<'py, PyAny>> = match args.cast::<PyList>() {
        Ok(list) => list.iter().collect(),
        Err(_) => args.extract()?,
    };
    // Floats go as redis-py sends them: their repr.
    let mut texts: Vec<Bound<'py, PyString>> = Vec::new();
    for obj in &owned {
        if obj.is_instance_of::<PyFloat>() {
            texts.push(obj.repr()?);
        }
    }
    let mut texts_iter = texts.iter();
    let mut parsed = Vec::with_capacity(owned.len());
    for obj in &owned {
        if let Ok(b) = obj.cast::<PyBytes>() {
            parsed.push(Arg::Bytes(b.as_bytes()));
        } else if let Ok(s) = obj.cast::<PyString>() {
            parsed.push(Arg::Bytes(s.to_str()?.as_bytes()));
        } else if obj.is_instance_of::<PyBool>() {
            return Err(PyTypeError::new_err("a command argument cannot be a bool"));
        } else if obj.is_instance_of::<PyInt>() {
            parsed.push(Arg::Int(obj.extract::<i64>()?));
        } else if obj.is_instance_of::<PyFloat>() {
            let text = texts_iter
                .next()
                .map(|t| t.to_str())
                .transpose()?
                .unwrap_or("");
            parsed.push(Arg::Bytes(text.as_bytes()));
        } else {
            return Err(PyTypeError::new_err(format!(
                "a command argument must be bytes, str, int or float, not {}",
                obj.get_type().name()?
            )));
        }
    }
    Ok(PyBytes::new(py, &resp::pack_command(&parsed)))
}

/// Job ids for one batch: 20 characters each, 10 of `now_ms` then 10 of random bits, so ids
/// sort by time. `random` holds 7 random bytes per id (from os.urandom); its length decides how
/// many ids come back. Raises ValueError when it is not a multiple of 7.
#[pyfunction]
fn job_ids(now_ms: u64, random: &[u8]) -> PyResult<Vec<String>> {
    if random.len() % resp::ID_RANDOM_BYTES != 0 {
        return Err(PyValueError::new_err(format!(
            "random must hold {} bytes per id, got {} bytes",
            resp::ID_RANDOM_BYTES,
            random.len()
        )));
    }
    Ok(random
        .chunks_exact(resp::ID_RANDOM_BYTES)
        .map(|c| {
            let mut r = [0u8; resp::ID_RANDOM_BYTES];
            r.copy_from_slice(c);
            resp::job_id(now_ms, r)
                .iter()
                .map(|&b| char::from(b))
                .collect()
        })
        .collect())
}

/// `ClaimedJob` as a runtime alias (`tuple[str, str, bytes, int, ..., str | None]`), so the
/// stub's type alias also exists at run time (`from relay._core import ClaimedJob`).
fn claimed_job_alias(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let str_t = py.get_type::<PyString>().into_any();
    let bytes_t = py.get_type::<PyBytes>().into_any();
    let int_t = py.get_type::<PyInt>().into_any();
    let optional_str = str_t.call_method1("__or__", (py.None(),))?;
    let fields = PyTuple::new(
        py,
        [
            &str_t,
            &str_t,
            &bytes_t,
            &int_t,
            &int_t,
            &int_t,
            &int_t,
            &int_t,
            &int_t,
            &optional_str,
        ],
    )?;
    py.get_type::<PyTuple>()
        .call_method1("__class_getitem__", (fields,))
}

/// relay's Rust core: job envelope codec, claim-reply batch decode, backoff and token bucket.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ClaimedJob", claimed_job_alias(m.py())?)?;
    m.add_function(wrap_pyfunction!(encode_job, m)?)?;
    m.add_function(wrap_pyfunction!(decode_job, m)?)?;
    m.add_function(wrap_pyfunction!(decode_claim, m)?)?;
    m.add_function(wrap_pyfunction!(backoff_ms, m)?)?;
    m.add_function(wrap_pyfunction!(bucket_take, m)?)?;
    m.add_function(wrap_pyfunction!(pack_command, m)?)?;
    m.add_function(wrap_pyfunction!(job_ids, m)?)?;
    m.add_class::<PyTokenBucket>()?;
    Ok(())
}
