//! Properties of the transformation over generated streams: split/join is the identity,
//! render is deterministic and idempotent, and every input document reaches the output byte
//! for byte.

use deploy_jobs::{Options, ValuesFile, render, stream};
use proptest::prelude::*;

/// Lines that exercise the splitter: markers, near-markers, comments, block scalars, CRLF.
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("---".to_string()),
        Just("--- ".to_string()),
        Just("---x".to_string()),
        Just("...".to_string()),
        Just("  ---".to_string()),
        Just("# Source: c/templates/a.yaml".to_string()),
        Just("a: |".to_string()),
        Just("\u{feff}---".to_string()),
        "[a-z]{1,8}: [a-z0-9 \"'#-]{0,12}",
        "  [a-z]{1,8}: [a-z0-9]{0,6}",
        Just(String::new()),
    ]
}

fn text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(line(), 0..40),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(lines, crlf, trailing)| {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut s = lines.join(eol);
            if trailing {
                s.push_str(eol);
            }
            s
        })
}

/// Documents of a realistic stream; the Deployment has the container the job reuses.
fn document() -> impl Strategy<Value = String> {
    let name = "[a-z]{1,6}";
    prop_oneof![
        name.prop_map(|n| format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: {n}\nstringData:\n  k: v\n")),
        name.prop_map(|n| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {n}\ndata:\n  f: |\n    ---\n    x: 1\n")),
        name.prop_map(|n| format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: {n}\nspec:\n  selector:\n    app: {n}\n")),
        Just("# just a comment\n".to_string()),
        Just("apiVersion: v1\nkind: List\nitems: []\n".to_string()),
    ]
}

const APP: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    app.kubernetes.io/instance: shop\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    spec:\n      containers:\n      - name: app\n        image: web:1\n        env:\n        - name: P\n          valueFrom:\n            secretKeyRef: {name: db, key: p}\n";
const DB: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  p: x\n";

fn stream_with_app() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(document(), 0..12),
        0usize..12,
        any::<bool>(),
    )
        .prop_map(|(mut docs, at, helm3)| {
            let at = at.min(docs.len());
            docs.insert(at, APP.to_string());
            docs.insert(at, DB.to_string());
            docs.into_iter()
                .enumerate()
                .map(|(i, d)| {
                    if helm3 {
                        format!("---\n# Source: shop/templates/t{i}.yaml\n{d}")
                    } else {
                        format!("---\n{d}")
                    }
                })
                .collect()
        })
}

fn options() -> Options {
    Options {
        values: vec![ValuesFile {
            name: "values.yaml".into(),
            text: "deploy_jobs:\n- name: migrate\n  container: app\n  command: [migrate]\n- name: after\n  image: x\n  when: post-install,post-upgrade\n".into(),
        }],
        ..Options::default()
    }
}

/// The same jobs in gate mode, which rewrites the app's Deployment.
fn gate_options() -> Options {
    Options {
        target: deploy_jobs::Target::Gate,
        ..options()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn split_then_join_is_the_identity(s in text()) {
        let docs = stream::split(s.as_bytes()).unwrap();
        prop_assert_eq!(stream::join(docs.iter().map(|d| d.raw)), s);
    }

    #[test]
    fn splitting_in_runs_splits_as_the_whole_text_does(s in text(), n in 1usize..6) {
        // What reading on several cores relies on: runs that cover the text, each split on
        // its own and renumbered, give the very documents of one split of the whole.
        let runs = stream::runs(&s, n);
        prop_assert!(runs.len() <= n, "at most {} runs", n);
        prop_assert_eq!(runs.first().map(|r| r.start), Some(0));
        prop_assert_eq!(runs.last().map(|r| r.end), Some(s.len()));
        let mut pieced = Vec::new();
        let mut before = 0;
        for (i, run) in runs.iter().enumerate() {
            if i > 0 {
                prop_assert_eq!(runs[i - 1].end, run.start, "runs are contiguous");
                prop_assert!(s[run.start..].starts_with("---"), "a run starts at a separator");
            }
            let docs = stream::split_run(&s, run.clone());
            let content = docs.iter().filter(|d| d.has_content()).count();
            pieced.extend(docs.into_iter().map(|mut d| {
                if d.number != 0 {
                    d.number += before;
                }
                d
            }));
            before += content;
        }
        prop_assert_eq!(pieced, stream::split_text(&s));
    }

    #[test]
    fn render_is_deterministic_and_idempotent(s in stream_with_app()) {
        let first = render(s.as_bytes(), &options()).unwrap().stream.to_string();
        let again = render(s.as_bytes(), &options()).unwrap().stream.to_string();
        prop_assert_eq!(&first, &again, "deterministic");
        let twice = render(first.as_bytes(), &options()).unwrap().stream.to_string();
        prop_assert_eq!(&first, &twice, "rendering its own output changes nothing");
    }

    #[test]
    fn gate_mode_is_deterministic_and_idempotent(s in stream_with_app()) {
        let first = render(s.as_bytes(), &gate_options()).unwrap().stream.to_string();
        let again = render(s.as_bytes(), &gate_options()).unwrap().stream.to_string();
        prop_assert_eq!(&first, &again, "deterministic");
        prop_assert!(first.contains("name: deploy-jobs-gate"), "the app is gated");
        let twice = render(first.as_bytes(), &gate_options()).unwrap().stream.to_string();
        prop_assert_eq!(&first, &twice, "rendering its own output regenerates the gate, once");
    }

    #[test]
    fn every_input_document_is_in_the_output_unchanged(s in stream_with_app()) {
        let out = render(s.as_bytes(), &options()).unwrap().stream.to_string();
        for doc in stream::split(s.as_bytes()).unwrap() {
            prop_assert!(out.contains(doc.raw), "document {} altered:\n{}", doc.number, doc.raw);
        }
    }

    #[test]
    fn render_never_panics_on_text(s in text()) {
        let _ = render(s.as_bytes(), &Options::default());
        let _ = render(s.as_bytes(), &options());
        let _ = render(s.as_bytes(), &gate_options());
    }
}
