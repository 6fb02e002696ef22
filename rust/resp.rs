//! RESP framing of commands and job ids: the byte-level work of the enqueue and ack hot paths.
//!
//! Pure functions, no I/O and no randomness: random bits come in as arguments.

/// One argument of a command, as the caller gives it.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Bytes(&'a [u8]),
    Int(i64),
}

fn push_bulk(out: &mut Vec<u8>, data: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(itoa(data.len() as u64).as_ref());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Decimal digits of `n`, without allocation.
struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl AsRef<[u8]> for Digits {
    fn as_ref(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

fn itoa(mut n: u64) -> Digits {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + u8::try_from(n % 10).unwrap_or(0);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    Digits { buf, start: i }
}

/// Append `arg` as a RESP bulk string (integers in decimal).
pub fn push_arg(out: &mut Vec<u8>, arg: Arg<'_>) {
    match arg {
        Arg::Bytes(b) => push_bulk(out, b),
        Arg::Int(v) => {
            let digits = itoa(v.unsigned_abs());
            let mut text = Vec::with_capacity(21);
            if v < 0 {
                text.push(b'-');
            }
            text.extend_from_slice(digits.as_ref());
            push_bulk(out, &text);
        }
    }
}

/// The RESP array header for a command of `n` arguments.
#[must_use]
pub fn array_header(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(12);
    out.push(b'*');
    out.extend_from_slice(itoa(n as u64).as_ref());
    out.extend_from_slice(b"\r\n");
    out
}

/// A whole command: the array header, then each argument as a bulk string.
#[must_use]
pub fn pack_command(args: &[Arg<'_>]) -> Vec<u8> {
    let size: usize = args
        .iter()
        .map(|a| match a {
            Arg::Bytes(b) => b.len() + 16,
            Arg::Int(_) => 28,
        })
        .sum();
    let mut out = array_header(args.len());
    out.reserve(size);
    for a in args {
        push_arg(&mut out, *a);
    }
    out
}

const B32: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Random bytes consumed per job id.
pub const ID_RANDOM_BYTES: usize = 7;

/// A 20-character job id: 10 characters of milliseconds then 10 random ones (Crockford base32,
/// lower case), so ids sort by time. Uses the top 50 bits of the 7 `random` bytes; milliseconds
/// beyond 50 bits wrap (year 37,000).
#[must_use]
pub fn job_id(now_ms: u64, random: [u8; ID_RANDOM_BYTES]) -> [u8; 20] {
    let mut r = [0u8; 8];
    r[1..].copy_from_slice(&random);
    let rnd = u64::from_be_bytes(r) >> 6;
    let n: u128 = (u128::from(now_ms) << 50) | u128::from(rnd);
    let mut out = [0u8; 20];
    for (i, slot) in out.iter_mut().rev().enumerate() {
        *slot = B32[usize::try_from((n >> (5 * i)) & 31).unwrap_or(0)];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_bytes_and_ints_as_bulk_strings() {
        let got = pack_command(&[
            Arg::Bytes(b"SET"),
            Arg::Bytes(b"k"),
            Arg::Int(-12),
            Arg::Int(0),
        ]);
        assert_eq!(
            got,
            b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n-12\r\n$1\r\n0\r\n".to_vec()
        );
    }

    #[test]
    fn packs_empty_and_binary_arguments() {
        let got = pack_command(&[Arg::Bytes(b""), Arg::Bytes(b"\r\n\0")]);
        assert_eq!(got, b"*2\r\n$0\r\n\r\n$3\r\n\r\n\0\r\n".to_vec());
        assert_eq!(pack_command(&[]), b"*0\r\n".to_vec());
    }

    #[test]
    fn packs_extreme_integers() {
        let got = pack_command(&[Arg::Int(i64::MIN), Arg::Int(i64::MAX)]);
        let want = format!("*2\r\n$20\r\n{}\r\n$19\r\n{}\r\n", i64::MIN, i64::MAX);
        assert_eq!(got, want.into_bytes());
    }

    #[test]
    fn job_ids_sort_by_time_and_keep_50_random_bits() {
        let a = job_id(1_700_000_000_000, [0xff; 7]);
        let b = job_id(1_700_000_000_001, [0; 7]);
        assert!(a < b);
        assert!(a.iter().all(|c| B32.contains(c)));
        // all-zero random bits end in ten '0's; all-one bits in ten 'z's
        assert_eq!(&b[10..], b"0000000000");
        assert_eq!(&a[10..], b"zzzzzzzzzz");
    }

    #[test]
    fn job_id_matches_the_python_layout() {
        // ms 1 and random 1 << 6 (the lowest of the 50 bits used): "...01" then "...01"
        let id = job_id(1, [0, 0, 0, 0, 0, 0, 0x40]);
        assert_eq!(&id, b"00000000010000000001");
    }
}
