//! The `pod-template-hash` of a pod template, as kube-controller-manager computes it.
//!
//! A ReplicaSet is named `<deployment>-<hash>`, so a client that knows the names a real
//! cluster gives (`demo-7786c69988`) finds the same names here. The controller's
//! `ComputeHash` decodes the template into the Go struct `v1.PodTemplateSpec`, prints it with
//! go-spew's `%#v` (every field of every struct in declaration order, each value with its Go
//! type, map keys sorted, nil maps and slices as `<nil>`, no pointer addresses), hashes the text with 32-bit FNV-1a (adding
//! the Deployment's `status.collisionCount`, when set, as eight little-endian bytes) and
//! writes the decimal number of the hash in the alphabet of generated names.
//!
//! The text is rebuilt here from the stored JSON template with a table of those Go types
//! (`template_hash/go_types.txt`). Data flows: JSON value → [`Printer`] (table-driven, one
//! Go kind at a time) → FNV-1a → [`encode`]. What decoding does to the JSON is repeated:
//! unknown fields are dropped, an empty list or map decodes to nil, quantities are parsed
//! from their canonical text with `resource.ParseQuantity`'s internal form.
//!
//! Approximated, as pod templates practically never hold them: a non-zero `metav1.Time` in
//! the template's metadata (its `time.Location` is the controller host's), `managedFields`
//! entries, and quantities too large for `ParseQuantity`'s int64 form (`1Ei`).

use std::collections::HashMap;

use serde_json::Value;

use crate::quantity;

/// The Go types of a pod template, fields in declaration order (format in the file).
const GO_TYPES: &str = include_str!("template_hash/go_types.txt");

/// The characters of generated names (`rand.SafeEncodeString`).
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The `pod-template-hash` of `template` (a Deployment's defaulted `spec.template`), with the
/// Deployment's `status.collisionCount` when it has one.
pub(crate) fn pod_template_hash(template: &Value, collision_count: Option<i32>) -> String {
    let mut hash = fnv32a(FNV_OFFSET, spew(template).as_bytes());
    if let Some(count) = collision_count {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&(count as u32).to_le_bytes());
        hash = fnv32a(hash, &bytes);
    }
    encode(&hash.to_string())
}

/// go-spew's `%#v` text of `template` decoded as a `v1.PodTemplateSpec`.
pub(crate) fn spew(template: &Value) -> String {
    let types = Types::parse(GO_TYPES);
    let mut printer = Printer {
        types: &types,
        out: String::new(),
    };
    printer.value("v1.PodTemplateSpec", Some(template), true);
    printer.out
}

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

fn fnv32a(mut hash: u32, bytes: &[u8]) -> u32 {
    for byte in bytes {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// `rand.SafeEncodeString`: each character becomes the alphabet's entry at its code modulo
/// the alphabet's length.
fn encode(text: &str) -> String {
    text.chars()
        .map(|c| ALPHABET[c as usize % ALPHABET.len()] as char)
        .collect()
}

/// One field of a Go struct.
struct Field<'a> {
    go: &'a str,
    /// `None` for an embedded struct whose fields are inlined in the JSON.
    json: Option<&'a str>,
    ty: &'a str,
}

/// The table of Go types: structs with their fields, named non-struct types with the type
/// they are defined as.
struct Types<'a> {
    structs: HashMap<&'a str, Vec<Field<'a>>>,
    named: HashMap<&'a str, &'a str>,
}

impl<'a> Types<'a> {
    fn parse(text: &'a str) -> Self {
        let mut structs: HashMap<&str, Vec<Field<'_>>> = HashMap::new();
        let mut named = HashMap::new();
        let mut current = None;
        for line in text.lines() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(field) = line.strip_prefix(' ') {
                let mut parts = field.split_whitespace();
                let (Some(go), Some(json), Some(ty), Some(name)) =
                    (parts.next(), parts.next(), parts.next(), current)
                else {
                    continue;
                };
                structs.entry(name).or_default().push(Field {
                    go,
                    json: (json != "-").then_some(json),
                    ty,
                });
            } else if let Some(decl) = line.strip_prefix("type ") {
                if let Some((name, underlying)) = decl.split_once(' ') {
                    named.insert(name, underlying.trim());
                }
                current = None;
            } else {
                current = Some(line.trim());
                structs.entry(line.trim()).or_default();
            }
        }
        Types { structs, named }
    }
}

