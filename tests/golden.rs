//! Golden cases: every folder under testdata/ holds `input.yaml`, optionally `values.yaml`
//! (passed as `--values`), `command` (the subcommand; `render` when absent) and `args`
//! (extra arguments), and either the expected stdout of a successful run (`expected.yaml`
//! for `render`, `expected.out` for other commands) or `expected.err` (stderr of a failing
//! one, which must print nothing on stdout). `UPDATE_GOLDEN=1 cargo test --test golden` rewrites them; review with
//! `git diff testdata/`.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

#[test]
fn golden_cases() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let root = common::repo_root();
    let mut cases: Vec<_> = fs::read_dir(root.join("testdata"))
        .expect("testdata/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.join("input.yaml").exists())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 20,
        "expected the golden cases, found {}",
        cases.len()
    );

    let mut failures = Vec::new();
    for case in &cases {
        if let Err(problem) = check(root, case, update) {
            failures.push(format!(
                "--- {}\n{problem}",
                case.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases differ (UPDATE_GOLDEN=1 rewrites them):\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn check(root: &Path, case: &Path, update: bool) -> Result<(), String> {
    let rel = case.strip_prefix(root).unwrap();
    let command = fs::read_to_string(case.join("command"))
        .map(|c| c.trim().to_string())
        .unwrap_or_else(|_| "render".to_string());
    let success_file = if command == "render" {
        "expected.yaml"
    } else {
        "expected.out"
    };
    let mut args: Vec<String> = vec![command];
    if case.join("values.yaml").exists() {
        args.push("--values".into());
        args.push(rel.join("values.yaml").to_string_lossy().into_owned());
    }
    if let Ok(extra) = fs::read_to_string(case.join("args")) {
        args.extend(extra.split_whitespace().map(str::to_string));
    }
    let input = fs::read(case.join("input.yaml")).unwrap();
    let out = common::pipe(
        Command::new(common::BIN)
            .args(&args)
            .current_dir(root)
            .env_remove("HELM_PLUGIN_NAME")
            // Plan tables fit COLUMNS: the goldens are at the width of a pipe.
            .env_remove("COLUMNS"),
        &input,
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let (expected_file, actual, other) = if out.status.success() {
        (success_file, stdout, "expected.err")
    } else {
        if !out.stdout.is_empty() {
            return Err(format!("failed but wrote to stdout:\n{stdout}"));
        }
        ("expected.err", stderr, success_file)
    };
    if update {
        fs::write(case.join(expected_file), &actual).unwrap();
        let _ = fs::remove_file(case.join(other));
        return Ok(());
    }
    match fs::read_to_string(case.join(expected_file)) {
        Ok(expected) if expected == actual => Ok(()),
        Ok(expected) => Err(format!(
            "{expected_file} differs.\n=== expected\n{expected}\n=== actual\n{actual}"
        )),
        Err(_) => Err(format!(
            "run {} but there is no {expected_file}; output:\n{actual}",
            if out.status.success() {
                "succeeded"
            } else {
                "failed"
            }
        )),
    }
}
