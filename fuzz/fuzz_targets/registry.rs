//! Registry push webhooks: `tripline_engine::registry::parse_delivery` with any headers and body.
//!
//! The input reads like an HTTP message: `Name: value` header lines, an empty line, then the
//! body. Input with no empty line is all body, with no headers. So the seed corpus is each
//! registry fixture's `.headers` file, an empty line and its `.json` body.
//!
//! Besides never panicking, every pushed image must survive the trip through its own text
//! (`ImageRef` → string → `ImageRef`): the image trigger retags templates with that text.
//! And the direct reads (of a generic push, of a distribution envelope) must answer as the
//! general way does (`parse_delivery_generally`): the same delivery, or the same error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tripline_engine::registry::{self, ImageRef};

fuzz_target!(|data: &[u8]| {
    let (headers, body) = split(data);
    let parsed = registry::parse_delivery(&headers, body);
    let generally = registry::parse_delivery_generally(&headers, body);
    let shown = |result: &Result<registry::Delivery, registry::Error>| match result {
        Ok(delivery) => format!("{delivery:?}"),
        Err(error) => format!("error: {error}"),
    };
    assert_eq!(shown(&parsed), shown(&generally), "read directly and generally");
    match parsed {
        Ok(delivery) => {
            for event in &delivery.events {
                let text = event.image.to_string();
                let again = ImageRef::parse(&text).unwrap_or_else(|e| {
                    panic!("{text:?} from {:?} does not parse: {e}", event.image)
                });
                assert_eq!(again, event.image, "{text:?} does not round-trip");
            }
            // `parse` is `parse_delivery`'s events.
            let events = registry::parse(&headers, body).expect("parsed once, parses again");
            assert_eq!(events, delivery.events);
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
});

/// Splits `Name: value` lines up to the first empty line from the body.
fn split(data: &[u8]) -> (Vec<(String, String)>, &[u8]) {
    let Some(end) = data.windows(2).position(|w| w == b"\n\n") else {
        return (Vec::new(), data);
    };
    let headers = String::from_utf8_lossy(&data[..end])
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    (headers, &data[end + 2..])
}