/// The kind of a Go type written as text (`*v1.Probe`, `[]string`, `map[string]string`).
enum Kind<'a> {
    Pointer(&'a str),
    Slice(&'a str),
    Map(&'a str, &'a str),
    Struct(&'a [Field<'a>]),
    String,
    Bool,
    Int,
    Uint,
    Quantity,
    IntOrString,
    Time,
    /// A type the table does not know: printed as its zero value.
    Unknown,
}

impl<'a> Types<'a> {
    fn kind(&'a self, ty: &'a str) -> Kind<'a> {
        if let Some(elem) = ty.strip_prefix('*') {
            return Kind::Pointer(elem);
        }
        if let Some(elem) = ty.strip_prefix("[]") {
            return Kind::Slice(elem);
        }
        if let Some(rest) = ty.strip_prefix("map[") {
            let mut depth = 1;
            for (i, c) in rest.char_indices() {
                match c {
                    '[' => depth += 1,
                    ']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Kind::Map(&rest[..i], &rest[i + 1..]);
                        }
                    }
                    _ => {}
                }
            }
            return Kind::Unknown;
        }
        match ty {
            "string" => Kind::String,
            "bool" => Kind::Bool,
            "int32" | "int64" => Kind::Int,
            "uint8" | "uint64" => Kind::Uint,
            "resource.Quantity" => Kind::Quantity,
            "intstr.IntOrString" => Kind::IntOrString,
            "v1.Time" => Kind::Time,
            _ => match (self.structs.get(ty), self.named.get(ty)) {
                (Some(fields), _) => Kind::Struct(fields),
                (None, Some(underlying)) => self.kind(underlying),
                (None, None) => Kind::Unknown,
            },
        }
    }
}

/// Writes go-spew's `%#v` text. `typed` is spew's "show the type" state: on for a struct's
/// fields, off for the elements of slices and maps and for what a pointer points to.
struct Printer<'a> {
    types: &'a Types<'a>,
    out: String,
}

