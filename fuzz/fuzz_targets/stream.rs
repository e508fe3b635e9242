//! Splitting any bytes and joining the documents back gives the same bytes; numbering and
//! offsets are consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(docs) = deploy_jobs::stream::split(data) else {
        return;
    };
    let joined = deploy_jobs::stream::join(docs.iter().map(|d| d.raw));
    assert_eq!(joined.as_bytes(), data, "join(split(x)) == x");
    let mut offset = 0;
    let mut number = 0;
    for doc in &docs {
        assert!(!doc.raw.is_empty(), "no empty chunks");
        assert_eq!(doc.offset, offset, "offsets follow the raw lengths");
        offset += doc.raw.len();
        if doc.has_content() {
            number += 1;
            assert_eq!(
                doc.number, number,
                "content documents are numbered 1, 2, ..."
            );
        }
    }
});
