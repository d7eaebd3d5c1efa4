//! One store write as bytes: `<key length: u32 BE> <key>`, then `0` for a removal (or an
//! absent value), or `1 <value length: u32 BE> <value>`. Two records are sequences of these:
//! sled's redo record of a batch applied in chunks, and the undo log's chunks (a key with the
//! value it held before). Written by hand rather than with a serde format: a few lines, read
//! write after write without allocating, and a layout that must never change under records a
//! store already holds.

/// A write as read back: the key, and the value (`None`: removed, or absent).
pub type Write<'a> = (&'a [u8], Option<&'a [u8]>);

/// The bytes [`push`] adds for this write.
pub fn size(key: &[u8], value: Option<&[u8]>) -> usize {
    4 + key.len() + 1 + value.map_or(0, |v| 4 + v.len())
}

/// Appends one write to `out`.
pub fn push(out: &mut Vec<u8>, key: &[u8], value: Option<&[u8]>) {
    put_len(out, key.len());
    out.extend_from_slice(key);
    match value {
        None => out.push(0),
        Some(value) => {
            out.push(1);
            put_len(out, value.len());
            out.extend_from_slice(value);
        }
    }
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    let len = u32::try_from(len).expect("store keys and values are far below 4 GiB");
    out.extend_from_slice(&len.to_be_bytes());
}

/// The writes of `bytes`, in order; `Err` once for bytes toolsync did not write (a truncated
/// or foreign record), after the writes before them.
pub fn read(mut bytes: &[u8]) -> impl Iterator<Item = Result<Write<'_>, ()>> {
    let mut failed = false;
    std::iter::from_fn(move || {
        if bytes.is_empty() || failed {
            return None;
        }
        let write = next(&mut bytes);
        failed = write.is_err();
        Some(write)
    })
}

fn next<'a>(bytes: &mut &'a [u8]) -> Result<Write<'a>, ()> {
    let key = take_sized(bytes)?;
    let (tag, rest) = bytes.split_first().ok_or(())?;
    *bytes = rest;
    let value = match tag {
        0 => None,
        1 => Some(take_sized(bytes)?),
        _ => return Err(()),
    };
    Ok((key, value))
}

fn take_sized<'a>(bytes: &mut &'a [u8]) -> Result<&'a [u8], ()> {
    let (len, rest) = bytes.split_first_chunk::<4>().ok_or(())?;
    let len = u32::from_be_bytes(*len) as usize;
    if rest.len() < len {
        return Err(());
    }
    let (value, rest) = rest.split_at(len);
    *bytes = rest;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_read_back_and_a_cut_record_fails_once_after_its_whole_writes() {
        let mut out = Vec::new();
        push(&mut out, b"k1", Some(b"v1"));
        push(&mut out, b"", None);
        push(&mut out, b"k3", Some(b""));
        assert_eq!(
            out.len(),
            size(b"k1", Some(b"v1")) + size(b"", None) + size(b"k3", Some(b""))
        );
        let all: Vec<_> = read(&out).collect();
        assert_eq!(
            all,
            vec![
                Ok((&b"k1"[..], Some(&b"v1"[..]))),
                Ok((&b""[..], None)),
                Ok((&b"k3"[..], Some(&b""[..])))
            ]
        );
        let cut: Vec<_> = read(&out[..out.len() - 1]).collect();
        assert_eq!(cut.len(), 3);
        assert_eq!(cut[2], Err(()));
        assert_eq!(read(&[0, 0, 0, 0, 7]).collect::<Vec<_>>(), vec![Err(())]);
    }
}
