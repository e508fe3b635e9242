//! Checked-in generated files must be what the code generates now (`UPDATE_GOLDEN=1`
//! rewrites them): the JSON Schemas, so `helm lint` and editors check what the parser checks.

mod common;

use std::fs;

fn check(path: &str, args: &[&str]) {
    let out = common::run(args, b"");
    assert!(out.status.success(), "deploy-jobs {args:?} fails");
    let generated = String::from_utf8(out.stdout).unwrap();
    let file = common::repo_root().join(path);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(&file, &generated).unwrap();
        return;
    }
    let checked_in = fs::read_to_string(&file).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{path} is stale: run `deploy-jobs {}` > {path} (or UPDATE_GOLDEN=1 cargo test)",
        args.join(" ")
    );
}

#[test]
fn the_deploy_jobs_schema_is_current() {
    check("schema/deploy-jobs.schema.json", &["schema"]);
}

#[test]
fn the_example_charts_values_schema_is_current() {
    check("charts/example/values.schema.json", &["schema", "--values"]);
}

#[test]
fn the_schema_knows_every_key_the_parser_accepts() {
    let out = common::run(&["schema"], b"");
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let job = &schema["definitions"]["JobSpec"];
    assert_eq!(
        job["additionalProperties"], false,
        "misspelled keys are rejected"
    );
    let keys: Vec<&str> = job["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "name",
        "container",
        "workload",
        "command",
        "when",
        "waitFor",
        "activeDeadlineSeconds",
        "deletePolicy",
        "volumes",
        "sidecars",
    ] {
        assert!(keys.contains(&key), "schema lacks `{key}`: {keys:?}");
    }
    assert_eq!(job["required"], serde_json::json!(["name"]));
}
