//! `decode_claim_items` on arbitrary item lists: never panics, and a well-shaped reply yields
//! exactly one outcome per group, each agreeing with `decode_envelope`.
//!
//! The input is read as a list of items, each a tag byte then its body:
//! tag % 3 == 0 → bytes (a length byte, then that many bytes; short input takes what is left),
//! tag % 3 == 1 → an i64 (8 bytes big-endian, zero-padded), tag % 3 == 2 → another kind.
//! A seed envelope from `corpus/decode/` thus reads as a mix of all three.
#![no_main]

use _core::codec::{ClaimItem, decode_claim_items, decode_envelope};
use libfuzzer_sys::fuzz_target;

fn items(mut data: &[u8]) -> Vec<ClaimItem<'_>> {
    let mut out = Vec::new();
    while let Some((&tag, rest)) = data.split_first() {
        data = rest;
        match tag % 3 {
            0 => {
                let (&len, rest) = data.split_first().unwrap_or((&0, &[]));
                let n = usize::from(len).min(rest.len());
                out.push(ClaimItem::Bytes(&rest[..n]));
                data = &rest[n..];
            }
            1 => {
                let mut int = [0u8; 8];
                let n = data.len().min(8);
                int[..n].copy_from_slice(&data[..n]);
                out.push(ClaimItem::Int(i64::from_be_bytes(int)));
                data = &data[n..];
            }
            _ => out.push(ClaimItem::Other),
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let items = items(data);
    if let Ok(outcomes) = decode_claim_items(&items) {
        assert_eq!(outcomes.len() * 4, items.len());
        for (outcome, group) in outcomes.iter().zip(items.chunks_exact(4)) {
            let ClaimItem::Bytes(envelope) = group[1] else {
                panic!("a well-shaped group has bytes in second place");
            };
            match outcome {
                Ok(claimed) => assert_eq!(Ok(claimed.job), decode_envelope(envelope)),
                Err(failure) => assert_eq!(Err(failure.reason.clone()), decode_envelope(envelope)),
            }
        }
    }
});
