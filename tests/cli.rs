//! Behaviour of the binary as a filter: determinism, idempotence, byte-for-byte pass-through,
//! and never half a stream.

mod common;

use std::fs;

fn case(name: &str) -> Vec<u8> {
    fs::read(
        common::repo_root()
            .join("testdata")
            .join(name)
            .join("input.yaml"),
    )
    .unwrap()
}

fn render(input: &[u8], args: &[&str]) -> Vec<u8> {
    let out = common::run(args, input);
    assert!(
        out.status.success(),
        "render failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn running_on_its_own_output_changes_nothing() {
    let values = common::repo_root().join("testdata/values-file-config/values.yaml");
    let values = values.to_str().unwrap();
    let input = case("values-file-config");
    let once = render(&input, &["render", "--values", values]);
    let twice = render(&once, &["render", "--values", values]);
    assert_eq!(
        String::from_utf8_lossy(&once),
        String::from_utf8_lossy(&twice),
        "generated documents must be regenerated, not duplicated"
    );
    // With the in-stream config consumed, a second run has no config and passes through.
    let once = render(&case("helm4-filename-annotation"), &["render"]);
    assert_eq!(render(&once, &["render"]), once);
}

#[test]
fn output_is_deterministic() {
    let input = case("helm3-source-comments");
    let first = render(&input, &["render"]);
    for _ in 0..3 {
        assert_eq!(render(&input, &["render"]), first);
    }
}

#[test]
fn every_input_document_passes_through_byte_for_byte() {
    for name in [
        "helm3-source-comments",
        "helm4-filename-annotation",
        "projected-volume-references",
    ] {
        let input = String::from_utf8(case(name)).unwrap();
        let output = String::from_utf8(render(input.as_bytes(), &["render"])).unwrap();
        let docs = deploy_jobs::stream::split(input.as_bytes()).unwrap();
        for doc in docs.iter().filter(|d| !d.raw.contains("kind: DeployJobs")) {
            assert!(
                output.contains(doc.raw),
                "{name}: document {} was altered",
                doc.number
            );
        }
    }
}

#[test]
fn no_subcommand_means_render_as_helm_calls_it() {
    let input = case("helm3-source-comments");
    assert_eq!(render(&input, &[]), render(&input, &["render"]));
}

#[test]
fn errors_print_nothing_on_stdout_and_exit_non_zero() {
    let out = common::run(&["render"], b"kind: [\n");
    assert!(!out.status.success());
    assert!(
        out.stdout.is_empty(),
        "Helm must never receive half a stream"
    );
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: document 1: invalid YAML"));
}

#[test]
fn helm4_plugin_mode_reports_errors_as_a_document_helm_rejects() {
    let out = common::pipe(
        std::process::Command::new(common::BIN)
            .arg("render")
            .env("HELM_PLUGIN_NAME", "deploy-jobs")
            .env("HELM_PLUGIN_DIR", "/nonexistent"),
        b"metadata:\n  annotations:\n    postrenderer.helm.sh/postrender-filename: shop/templates/x.yaml\nkind: [\n",
    );
    assert!(
        out.status.success(),
        "Helm 4 discards the output of a failing plugin"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let doc: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    assert!(doc["kind"].is_mapping(), "kind must make Helm fail: {text}");
    let file = doc["metadata"]["annotations"][deploy_jobs::FILENAME_ANNOTATION]
        .as_str()
        .unwrap();
    assert!(
        file.contains("shop/templates/x.yaml: invalid YAML"),
        "a document that cannot be read still names its file: {file}"
    );
}

/// Helm 3 sets the same variables for every plugin (helm-secrets, helm-diff), and shows
/// stderr: input without Helm 4's annotation gets a plain error and a failing exit.
#[test]
fn plugin_variables_without_helm4_input_report_errors_plainly() {
    let out = common::pipe(
        std::process::Command::new(common::BIN)
            .arg("render")
            .env("HELM_PLUGIN_NAME", "secrets")
            .env("HELM_PLUGIN_DIR", "/nonexistent"),
        b"---\n# Source: shop/templates/x.yaml\nkind: [\n",
    );
    assert!(!out.status.success(), "a failure must fail the pipeline");
    assert!(out.stdout.is_empty(), "no error document to apply");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("error: shop/templates/x.yaml: invalid YAML"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A bad flag (`--post-renderer-args`) is an error document for Helm 4 only.
#[test]
fn plugin_mode_flag_errors_follow_the_input() {
    let run = |input: &[u8]| {
        common::pipe(
            std::process::Command::new(common::BIN)
                .args(["render", "--no-such-flag"])
                .env("HELM_PLUGIN_NAME", "deploy-jobs")
                .env("HELM_PLUGIN_DIR", "/nonexistent"),
            input,
        )
    };
    let helm4 = run(b"metadata:\n  annotations:\n    postrenderer.helm.sh/postrender-filename: shop/templates/x.yaml\n");
    assert!(helm4.status.success(), "Helm 4 reads the error document");
    assert!(
        String::from_utf8_lossy(&helm4.stdout).contains("--no-such-flag"),
        "the document names the flag"
    );
    let helm3 = run(b"---\n# Source: shop/templates/x.yaml\nkind: ConfigMap\n");
    assert!(
        !helm3.status.success(),
        "Helm 3 shows stderr and needs the exit code"
    );
    assert!(helm3.stdout.is_empty());
    assert!(String::from_utf8_lossy(&helm3.stderr).contains("--no-such-flag"));
}

#[test]
fn secret_values_never_appear_in_errors() {
    let input = b"---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: MARKER-9f3c\n---\napiVersion: deploy-jobs/v1\nkind: DeployJobs\ndeploy_jobs:\n- name: m\n  image: x\n  env:\n  - name: P\n    valueFrom: {secretKeyRef: {name: s, key: password}}\n  activeDeadlineSecond: 1\n";
    let out = common::run(&["render"], input);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("MARKER-9f3c"));
}

#[test]
fn header_sniffing_agrees_with_the_full_parser_on_every_golden_document() {
    use deploy_jobs::header::{Header, sniff};
    let mut checked = 0;
    for entry in fs::read_dir(common::repo_root().join("testdata")).unwrap() {
        let path = entry.unwrap().path();
        let Ok(input) = fs::read(path.join("input.yaml")) else {
            continue;
        };
        let Ok(docs) = deploy_jobs::stream::split(&input) else {
            continue;
        };
        for doc in docs.iter().filter(|d| d.has_content()) {
            let Ok(sniffed) = sniff(doc.yaml()) else {
                continue;
            };
            let Ok(value) = serde_norway::from_str::<serde_norway::Value>(doc.yaml()) else {
                continue;
            };
            let parsed = Header::from_value(&value).expect("sniffed documents are mappings");
            assert_eq!(
                sniffed,
                parsed,
                "{}: document {}",
                path.display(),
                doc.number
            );
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} documents were compared");
}

#[test]
fn an_error_deep_in_a_large_stream_names_its_document_in_the_whole_stream() {
    // A stream large enough to be read on several cores, whose documents name no file, so
    // that a message counts documents: the count must be the whole stream's, not a run's.
    let mut input = String::new();
    let documents = 4000;
    for i in 0..documents {
        input.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\ndata:\n  text: |\n    {}\n",
            "x".repeat(300)
        ));
        if i == 0 {
            // A document without content is not counted.
            input.push_str("---\n# nothing here\n");
        }
    }
    assert!(input.len() > 1 << 20, "large enough for several runs");
    let refused = |last: &str| {
        let out = common::run(&["render"], format!("{input}---\n{last}").as_bytes());
        assert!(!out.status.success(), "refused: {last}");
        assert!(out.stdout.is_empty(), "nothing on stdout");
        String::from_utf8_lossy(&out.stderr).trim().to_string()
    };
    // Named while the stream is read...
    assert_eq!(
        refused("just some text left by a template\n"),
        format!(
            "error: document {}: expected a mapping, found a string",
            documents + 1
        )
    );
    // ...and once it has been read, by the planner.
    let config =
        "apiVersion: deploy-jobs/v1\nkind: DeployJobs\ndeploy_jobs:\n- name: m\n  imagee: x\n";
    let message = refused(config);
    assert!(
        message.starts_with(&format!(
            "error: document {}: deploy_jobs[0]",
            documents + 1
        )),
        "{message}"
    );
}
