//! Structure-aware: builds YAML-like streams from fuzz bytes out of the pieces that matter
//! to deploy-jobs (indentation, keys it reads, anchors, block scalars, quotes, markers,
//! quoted and plain scalars and flow collections that run on over several lines) and
//! checks that the header sniffer never disagrees with the YAML parser, and that render
//! never panics on them.
#![no_main]

use libfuzzer_sys::fuzz_target;

const KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "labels",
    "annotations",
    "spec",
    "selector",
    "matchLabels",
    "matchExpressions",
    "app.kubernetes.io/instance",
    "helm.sh/hook",
    "deploy-jobs.io/job",
    "data",
    "<<",
    "\"kind\"",
    "'name'",
    "containers",
    "env",
];
const VALUES: &[&str] = &[
    "",
    " Deployment",
    " Secret",
    " v1",
    " web",
    " \"quoted\"",
    " 'single'",
    " &a x",
    " *a",
    " !!str x",
    " |",
    " >-",
    " [a, b]",
    " {}",
    " {a: b}",
    " ~",
    " 3",
    " true",
    " x # c",
    " \"esc\\\"aped\"",
    " 'it''s'",
    " a: b",
    " -",
    " - x",
    "\t",
    " \"open",
    // Multi-line quoted and plain scalars and flow collections: openers, and the lines that
    // continue or close them (possibly less indented, where they look like keys).
    " 'open",
    " \"esc \\\" open",
    " [a,",
    " {a: b,",
    " &a \"open",
    " rotated-by-vault\"",
    " it''s'",
    " b]",
    " c}",
    " plain words",
    " |-",
];
const LINES: &[&str] = &[
    "---",
    "...",
    "# c",
    "",
    "- item",
    "--- x",
    "\u{feff}",
    "%YAML 1.2",
    "  continued plain text",
    "  closing\"",
    "  closing'",
    "  - \"open",
    "  - [a,",
    "    \"quoted key",
    "  b: c]",
];

fuzz_target!(|data: &[u8]| {
    let mut text = String::new();
    for pair in data.chunks(2) {
        let (a, b) = (pair[0], *pair.get(1).unwrap_or(&0));
        match a % 4 {
            0 => text.push_str(LINES[b as usize % LINES.len()]),
            _ => {
                text.push_str(&" ".repeat((a as usize / 4) % 7));
                text.push_str(KEYS[b as usize % KEYS.len()]);
                text.push(':');
                text.push_str(VALUES[(a as usize / 28 + b as usize) % VALUES.len()]);
            }
        }
        text.push('\n');
    }
    for doc in deploy_jobs::stream::split(text.as_bytes()).expect("built from UTF-8") {
        let Ok(sniffed) = deploy_jobs::header::sniff(doc.yaml()) else {
            continue;
        };
        let Ok(mut value) = serde_norway::from_str::<serde_norway::Value>(doc.yaml()) else {
            continue;
        };
        if value.apply_merge().is_err() {
            continue;
        }
        if let Ok(parsed) = deploy_jobs::header::Header::from_value(&value) {
            assert_eq!(
                sniffed, parsed,
                "sniff and parser disagree on:\n{}",
                doc.raw
            );
        }
    }
    let _ = deploy_jobs::render(text.as_bytes(), &deploy_jobs::Options::default());
});
