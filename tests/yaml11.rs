//! What Kubernetes reads back is what we meant: generated documents read by real kubectl
//! (Go's YAML 1.1 resolver, as Helm, Argo CD and the API server read them) must equal what
//! a YAML 1.2 reader (serde) reads, string for string, keys included.
//!
//! `kubectl annotate --local -f FILE x=y -o json` reads a file offline and prints each
//! object as JSON; every check batches its documents into one file, so kubectl runs once.

mod common;

use std::collections::BTreeMap;
use std::fs;

use deploy_jobs::{Options, render};
use proptest::prelude::*;
use serde_json::Value as Json;
use serde_norway::Value;

/// The documents deploy-jobs generated in a rendered stream (they carry its marker), and the
/// workloads the gate mode rewrote, as text.
fn generated_texts(rendered: &str) -> Vec<String> {
    deploy_jobs::stream::split_text(rendered)
        .into_iter()
        .filter(|d| {
            d.raw.contains("deploy-jobs.io/job:") || d.raw.contains("deploy-jobs.io/gate-jobs:")
        })
        .filter(|d| {
            let v: Value = serde_norway::from_str(d.yaml()).unwrap_or(Value::Null);
            // Generated, or a workload the gate mode rewrote.
            !v["metadata"]["annotations"]["deploy-jobs.io/job"].is_null()
                || [
                    &v["spec"]["template"],
                    &v["spec"]["jobTemplate"]["spec"]["template"],
                ]
                .iter()
                .any(|t| !t["metadata"]["annotations"]["deploy-jobs.io/gate-jobs"].is_null())
        })
        .map(|d| d.raw.to_string())
        .collect()
}

/// Reads the texts with kubectl (one call) and with serde; both must agree.
fn assert_same_reading(texts: &[String], what: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("generated.yaml");
    fs::write(&file, texts.concat()).expect("write generated documents");
    let go = common::kubectl_reads_file(&file);
    let serde: Vec<Json> = texts
        .iter()
        .map(|t| {
            let v: Value = serde_norway::from_str(t).expect("valid YAML");
            serde_json::to_value(&v).expect("JSON-compatible")
        })
        .collect();
    assert_eq!(go.len(), serde.len(), "{what}: kubectl read every document");
    for (i, (go, serde)) in go.iter().zip(&serde).enumerate() {
        assert_eq!(
            go,
            serde,
            "{what}: YAML 1.1 (kubectl) and YAML 1.2 (serde) read document {} differently:\n{}",
            i + 1,
            texts[i]
        );
    }
}

#[test]
fn every_golden_output_reads_the_same_under_yaml_1_1() {
    let root = common::repo_root().join("testdata");
    let mut texts = Vec::new();
    let mut cases = 0;
    for entry in fs::read_dir(&root).expect("testdata/") {
        let expected = entry.expect("entry").path().join("expected.yaml");
        let Ok(text) = fs::read_to_string(&expected) else {
            continue;
        };
        let generated = generated_texts(&text);
        cases += usize::from(!generated.is_empty());
        texts.extend(generated);
    }
    assert!(
        cases >= 20 && texts.len() >= 50,
        "the golden outputs hold generated documents ({cases} cases, {} documents)",
        texts.len()
    );
    assert_same_reading(&texts, "golden outputs");
}

/// Strings YAML 1.1 resolves to something else when plain, and random ones around them.
fn adversarial() -> impl Strategy<Value = String> {
    let specials = prop::sample::select(vec![
        "y",
        "Y",
        "n",
        "N",
        "yes",
        "No",
        "ON",
        "off",
        "Off",
        "oFF",
        "true",
        "False",
        "null",
        "Null",
        "~",
        "",
        "0",
        "010",
        "0b1010",
        "0o17",
        "0x1F",
        "1_000",
        "-1_000",
        "+12",
        "190:20:30",
        "-1:30",
        "1.5",
        "1e5",
        "1E+5",
        "6.8523015e+5",
        ".inf",
        "-.Inf",
        ".NaN",
        "2001-12-14",
        "2001-12-14t21:59:43.10-05:00",
        "2001-12-14 21:59:43.10 -5",
        "<<",
        "=",
        "- a",
        "? a",
        "a: b",
        "a #b",
        "#a",
        "&a",
        "*a",
        "!a",
        "|",
        ">",
        "%a",
        "@a",
        "`a",
        "'a'",
        "\"a\"",
        "{a}",
        "[a]",
        "a,b",
        " a",
        "a ",
        "a\nb",
        "a\n",
        "\n",
        "\ta",
        "a\u{85}b",
        "\u{2028}",
        "\u{feff}a",
        "a\r\nb",
        "é",
        "日本",
        "\u{1F600}",
        "---",
        "...",
        "- ",
    ])
    .prop_map(str::to_string);
    prop_oneof![
        3 => specials,
        2 => "[0-9a-fA-FxXoObB_.:+\\- eEtTzZ]{1,10}",
        2 => "(y|n|yes|no|on|off|true|false|null)".prop_map(|w| w.to_string())
            .prop_flat_map(|w| prop::collection::vec(any::<bool>(), w.len()).prop_map(move |caps| {
                w.chars().zip(caps).map(|(c, up)| if up { c.to_ascii_uppercase() } else { c }).collect()
            })),
        2 => "[ -~]{0,12}",
        1 => "[ -~\n\t]{0,16}",
        1 => "\\PC{0,8}",
        1 => any::<String>().prop_map(|s| s.chars().take(12).collect()),
    ]
}

