//! Inputs too large to keep in testdata/, generated here: each gives correct output or a
//! clear error with a document number, never a panic and never half a stream. (Time and
//! memory are measured by scripts/bench.sh, not asserted here.)

use deploy_jobs::{Options, render};

fn job_config() -> String {
    "---\napiVersion: deploy-jobs/v1\nkind: DeployJobs\nmetadata:\n  name: shop\ndeploy_jobs:\n- name: migrate\n  image: m:1\n  envFrom:\n  - secretRef: {name: big}\n".to_string()
}

#[test]
fn a_50_mb_scalar_passes_through_and_is_copied_when_referenced() {
    let value = "x".repeat(50 * 1024 * 1024);
    let input = format!(
        "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: big\nstringData:\n  blob: {value}\n{}",
        job_config()
    );
    let out = render(input.as_bytes(), &Options::default()).expect("renders");
    let text = out.stream.to_string();
    assert_eq!(
        text.matches(value.as_str()).count(),
        2,
        "the original and its hook copy both carry the whole value"
    );
}

#[test]
fn a_million_tiny_documents_pass_through() {
    let input = "---\na: 1\n".repeat(1_000_000);
    let out = render(input.as_bytes(), &Options::default()).expect("renders");
    assert_eq!(out.stream.to_string(), input, "no configuration: unchanged");
    let with_config = format!("{input}{}", job_config());
    let out = render(with_config.as_bytes(), &Options::default()).expect("renders");
    let text = out.stream.to_string();
    assert!(
        text.starts_with(&input),
        "the million documents come first, unchanged"
    );
    assert!(text.contains("kind: Job"), "and the job is appended");
}

#[test]
fn secret_values_never_appear_in_errors() {
    const MARKER: &str = "MARKER-7d1e-secret";
    let cases = [
        // A Secret the job references, broken after the value.
        format!(
            "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: big\nstringData:\n  p: {MARKER}\n  q: [unclosed\n{}",
            job_config()
        ),
        // A Secret whose value is where a mapping should be.
        format!(
            "---\napiVersion: v1\nkind: Secret\nmetadata: {MARKER}\n{}",
            job_config()
        ),
        // A duplicate key holding the value.
        format!(
            "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: big\nstringData:\n  p: {MARKER}\n  p: {MARKER}\n{}",
            job_config()
        ),
    ];
    let mut errors = 0;
    for (i, input) in cases.iter().enumerate() {
        for strict in [false, true] {
            let options = Options {
                strict,
                ..Options::default()
            };
            if let Err(err) = render(input.as_bytes(), &options) {
                errors += 1;
                let message = format!("{err:#}");
                assert!(
                    !message.contains(MARKER),
                    "case {i} (strict: {strict}) leaks: {message}"
                );
                assert!(
                    message.starts_with("document "),
                    "case {i} names the document: {message}"
                );
            }
        }
    }
    assert!(
        errors >= 4,
        "the broken Secrets must be reported, got {errors} errors"
    );
}
