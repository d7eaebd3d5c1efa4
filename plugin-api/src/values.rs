//! Cell conversions of formats.md §2.5. A value that does not convert fails the row: it never
//! silently becomes 0, empty or unset. Errors are phrased for the report, without the column
//! name (the caller adds it).

/// `1 0 yes no true false`, case-insensitive.
pub fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" => Ok(true),
        "0" | "no" | "false" => Ok(false),
        _ => Err(format!(
            "`{value}` is not a boolean (1/0, yes/no, true/false)"
        )),
    }
}

/// Optional `-`, decimal digits, within `min..=max`.
pub fn parse_int(value: &str, min: i64, max: i64) -> Result<i64, String> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{value}` is not an integer"));
    }
    let n: i64 = value
        .parse()
        .map_err(|_| format!("`{value}` is out of range {min}..{max}"))?;
    if n < min || n > max {
        return Err(format!("`{value}` is out of range {min}..{max}"));
    }
    Ok(n)
}

/// `text(n)`: at most `max` characters, no control characters. Never truncated.
pub fn check_text(value: &str, max: usize) -> Result<(), String> {
    let count = value.chars().count();
    if count > max {
        return Err(format!("{count} characters, at most {max} allowed"));
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(format!("control character U+{:04X} not allowed", c as u32));
    }
    Ok(())
}

/// `longtext`: any length; line breaks and tabs allowed, other control characters not.
pub fn check_longtext(value: &str) -> Result<(), String> {
    if let Some(c) = value
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(format!("control character U+{:04X} not allowed", c as u32));
    }
    Ok(())
}

/// One `@` with text on both sides, no spaces.
pub fn check_email(value: &str) -> Result<(), String> {
    let mut parts = value.split('@');
    let ok = matches!((parts.next(), parts.next(), parts.next()),
        (Some(local), Some(domain), None) if !local.is_empty() && !domain.is_empty())
        && !value.chars().any(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(format!("`{value}` is not an e-mail address"))
    }
}

/// Words made of `[a-z0-9_]+` (auth methods, custom field names).
pub fn is_word(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans() {
        assert_eq!(parse_bool("YES"), Ok(true));
        assert_eq!(parse_bool("0"), Ok(false));
        assert!(parse_bool("2").is_err());
        assert!(parse_bool("").is_err());
    }

    #[test]
    fn integers() {
        assert_eq!(parse_int("-3", -5, 5), Ok(-3));
        assert!(parse_int("6", 0, 5).is_err());
        assert!(parse_int("+1", 0, 5).is_err());
        assert!(parse_int("1.0", 0, 5).is_err());
        assert!(parse_int("99999999999999999999", 0, 5).is_err());
    }

    #[test]
    fn texts() {
        assert!(check_text("héllo", 5).is_ok());
        assert!(check_text("héllo!", 5).is_err());
        assert!(check_text("a\u{7}", 5).is_err());
        assert!(check_longtext("a\nb\tc").is_ok());
        assert!(check_longtext("a\u{0}").is_err());
    }

    #[test]
    fn emails() {
        assert!(check_email("a@b").is_ok());
        assert!(check_email("a@b@c").is_err());
        assert!(check_email("@b").is_err());
        assert!(check_email("a b@c").is_err());
    }
}