/// One input stream whose ConfigMap data, env values and job annotations are the strings.
fn stream_with(strings: &[String]) -> (String, BTreeMap<String, String>) {
    let mut data = BTreeMap::new();
    for (i, s) in strings.iter().enumerate() {
        // Keys are strings too; a few of them adversarial, all unique.
        data.insert(format!("k{i}"), s.clone());
        // A `<<` key is a merge key to serde_norway even when quoted; left out.
        if !s.is_empty() && s != "<<" {
            data.insert(s.clone(), format!("v{i}"));
        }
    }
    let env: Vec<Value> = strings
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut m = serde_norway::Mapping::new();
            m.insert("name".into(), format!("E{i}").into());
            m.insert("value".into(), s.clone().into());
            Value::Mapping(m)
        })
        .collect();
    let annotations: BTreeMap<String, String> = strings
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("example.com/a{i}"), s.clone()))
        .collect();
    let deployment = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "app", "labels": {"app.kubernetes.io/instance": "shop"}},
        "spec": {"selector": {"matchLabels": {"app": "app"}}, "template": {
            "metadata": {"labels": {"app": "app"}},
            "spec": {"containers": [{"name": "app", "image": "shop:1",
                "env": env, "envFrom": [{"configMapRef": {"name": "flags"}}]}]}}}
    });
    let config_map = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "flags"}, "data": data,
    });
    let config = serde_json::json!({
        "apiVersion": "deploy-jobs/v1", "kind": "DeployJobs", "metadata": {"name": "shop"},
        "deploy_jobs": [{"name": "migrate", "container": "app", "command": ["migrate"],
            "annotations": annotations}],
    });
    let mut text = String::new();
    for doc in [deployment, config_map, config] {
        text.push_str("---\n");
        text.push_str(&serde_norway::to_string(&doc).expect("input serializes"));
    }
    (text, data)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Adversarial strings in every place a value or key is copied into a generated object
    /// (ConfigMap data keys and values, env values, annotations) read back unchanged by
    /// kubectl; 150 strings per kubectl call.
    #[test]
    fn copied_strings_read_back_unchanged_under_yaml_1_1(
        strings in prop::collection::vec(adversarial(), 150)
    ) {
        let (input, data) = stream_with(&strings);
        let rendered = render(input.as_bytes(), &Options::default())
            .expect("render succeeds")
            .stream
            .to_string();
        let texts = generated_texts(&rendered);
        prop_assert_eq!(texts.len(), 2, "a ConfigMap copy and the Job");
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("generated.yaml");
        fs::write(&file, texts.concat()).expect("write");
        let go = common::kubectl_reads_file(&file);
        let copy = go.iter().find(|v| v["kind"] == "ConfigMap").expect("the copy");
        let want: serde_json::Map<String, Json> =
            data.iter().map(|(k, v)| (k.clone(), Json::String(v.clone()))).collect();
        prop_assert_eq!(&copy["data"], &Json::Object(want), "ConfigMap data as kubectl reads it");
        let job = go.iter().find(|v| v["kind"] == "Job").expect("the Job");
        let env = &job["spec"]["template"]["spec"]["containers"][0]["env"];
        for (i, s) in strings.iter().enumerate() {
            prop_assert_eq!(&env[i]["value"], &Json::String(s.clone()), "env E{} as kubectl reads it", i);
            prop_assert_eq!(
                &job["metadata"]["annotations"][format!("example.com/a{i}")],
                &Json::String(s.clone()),
                "annotation a{} as kubectl reads it", i
            );
        }
    }
}
