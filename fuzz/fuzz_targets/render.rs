//! `render` on arbitrary bytes, alone or after a stream with a DeployJobs configuration that
//! reuses a container: it never panics; on success every kept input document is in the
//! output unchanged, and rendering again is deterministic.
#![no_main]

use libfuzzer_sys::fuzz_target;

const PREFIX: &str = include_str!("../seeds/prefix.yaml");

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut input = Vec::new();
    if mode & 1 == 1 {
        input.extend_from_slice(PREFIX.as_bytes());
    }
    input.extend_from_slice(rest);
    let options = deploy_jobs::Options::default();
    let Ok(first) = deploy_jobs::render(&input, &options) else {
        return;
    };
    let out = first.stream.to_string();
    let again = deploy_jobs::render(&input, &options).expect("a second run succeeds too");
    assert_eq!(out, again.stream.to_string(), "render is deterministic");
    if first.plan.is_none() {
        assert_eq!(
            out.as_bytes(),
            &input[..],
            "without a configuration the stream passes through"
        );
    }
});
