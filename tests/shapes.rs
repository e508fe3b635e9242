//! Gate mode on the shapes of real charts whose authors wrote their own migrations
//! (tests/shapes/<chart>/: our own text in the chart's shape, never the chart's code; its
//! SHAPE.md says which chart and files it mirrors). Each SHAPE.md has a table of the objects
//! that run pods and whether gate mode must hold them, written from what the app needs, not
//! from what deploy-jobs does: `yes` rows must be held by every job that runs before the app,
//! `no` and `should not` rows by none (`debatable` and `optional` rows are left to the
//! configuration). Every shape also renders in hook mode. A `values-error-*.yaml` beside it
//! must be refused, naming the job.

mod common;

use std::fs;
use std::path::Path;

use serde_json::Value as Json;

/// The objects a table row names: `Deployment/a, b, c (note)`, or `Deployment/x-a, -b`.
fn row_objects(cell: &str) -> Vec<String> {
    let cell = cell.split(" (").next().unwrap_or(cell).trim();
    let Some((kind, names)) = cell.split_once('/') else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    let mut first = String::new();
    for name in names.split(',').map(|n| n.trim().trim_matches('`')) {
        if name.is_empty() || name.contains('…') {
            continue;
        }
        let name = match name.strip_prefix('-') {
            // `temporal-frontend, -history`: the first name's stem, another suffix.
            Some(suffix) => format!(
                "{}-{suffix}",
                first.rsplit_once('-').map_or(first.as_str(), |(s, _)| s)
            ),
            None => name.to_string(),
        };
        if first.is_empty() {
            first = name.clone();
        }
        out.push(format!("{kind}/{name}"));
    }
    out
}

/// (objects, must be held) for each decided row of SHAPE.md's table.
fn expectations(shape: &str) -> Vec<(Vec<String>, bool)> {
    shape
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if cells.len() < 4 || !cells[1].contains('/') || cells[1].starts_with('-') {
                return None;
            }
            let verdict = cells[3].trim_start_matches("**").to_lowercase();
            let held = if verdict.starts_with("yes") {
                true
            } else if verdict.starts_with("no") || verdict.starts_with("should not") {
                false
            } else {
                return None;
            };
            Some((row_objects(cells[1]), held))
        })
        .collect()
}

fn flags(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join("flags"))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn run(dir: &Path, values: &Path, args: &[&str]) -> std::process::Output {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.extend(flags(dir));
    all.push("--values".into());
    all.push(values.display().to_string());
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    common::run(&refs, &fs::read(dir.join("input.yaml")).unwrap())
}

#[test]
fn gate_mode_holds_what_each_real_chart_shape_needs() {
    let root = common::repo_root().join("tests/shapes");
    let mut shapes: Vec<_> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    shapes.sort();
    assert!(shapes.len() >= 10, "the shapes of a dozen public charts");
    let mut problems = Vec::new();
    let mut checked = 0;
    for dir in &shapes {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let shape = fs::read_to_string(dir.join("SHAPE.md")).unwrap();
        assert!(
            shape.contains("Mirrors"),
            "{name}: SHAPE.md names what it mirrors"
        );
        let mut values: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("values")
            })
            .collect();
        values.sort();
        for v in &values {
            let file = v.file_name().unwrap().to_string_lossy().to_string();
            let refused = file.starts_with("values-error-");
            for target in ["gate", "helm"] {
                let out = run(dir, v, &["render", "--target", target]);
                let err = String::from_utf8_lossy(&out.stderr);
                if refused && target == "gate" {
                    if out.status.success() || !err.contains("deploy_jobs[") {
                        problems.push(format!(
                            "{name}/{file}: must be refused naming the job: {err}"
                        ));
                    }
                } else if !out.status.success() && !refused {
                    problems.push(format!("{name}/{file} --target {target}: {err}"));
                }
            }
            if refused {
                continue;
            }
            let out = run(dir, v, &["plan", "--target", "gate", "-o", "json"]);
            let plan: Json = serde_json::from_slice(&out.stdout).unwrap_or(Json::Null);
            let jobs = plan["gate"].as_array().cloned().unwrap_or_default();
            let before: Vec<&Json> = jobs.iter().filter(|j| j["follows"].is_null()).collect();
            for (objects, must) in expectations(&shape) {
                for object in objects {
                    checked += 1;
                    for job in &before {
                        let held = job["gates"]
                            .as_array()
                            .is_some_and(|g| g.iter().any(|o| o == object.as_str()));
                        if held != must {
                            problems.push(format!(
                                "{name}/{file}: {object} must {}be held by {}",
                                if must { "" } else { "not " },
                                job["job"]
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(checked >= 40, "{checked} expectations checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn table_rows_name_their_objects() {
    assert_eq!(
        row_objects("Deployment/temporal-frontend, -history, -matching"),
        [
            "Deployment/temporal-frontend",
            "Deployment/temporal-history",
            "Deployment/temporal-matching"
        ]
    );
    assert_eq!(
        row_objects("Deployment/a (strategy **Recreate**)"),
        ["Deployment/a"]
    );
    assert_eq!(
        expectations(
            "| Deployment/a | x | yes |\n| StatefulSet/db | y | **no**: waited |\n| D/c | z | debatable |"
        ),
        [
            (vec!["Deployment/a".to_string()], true),
            (vec!["StatefulSet/db".to_string()], false)
        ]
    );
}
