//! Splitting any bytes and joining the documents back gives the same bytes; numbering and
//! offsets are consistent; splitting in runs (as each core does for a large stream) and
//! renumbering gives the same documents, for every number of runs up to 8.
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
    let text = std::str::from_utf8(data).expect("split accepted it");
    for n in 1..=8 {
        let mut pieced = Vec::new();
        let mut before = 0;
        for run in deploy_jobs::stream::runs(text, n) {
            let part = deploy_jobs::stream::split_run(text, run);
            let content = part.iter().filter(|d| d.has_content()).count();
            pieced.extend(part.into_iter().map(|mut d| {
                if d.has_content() {
                    d.number += before;
                }
                d
            }));
            before += content;
        }
        assert_eq!(pieced, docs, "{n} runs split as the whole does");
    }
});
