//! Sizes as people write them in options and read them in messages.

const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];

/// A size for messages: `8 MiB`, `64 MiB`, `1.5 KiB`, `1234 bytes`.
///
/// Why exact: the limits named in messages are what the user wrote in an option, and the text
/// must give that number back, so it parses again to the same bytes with [`parse_size`]. The
/// largest binary unit that states the size exactly with at most two decimals is used; a size no
/// unit states exactly is given in bytes.
pub fn human_size(bytes: u64) -> String {
    for (unit, name) in UNITS {
        if bytes >= unit && (u128::from(bytes) * 100) % u128::from(unit) == 0 {
            let whole = bytes / unit;
            let hundredths = (bytes % unit) * 100 / unit;
            return match hundredths {
                0 => format!("{whole} {name}"),
                h if h % 10 == 0 => format!("{whole}.{} {name}", h / 10),
                h => format!("{whole}.{h:02} {name}"),
            };
        }
    }
    match bytes {
        1 => "1 byte".to_string(),
        n => format!("{n} bytes"),
    }
}

/// Parses a size option (`max_image_bytes`, `max_archive_bytes`) into bytes.
///
/// Why these rules: a limit read wrong is a limit that does not protect, so anything unclear is
/// refused with an explanation rather than guessed.
/// - A number, an optional space, an optional unit; the unit's case does not matter.
/// - No unit, `B`, `byte` or `bytes`: bytes, and then the number is whole (`1234`, `1234 B`).
/// - `KiB`, `MiB`, `GiB`, and their short forms `K`, `M`, `G`: binary multiples (1024, 1024²,
///   1024³), as in `java -Xmx64M`.
/// - `KB`, `MB`, `GB` are refused: they mean 1000-multiples to some and 1024-multiples to others.
/// - With a unit, decimals are allowed (`1.5 KiB` = 1536); a fraction of a byte is dropped
///   (`1.3 MiB` = 1363148 bytes).
/// - Negative numbers, other units and sizes past 2^64 − 1 bytes are refused.
pub fn parse_size(text: &str) -> Result<u64, String> {
    const HINT: &str = "write a number of bytes, or a number and a unit: `64 MiB`, `512 KiB`, `8M`";
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("no size given: {HINT}"));
    }
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(number_end);
    let unit = unit.trim_start();
    let (whole, fraction) = match number.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (number, None),
    };
    if whole.is_empty() || fraction.is_some_and(|f| f.is_empty() || f.contains('.')) {
        return Err(format!("`{text}` does not start with a number: {HINT}"));
    }
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" | "byte" | "bytes" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" | "mb" | "gb" => {
            let binary = format!("{}iB", &unit[..1].to_ascii_uppercase());
            return Err(format!(
                "`{text}` is ambiguous ({unit} means 1000-multiples to some, 1024-multiples to \
                 others): write `{number} {binary}` for binary multiples, or a number of bytes"
            ));
        }
        _ => return Err(format!("`{unit}` is not a size unit: {HINT}")),
    };
    let too_large = || format!("`{text}` is too large (at most 18446744073709551615 bytes)");
    let mut bytes = whole
        .parse::<u128>()
        .map_err(|_| too_large())?
        .checked_mul(u128::from(multiplier))
        .filter(|&b| b <= u128::from(u64::MAX))
        .ok_or_else(too_large)?;
    if let Some(fraction) = fraction {
        if multiplier == 1 {
            return Err(format!("`{text}`: a number of bytes is whole"));
        }
        if fraction.len() > 9 {
            return Err(format!("`{text}` has too many decimals (at most 9)"));
        }
        let digits: u128 = fraction.parse().map_err(|_| too_large())?;
        bytes += digits * u128::from(multiplier) / 10u128.pow(fraction.len() as u32);
    }
    u64::try_from(bytes).map_err(|_| too_large())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human() {
        assert_eq!(human_size(0), "0 bytes");
        assert_eq!(human_size(1), "1 byte");
        assert_eq!(human_size(1023), "1023 bytes");
        assert_eq!(human_size(1024), "1 KiB");
        assert_eq!(human_size(1234), "1234 bytes");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(1280), "1.25 KiB");
        assert_eq!(human_size(8 << 20), "8 MiB");
        assert_eq!(human_size(64 << 20), "64 MiB");
        assert_eq!(human_size((8 << 20) + 1), "8388609 bytes");
        assert_eq!(human_size((8 << 20) + 512), "8192.5 KiB");
        assert_eq!(human_size(3 << 30), "3 GiB");
        assert_eq!(human_size(u64::MAX), "18446744073709551615 bytes");
        assert_eq!(human_size(u64::MAX - (1 << 30) + 1), "17179869183 GiB");
    }

    #[test]
    fn parse() {
        for (text, bytes) in [
            ("64 MiB", 64 << 20),
            ("64MiB", 64 << 20),
            ("64mib", 64 << 20),
            ("  8 M ", 8 << 20),
            ("8m", 8 << 20),
            ("512 KiB", 512 << 10),
            ("512k", 512 << 10),
            ("2 GiB", 2 << 30),
            ("2G", 2 << 30),
            ("1234", 1234),
            ("1234 B", 1234),
            ("1 byte", 1),
            ("0", 0),
            ("1.5 KiB", 1536),
            ("1.3 MiB", 1363148),
            ("18446744073709551615", u64::MAX),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text:?}");
        }
        for text in [
            "",
            " ",
            "MiB",
            "-1",
            "-1 MiB",
            "8 MB",
            "8 kb",
            "8 GB",
            "8 TiB",
            "1.5",
            "1.5 B",
            "1.",
            ".5 KiB",
            "1.2.3 KiB",
            "8 MiB x",
            "8 Mi B",
            "0x10",
            "18446744073709551616",
            "17179869184 GiB",
            "1.0000000001 KiB",
            "١٢",
        ] {
            assert!(
                parse_size(text).is_err(),
                "{text:?} → {:?}",
                parse_size(text)
            );
        }
        let err = parse_size("8 MB").unwrap_err();
        assert!(err.contains("8 MiB") && err.contains("ambiguous"), "{err}");
    }

    #[test]
    fn round_trips() {
        let mut sizes = vec![0, 1, 2, 1023, 1024, 1025, 1536, 1280, 1234, u64::MAX];
        for shift in [10, 20, 30, 40] {
            for k in [1u64, 3, 7, 8, 64, 1000] {
                let b = k << shift;
                sizes.extend([b, b - 1, b + 1, b + b / 2, b + b / 4, b + b / 100]);
            }
        }
        for bytes in sizes {
            let text = human_size(bytes);
            assert_eq!(parse_size(&text), Ok(bytes), "{bytes} → {text:?}");
        }
        for text in [
            "8 MiB",
            "64 MiB",
            "1.5 KiB",
            "1234 bytes",
            "1 byte",
            "3 GiB",
        ] {
            assert_eq!(human_size(parse_size(text).unwrap()), text);
        }
    }
}
