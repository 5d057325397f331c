//! Resource quantities (`100m`, `512Mi`, `1.5`, `2e3`), as `resource.Quantity` parses them.

use serde_json::Value;

/// A parsed quantity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantity {
    /// The amount in base units (cores, bytes), approximately: enough to compare two
    /// quantities and to tell the sign.
    pub amount: f64,
}

impl Quantity {
    /// True for a quantity below zero.
    pub fn is_negative(&self) -> bool {
        self.amount < 0.0
    }
}

/// The error message the API server gives for a quantity that does not parse.
pub(super) const QUANTITY_MESSAGE: &str =
    "must match the regex '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// Parses a quantity from its string form; `None` when it is not one.
pub fn parse_quantity(text: &str) -> Option<Quantity> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            pos = 1;
            true
        }
        Some(b'+') => {
            pos = 1;
            false
        }
        _ => false,
    };
    let number_start = pos;
    let mut digits = 0;
    let mut dots = 0;
    while let Some(&b) = bytes.get(pos) {
        match b {
            b'0'..=b'9' => digits += 1,
            b'.' => dots += 1,
            _ => break,
        }
        pos += 1;
    }
    if digits == 0 || dots > 1 {
        return None;
    }
    let mantissa: f64 = text[number_start..pos].parse().ok()?;
    let suffix = &text[pos..];
    let scale = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        _ => {
            let exponent = suffix.strip_prefix(['e', 'E'])?;
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let exponent: i32 = exponent.parse().ok()?;
            10f64.powi(exponent)
        }
    };
    let amount = mantissa * scale;
    Some(Quantity {
        amount: if negative { -amount } else { amount },
    })
}

/// Parses a quantity from a JSON value: a string, or a plain number (YAML's `cpu: 2`).
pub(super) fn quantity_of(value: &Value) -> Option<Quantity> {
    match value {
        Value::String(s) => parse_quantity(s),
        Value::Number(n) => n.as_f64().map(|amount| Quantity { amount }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_as_the_api_server_does() {
        let cases: &[(&str, Option<f64>)] = &[
            ("1", Some(1.0)),
            ("100m", Some(0.1)),
            ("1.5", Some(1.5)),
            (".5", Some(0.5)),
            ("512Mi", Some(512.0 * 1024.0 * 1024.0)),
            ("1Gi", Some(1024.0 * 1024.0 * 1024.0)),
            ("2k", Some(2000.0)),
            ("1e3", Some(1000.0)),
            ("1E-3", Some(0.001)),
            ("+2", Some(2.0)),
            ("-5Gi", Some(-5.0 * 1024.0 * 1024.0 * 1024.0)),
            ("lots", None),
            ("", None),
            ("1.2.3", None),
            ("1 Gi", None),
            ("1gi", None),
            ("1Gb", None),
            ("1e", None),
            ("Mi", None),
            ("-", None),
        ];
        for (text, amount) in cases {
            let parsed = parse_quantity(text).map(|q| q.amount);
            match (parsed, amount) {
                (Some(got), Some(want)) => {
                    assert!((got - want).abs() <= want.abs() * 1e-12, "{text}: {got}")
                }
                (got, want) => assert_eq!(got, *want, "{text}"),
            }
        }
    }
}