impl Printer<'_> {
    fn value(&mut self, ty: &str, value: Option<&Value>, typed: bool) {
        let value = value.filter(|v| !v.is_null());
        let types = self.types;
        let kind = types.kind(ty);
        if let Kind::Pointer(elem) = kind {
            return self.pointer(ty, elem, value, typed);
        }
        if typed {
            self.out.push('(');
            self.out.push_str(ty);
            self.out.push(')');
        }
        match kind {
            Kind::Pointer(_) => {}
            Kind::Struct(fields) => self.fields(fields, value),
            Kind::Slice(elem) => match value.and_then(Value::as_array).filter(|a| !a.is_empty()) {
                // Decoding leaves an empty list nil, as the stored protobuf has no entries.
                None => self.out.push_str("<nil>"),
                Some(items) => {
                    self.out.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            self.out.push(' ');
                        }
                        self.value(elem, Some(item), false);
                    }
                    self.out.push(']');
                }
            },
            Kind::Map(key, elem) => {
                match value.and_then(Value::as_object).filter(|m| !m.is_empty()) {
                    // Decoding leaves an empty map nil too; keys are strings here, sorted.
                    None => self.out.push_str("<nil>"),
                    Some(map) => {
                        self.out.push_str("map[");
                        let mut entries: Vec<_> = map.iter().collect();
                        entries.sort_by(|a, b| a.0.cmp(b.0));
                        for (i, (k, v)) in entries.into_iter().enumerate() {
                            if i > 0 {
                                self.out.push(' ');
                            }
                            self.value(key, Some(&Value::String(k.clone())), false);
                            self.out.push(':');
                            self.value(elem, Some(v), false);
                        }
                        self.out.push(']');
                    }
                }
            }
            Kind::String => self
                .out
                .push_str(value.and_then(Value::as_str).unwrap_or_default()),
            Kind::Bool => {
                let b = value.and_then(Value::as_bool).unwrap_or(false);
                self.out.push_str(if b { "true" } else { "false" });
            }
            Kind::Int => {
                let n = value.and_then(Value::as_i64).unwrap_or(0);
                self.out.push_str(&n.to_string());
            }
            Kind::Uint => {
                let n = value.and_then(Value::as_u64).unwrap_or(0);
                self.out.push_str(&n.to_string());
            }
            Kind::Quantity => self.quantity(value),
            Kind::IntOrString => self.int_or_string(value),
            Kind::Time => self.time(),
            Kind::Unknown => self.out.push_str("<nil>"),
        }
    }

    /// spew's `formatPtr`: a nil pointer is its type and `<nil>`; otherwise its type, then
    /// the value it points to without a type of its own.
    fn pointer(&mut self, ty: &str, elem: &str, value: Option<&Value>, typed: bool) {
        let present = match (self.types.kind(elem), value) {
            (_, None) => false,
            // A pointer to a struct is set even when the struct is empty (`securityContext: {}`).
            (Kind::Struct(_) | Kind::Time | Kind::Quantity | Kind::IntOrString, Some(_)) => true,
            (_, Some(v)) => !v.is_null(),
        };
        if typed {
            self.out.push('(');
            self.out.push_str(ty);
            self.out.push(')');
        } else if present {
            self.out.push_str("<*>");
        }
        if present {
            self.value(elem, value, false);
        } else {
            self.out.push_str("<nil>");
        }
    }

    fn fields(&mut self, fields: &[Field<'_>], value: Option<&Value>) {
        self.out.push('{');
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                self.out.push(' ');
            }
            self.out.push_str(field.go);
            self.out.push(':');
            let inner = match field.json {
                Some(name) => value.and_then(|v| v.get(name)),
                // An embedded struct reads its fields from the same JSON object.
                None => value,
            };
            self.value(field.ty, inner, true);
        }
        self.out.push('}');
    }

    /// `resource.Quantity{i int64Amount; d infDecAmount; s string; Format}` as
    /// `ParseQuantity` fills it from the canonical text the API server stores.
    fn quantity(&mut self, value: Option<&Value>) {
        let text = value
            .and_then(quantity::canonical_value)
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let parsed = parse_quantity(&text);
        self.out.push_str("{i:(resource.int64Amount){value:(int64)");
        self.out.push_str(&parsed.value.to_string());
        self.out.push_str(" scale:(resource.Scale)");
        self.out.push_str(&parsed.scale.to_string());
        self.out
            .push_str("} d:(resource.infDecAmount){Dec:(*inf.Dec)");
        match parsed.dec {
            None => self.out.push_str("<nil>"),
            Some((unscaled, scale)) => {
                self.out.push_str("{unscaled:(big.Int){neg:(bool)");
                self.out
                    .push_str(if unscaled < 0 { "true" } else { "false" });
                self.out.push_str(" abs:(big.nat)");
                let mut abs = unscaled.unsigned_abs();
                if abs == 0 {
                    self.out.push_str("[]");
                } else {
                    let mut words = Vec::new();
                    while abs > 0 {
                        words.push((abs as u64).to_string());
                        abs >>= 64;
                    }
                    self.out.push('[');
                    self.out.push_str(&words.join(" "));
                    self.out.push(']');
                }
                self.out.push_str("} scale:(inf.Scale)");
                self.out.push_str(&scale.to_string());
                self.out.push('}');
            }
        }
        self.out.push_str("} s:(string)");
        self.out
            .push_str(if parsed.keeps_text { &text } else { "" });
        self.out.push_str(" Format:(resource.Format)");
        self.out.push_str(parsed.format);
        self.out.push('}');
    }

    /// `intstr.IntOrString{Type; IntVal int32; StrVal string}`.
    fn int_or_string(&mut self, value: Option<&Value>) {
        let (kind, int, text) = match value {
            Some(Value::String(s)) => (1, 0, s.as_str()),
            Some(v) => (0, v.as_i64().unwrap_or(0), ""),
            None => (0, 0, ""),
        };
        self.out.push_str(&format!(
            "{{Type:(intstr.Type){kind} IntVal:(int32){int} StrVal:(string){text}}}"
        ));
    }

    /// `metav1.Time` as a template holds it: the zero time (`creationTimestamp: null`).
    fn time(&mut self) {
        self.out
            .push_str("{Time:(time.Time){wall:(uint64)0 ext:(int64)0 loc:(*time.Location)<nil>}}");
    }
}

