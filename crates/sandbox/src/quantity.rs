//! Quantities in canonical form, as the API server stores them: `2000m` → `2`, `1024Mi` →
//! `1Gi`, `1000` → `1k`, `0.5` → `500m`.
//!
//! The rules are `resource.Quantity`'s: a quantity keeps the family of its suffix (binary
//! `Ki`…`Ei`, decimal `n`…`E`, or an exponent `e3`); a binary quantity below 1024 or with a
//! fraction of a unit is written in decimal; the number is an integer with the largest
//! suffix that keeps it exact (decimal exponents in steps of three); anything finer than a
//! nano-unit rounds up to one.

/// The families of suffixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Binary,
    Decimal,
    Exponent,
}

const DECIMAL: &[(&str, i32)] = &[
    ("n", -9),
    ("u", -6),
    ("m", -3),
    ("", 0),
    ("k", 3),
    ("M", 6),
    ("G", 9),
    ("T", 12),
    ("P", 15),
    ("E", 18),
];

const BINARY: &[(&str, u32)] = &[
    ("Ki", 1),
    ("Mi", 2),
    ("Gi", 3),
    ("Ti", 4),
    ("Pi", 5),
    ("Ei", 6),
];

/// The canonical form of a quantity, or `None` when `text` is not one (validation reports
/// it) or is too large to handle exactly (it is kept as written).
pub(crate) fn canonical(text: &str) -> Option<String> {
    let text = text.trim();
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let number_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return None;
    }
    // The value is mantissa × 10^exponent × 1024^power.
    let digits = format!("{whole}{fraction}");
    let digits = digits.trim_start_matches('0');
    if digits.len() > 30 {
        return None;
    }
    let mut mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let mut exponent = -i32::try_from(fraction.len()).ok()?;
    let (format, power) = if let Some((_, e)) = DECIMAL.iter().find(|(s, _)| *s == suffix) {
        exponent += e;
        (Format::Decimal, 0)
    } else if let Some((_, p)) = BINARY.iter().find(|(s, _)| *s == suffix) {
        (Format::Binary, *p)
    } else if let Some(e) = suffix.strip_prefix(['e', 'E']) {
        exponent += e.parse::<i32>().ok().filter(|e| e.abs() <= 30)?;
        (Format::Exponent, 0)
    } else {
        return None;
    };
    if mantissa == 0 {
        return Some("0".to_owned());
    }
    for _ in 0..power {
        mantissa = mantissa.checked_mul(1024)?;
    }
    // Finer than a nano-unit rounds up (away from zero, as the API server does).
    if exponent < -9 {
        let shift = u32::try_from(-9 - exponent).ok()?;
        let divisor = 10i128.checked_pow(shift)?;
        mantissa = mantissa / divisor + i128::from(mantissa % divisor != 0);
        exponent = -9;
    }
    let sign = if negative { "-" } else { "" };
    if format == Format::Binary {
        let integer = if exponent >= 0 {
            mantissa.checked_mul(10i128.checked_pow(exponent.unsigned_abs())?)
        } else {
            let divisor = 10i128.checked_pow(exponent.unsigned_abs())?;
            (mantissa % divisor == 0).then_some(mantissa / divisor)
        };
        if let Some(mut value) = integer.filter(|v| *v >= 1024) {
            let mut step = 0;
            while value % 1024 == 0 && step < BINARY.len() {
                value /= 1024;
                step += 1;
            }
            let suffix = if step == 0 { "" } else { BINARY[step - 1].0 };
            return Some(format!("{sign}{value}{suffix}"));
        }
    }
    while mantissa % 10 == 0 {
        mantissa /= 10;
        exponent += 1;
    }
    while exponent.rem_euclid(3) != 0 {
        mantissa = mantissa.checked_mul(10)?;
        exponent -= 1;
    }
    let suffix = match format {
        Format::Exponent if exponent == 0 => String::new(),
        Format::Exponent => format!("e{exponent}"),
        Format::Binary | Format::Decimal => match DECIMAL.iter().find(|(_, e)| *e == exponent) {
            Some((suffix, _)) => (*suffix).to_owned(),
            None => format!("e{exponent}"),
        },
    };
    Some(format!("{sign}{mantissa}{suffix}"))
}

/// The canonical form of a quantity field's JSON value: strings are canonicalised, numbers
/// become strings; anything else is left for validation.
pub(crate) fn canonical_value(value: &serde_json::Value) -> Option<serde_json::Value> {
    let text = match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Number(number) => number.to_string(),
        _ => return None,
    };
    canonical(&text).map(serde_json::Value::String)
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn quantities_take_the_api_servers_canonical_form() {
        for (given, canonical_form) in [
            ("2000m", "2"),
            ("100m", "100m"),
            ("1024Mi", "1Gi"),
            ("64Mi", "64Mi"),
            ("1536Mi", "1536Mi"),
            ("1.5Gi", "1536Mi"),
            ("0.5Ki", "512"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("0.5", "500m"),
            ("1e3", "1e3"),
            ("1E6", "1e6"),
            ("12e2", "1200"),
            ("0", "0"),
            ("0Gi", "0"),
            ("-2000m", "-2"),
            ("+1", "1"),
            ("0.0000000001", "1n"),
            ("1.", "1"),
            (".5", "500m"),
            ("2048", "2048"),
        ] {
            assert_eq!(canonical(given).as_deref(), Some(canonical_form), "{given}");
        }
    }

    #[test]
    fn what_is_not_a_quantity_is_left_alone() {
        for bad in ["", "abc", "1.2.3", "1Xi", "--1", "1e", "1e999", "."] {
            assert_eq!(canonical(bad), None, "{bad}");
        }
        assert_eq!(canonical(&"9".repeat(40)), None);
    }
}
