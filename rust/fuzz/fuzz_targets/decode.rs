//! `decode_envelope` on arbitrary bytes: never panics, and whatever decodes re-encodes to the
//! very same bytes (the format has exactly one encoding per job).
#![no_main]

use _core::codec::{decode_envelope, encode_envelope};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(job) = decode_envelope(data) {
        let again = encode_envelope(&job).expect("a decoded job must encode");
        assert_eq!(again, data, "decode then encode must be the identity");
    }
});