/// The fields of a parsed `resource.Quantity` that its printed form shows.
struct ParsedQuantity {
    value: i64,
    scale: i32,
    /// The unscaled value and scale of `d` when the quantity does not fit the fast form.
    dec: Option<(i128, i32)>,
    /// Whether `s` keeps the text (it does when the text is already canonical).
    keeps_text: bool,
    format: &'static str,
}

/// `resource.ParseQuantity` reduced to the internal form it gives a canonical text.
fn parse_quantity(text: &str) -> ParsedQuantity {
    let zero = |format| ParsedQuantity {
        value: 0,
        scale: 0,
        dec: None,
        keeps_text: false,
        format,
    };
    if text.is_empty() {
        return zero("");
    }
    if text == "0" {
        return ParsedQuantity {
            keeps_text: true,
            ..zero("DecimalSI")
        };
    }
    let (positive, rest) = match text.as_bytes()[0] {
        b'-' => (false, &text[1..]),
        b'+' => (true, &text[1..]),
        _ => (true, text),
    };
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(end);
    let (whole, denom) = number.split_once('.').unwrap_or((number, ""));
    let num = whole.trim_start_matches('0');
    let num = if num.is_empty() { "0" } else { num };
    let (base, exponent, format) = match suffix {
        "" => (10, 0, "DecimalSI"),
        "n" => (10, -9, "DecimalSI"),
        "u" => (10, -6, "DecimalSI"),
        "m" => (10, -3, "DecimalSI"),
        "k" => (10, 3, "DecimalSI"),
        "M" => (10, 6, "DecimalSI"),
        "G" => (10, 9, "DecimalSI"),
        "T" => (10, 12, "DecimalSI"),
        "P" => (10, 15, "DecimalSI"),
        "E" => (10, 18, "DecimalSI"),
        "Ki" => (2, 10, "BinarySI"),
        "Mi" => (2, 20, "BinarySI"),
        "Gi" => (2, 30, "BinarySI"),
        "Ti" => (2, 40, "BinarySI"),
        "Pi" => (2, 50, "BinarySI"),
        "Ei" => (2, 60, "BinarySI"),
        s if s.starts_with(['e', 'E']) => match s[1..].parse::<i32>() {
            Ok(e) => (10, e, "DecimalExponent"),
            Err(_) => return zero(""),
        },
        _ => return zero(""),
    };
    let num_len = num.len() as i32;
    let denom_len = denom.len() as i32;
    let (mut scale, precision, mantissa) = if base == 10 {
        (exponent, 18 - (num_len + denom_len), 1i64)
    } else if denom.is_empty() {
        let precision = 15 - num_len - (exponent as f32 * 3.0 / 10.0) as i32 - 1;
        (0, precision, 1i64.checked_shl(exponent as u32).unwrap_or(0))
    } else {
        (0, -1, 1)
    };
    if precision >= 0 {
        scale -= denom_len;
        if scale >= -9 {
            let shifted = format!("{num}{denom}");
            if let Some(result) = shifted
                .parse::<i64>()
                .ok()
                .and_then(|v| v.checked_mul(mantissa).map(|r| (v, r)))
            {
                let (v, result) = result;
                let keeps_text = if base == 2 {
                    exponent % 10 == 0 && v & 0x07 != 0
                } else {
                    scale % 3 == 0 && !shifted.ends_with("000") && !shifted.starts_with('0')
                };
                return ParsedQuantity {
                    value: if positive { result } else { -result },
                    scale,
                    dec: None,
                    keeps_text,
                    format,
                };
            }
        }
    }
    // The slow path keeps an inf.Dec; canonical texts reach it only for very large values.
    let digits: i128 = format!("{whole}{denom}").parse().unwrap_or(0);
    let (mut unscaled, mut dec_scale) = if base == 10 {
        (digits, denom_len - exponent)
    } else {
        (digits.saturating_mul(1i128 << exponent.min(100)), denom_len)
    };
    while dec_scale > 9 {
        // Round up to whole nano-units, as ParseQuantity does.
        let rem = unscaled % 10;
        unscaled /= 10;
        if rem != 0 {
            unscaled += 1;
        }
        dec_scale -= 1;
    }
    let mut format = format;
    if format == "BinarySI" {
        let max = i128::from(i64::MAX);
        if unscaled > max * 10i128.pow(dec_scale.max(0) as u32) {
            unscaled = max;
            dec_scale = 0;
        }
        if dec_scale > 0 && unscaled < 10i128.pow(dec_scale as u32) && unscaled > 0 {
            format = "DecimalSI";
        }
    }
    ParsedQuantity {
        value: 0,
        scale: 0,
        dec: Some((if positive { unscaled } else { -unscaled }, dec_scale)),
        keeps_text: false,
        format,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encoding_maps_digits_into_the_alphabet() {
        // '0' is 48: 48 % 27 = 21 → '4'.
        assert_eq!(encode("0123456789"), "456789bcdf");
    }

    #[test]
    fn fnv32a_matches_the_reference_values() {
        assert_eq!(fnv32a(FNV_OFFSET, b""), 0x811c_9dc5);
        assert_eq!(fnv32a(FNV_OFFSET, b"a"), 0xe40c_292c);
        assert_eq!(fnv32a(FNV_OFFSET, b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn quantities_take_parse_quantitys_internal_form() {
        for (text, value, scale, keeps, format) in [
            ("100m", 100, -3, true, "DecimalSI"),
            ("2", 2, 0, true, "DecimalSI"),
            ("64Mi", 64 << 20, 0, false, "BinarySI"),
            ("1Gi", 1 << 30, 0, true, "BinarySI"),
            ("1k", 1, 3, true, "DecimalSI"),
            ("1500", 1500, 0, true, "DecimalSI"),
            ("1e3", 1, 3, true, "DecimalExponent"),
        ] {
            let q = parse_quantity(text);
            assert_eq!(
                (q.value, q.scale, q.keeps_text, q.format, q.dec),
                (value, scale, keeps, format, None),
                "{text}"
            );
        }
    }

    /// Deployments recorded against kube-apiserver and kube-controller-manager v1.36, with the
    /// hash the controller gave their template (cases of `tests/fixtures/kube-golden`).
    #[test]
    fn hashes_match_kube_controller_manager() {
        let known: Vec<Value> = serde_json::from_str(include_str!(
            "../../tests/fixtures/pod-template-hash/known.json"
        ))
        .unwrap();
        let store = crate::store::Store::open(None).unwrap();
        let def = crate::resources::known("apps/v1", "Deployment");
        for case in known {
            let template = match case.get("deployment") {
                // Defaulted here as the sandbox stores it.
                Some(deployment) => {
                    let mut deployment = deployment.clone();
                    store.read(|txn| crate::defaults::apply(txn, def, &mut deployment, None));
                    deployment["spec"]["template"].clone()
                }
                // As the real server stored it.
                None => case["template"].clone(),
            };
            assert_eq!(
                pod_template_hash(&template, None),
                case["hash"].as_str().unwrap(),
                "cases {}: {}",
                case["cases"],
                spew(&template)
            );
        }
    }

    #[test]
    fn nil_pointers_and_slices_print_their_types() {
        let text = spew(&json!({"spec": {"containers": [{"name": "a"}]}}));
        assert!(text.starts_with("(v1.PodTemplateSpec){ObjectMeta:(v1.ObjectMeta){Name:(string) "));
        assert!(text.contains("Volumes:([]v1.Volume)<nil> InitContainers:([]v1.Container)<nil> Containers:([]v1.Container)[{Name:(string)a Image:(string) "));
        assert!(text.contains("LivenessProbe:(*v1.Probe)<nil>"));
        assert!(text.contains("Labels:(map[string]string)<nil>"));
    }
}
