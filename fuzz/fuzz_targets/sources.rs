//! Sources: what a repository or a person hands Tripline about Git and Helm sources. A
//! source's URL, reference and path are checked (never panicking, and a URL never shows its
//! password in a message); image lines are rewritten in any file text, changing nothing but
//! those lines; a Helm values text takes an image override or is refused with an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tripline_engine::source::git::{GitSource, redacted};
use tripline_engine::source::helm::{ImageValues, set_image_values};
use tripline_engine::source::writeback::replace_image;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(4, '\u{1}');
    let (first, second, third, rest) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );

    let source = GitSource {
        url: first.to_owned(),
        reference: second.to_owned(),
        path: third.to_owned(),
    };
    if let Err(error) = source.validate() {
        assert!(!error.message.is_empty());
    } else {
        let directory = source.directory().expect("a valid source has a directory");
        assert!(
            !directory.split('/').any(|part| part == ".."),
            "{directory}"
        );
    }
    // No user information survives: the authority has no `@` left.
    let shown = redacted(&format!("https://user:s3cret@{first}"));
    let authority = shown["https://".len()..].split('/').next().unwrap_or("");
    assert!(!authority.contains('@'), "{shown}");

    // Only lines naming the image change, and the same number of lines comes back.
    let mut rewritten = rest.to_owned();
    if !first.is_empty() && !first.contains('\n') && !second.contains('\n') {
        let changed = replace_image(&mut rewritten, first, second);
        assert_eq!(rewritten.split('\n').count(), rest.split('\n').count());
        if !changed {
            assert_eq!(rewritten, rest);
        }
        for (before, after) in rest.split('\n').zip(rewritten.split('\n')) {
            if before != after {
                assert!(before.contains("image:"), "{before:?} → {after:?}");
            }
        }
    }

    // Image values edited in place: under the default keys, then again on the result, and
    // under one key for the whole reference.
    let keys = ImageValues::default();
    if let Ok(values) = set_image_values(rest, &keys, first, Some(second), None) {
        let _ = set_image_values(&values, &keys, first, Some(second), Some(first));
    }
    let whole = ImageValues::Whole {
        image: "web.image".into(),
    };
    let _ = set_image_values(rest, &whole, first, None, Some(second));
});
