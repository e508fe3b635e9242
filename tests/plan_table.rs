//! `plan`'s table in a terminal: every line fits the width it is given (COLUMNS, 100 through a
//! pipe), on the example chart with the real helm and on every plan case under testdata/; a
//! value's newline never breaks a row; `-o wide` and `-o json` keep every value whole, and
//! neither they nor `-o name` depend on the width.

mod common;

use std::fs;
use std::process::Command;

use deploy_jobs::report::{EventHooks, GateJob, Hook, Report};
use proptest::prelude::*;
use unicode_width::UnicodeWidthStr;

/// `plan` with `args` on `input`, with COLUMNS set to `columns` (unset: none).
fn plan(input: &[u8], args: &[&str], columns: Option<usize>) -> String {
    let mut cmd = Command::new(common::BIN);
    cmd.arg("plan")
        .args(args)
        .current_dir(common::repo_root())
        .env_remove("HELM_PLUGIN_NAME")
        .env_remove("COLUMNS");
    if let Some(c) = columns {
        cmd.env("COLUMNS", c.to_string());
    }
    common::succeeded(common::pipe(&mut cmd, input), &format!("plan {args:?}"))
}

/// The lines of `text` wider than `width` terminal columns, for the failure message.
fn too_wide(text: &str, width: usize) -> Vec<String> {
    text.lines()
        .filter(|l| l.width() > width)
        .map(|l| format!("{:>4}: {l}", l.width()))
        .collect()
}

/// The plan cases under testdata/ that print a table, with their arguments.
fn table_cases() -> Vec<(String, Vec<u8>, Vec<String>)> {
    let root = common::repo_root().join("testdata");
    let mut cases = Vec::new();
    for entry in fs::read_dir(&root).expect("testdata/") {
        let dir = entry.expect("entry").path();
        let command = fs::read_to_string(dir.join("command")).unwrap_or_default();
        if command.trim() != "plan" || !dir.join("expected.out").exists() {
            continue;
        }
        let mut args: Vec<String> = fs::read_to_string(dir.join("args"))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        // The table, whatever output the case itself asks for.
        if let Some(at) = args.iter().position(|a| a == "-o" || a == "--output") {
            args.drain(at..at + 2);
        }
        if dir.join("values.yaml").exists() {
            args.push("--values".into());
            args.push(dir.join("values.yaml").to_string_lossy().into_owned());
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        cases.push((name, fs::read(dir.join("input.yaml")).unwrap(), args));
    }
    cases.sort();
    cases
}

#[test]
fn every_plan_case_fits_the_columns_it_is_given() {
    let cases = table_cases();
    assert!(
        cases
            .iter()
            .any(|(n, _, _)| n == "plan-multi-line-commands-stay-on-their-rows"),
        "the case with multi-line commands is among them"
    );
    let mut failures = Vec::new();
    for (name, input, args) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        for (columns, width) in [(Some(100), 100), (Some(60), 60), (None, 100)] {
            let out = plan(input, &args, columns);
            let wide = too_wide(&out, width);
            if !wide.is_empty() {
                failures.push(format!("{name} at {columns:?}:\n{}", wide.join("\n")));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_newline_in_a_command_stays_on_its_row_and_wide_shows_it_whole() {
    let input = fs::read(
        common::repo_root().join("testdata/plan-multi-line-commands-stay-on-their-rows/input.yaml"),
    )
    .unwrap();
    let script = "/bin/sh -c set -eu\\n/srv/ledger db wait --timeout 120s\\n/srv/ledger db migrate --to latest\\t--lock-timeout 30s\\n/srv/ledger db verify\\n";
    let wide = plan(&input, &["-o", "wide"], Some(100));
    assert_eq!(
        wide.matches(script).count(),
        2,
        "the script, escaped, once per event:\n{wide}"
    );
    assert!(
        wide.contains("ON_ERROR_STOP=1 -c REINDEX TABLE ledger_entries;\\r\\nANALYZE"),
        "a carriage return shows as \\r:\n{wide}"
    );
    for out in [wide, plan(&input, &[], Some(100))] {
        assert!(
            !out.contains(['\t', '\r']),
            "no raw control character:\n{out}"
        );
        let rows = out
            .lines()
            .filter(|l| l.starts_with("  0 ") || l.starts_with("  1 "));
        assert_eq!(rows.count(), 4, "two jobs, two events, a row each:\n{out}");
    }
}

#[test]
fn json_and_name_do_not_depend_on_the_width() {
    for (name, input, args) in table_cases() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        for output in ["json", "name", "wide"] {
            let args: Vec<&str> = args.iter().copied().chain(["-o", output]).collect();
            assert_eq!(
                plan(&input, &args, Some(40)),
                plan(&input, &args, None),
                "{name}: -o {output} at COLUMNS=40 and through a pipe"
            );
        }
    }
}

#[test]
fn the_example_chart_fits_100_columns_in_every_mode() {
    let helm = common::Helm::new("helm4");
    for values in [
        "",
        "charts/example/values-staging.yaml",
        "charts/example/values-production.yaml",
    ] {
        let mut args = vec!["template", "shop", "charts/example"];
        if !values.is_empty() {
            args.extend(["-f", values]);
        }
        let rendered = helm.ok(&args);
        for target in ["helm", "argocd", "gate"] {
            let out = plan(rendered.as_bytes(), &["--target", target], Some(100));
            assert!(
                out.contains("shop-example-migrate"),
                "{values} --target {target}: the migration is listed:\n{out}"
            );
            let wide = too_wide(&out, 100);
            assert!(
                wide.is_empty(),
                "{values} --target {target}:\n{}\n\n{out}",
                wide.join("\n")
            );
        }
    }
}

/// Words for names, commands and prose: plain, long, non-ASCII, and with control characters.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,10}",
        "[a-z0-9/:.-]{20,90}",
        Just("数据库迁移".to_string()),
        Just("café".to_string()),
        Just("a\nb".to_string()),
        Just("\t".to_string()),
        Just("x\r\ny".to_string()),
        Just(String::new()),
    ]
}

fn words(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(word(), 1..max).prop_map(|w| w.join(" "))
}

fn hook() -> impl Strategy<Value = Hook> {
    (
        any::<i32>(),
        "[A-Z][a-zA-Z]{2,20}",
        "[a-z][a-z0-9-]{0,62}",
        prop::collection::vec(words(3), 0..3),
        prop::option::of(words(3)),
        prop::option::of(prop::collection::vec(words(6), 1..4)),
    )
        .prop_map(|(weight, kind, name, wait_for, image, command)| Hook {
            weight: i64::from(weight),
            kind,
            name,
            job: Some("j".to_string()),
            chart_hook: None,
            read_by: Vec::new(),
            copy_of: None,
            wait_for,
            image,
            command,
            active_deadline_seconds: Some(240),
            delete_policy: "before-hook-creation,hook-succeeded".to_string(),
        })
}

fn gate_job() -> impl Strategy<Value = GateJob> {
    (
        "[a-z][a-z0-9-]{0,40}",
        "[a-z][a-z0-9-]{0,62}",
        prop::collection::vec(words(3), 0..4),
        prop::option::of(words(3)),
        prop::option::of(prop::collection::vec(words(6), 1..4)),
    )
        .prop_map(|(job, name, gates, image, command)| GateJob {
            job,
            name,
            namespace: None,
            gates,
            not_held: Vec::new(),
            follows: Vec::new(),
            after: None,
            objects: Vec::new(),
            wait_for: Vec::new(),
            image,
            command,
            active_deadline_seconds: 600,
        })
}

fn report() -> impl Strategy<Value = Report> {
    (
        prop::option::of(words(4)),
        prop::collection::vec(hook(), 1..6),
        prop::collection::vec(gate_job(), 0..3),
        prop::collection::vec(words(40), 0..8),
    )
        .prop_map(|(environment, hooks, gate, warnings)| Report {
            environment,
            events: ["pre-install", "post-upgrade"]
                .map(|event| EventHooks {
                    event: event.to_string(),
                    hooks: hooks.clone(),
                })
                .into(),
            gate,
            disabled: Vec::new(),
            warnings,
        })
}

/// A value as the table shows it: a newline, tab or carriage return escaped.
fn shown(value: &str) -> String {
    value
        .replace('\n', "\\n")
        .replace('\t', "\\t")
        .replace('\r', "\\r")
}

/// The whole values a reader may look for: names, images, commands, warnings.
fn values(report: &Report) -> Vec<String> {
    let hooks = report.events.iter().flat_map(|e| &e.hooks);
    let mut values: Vec<String> = hooks
        .flat_map(|h| {
            [
                Some(h.name.clone()),
                h.image.clone(),
                h.command.as_ref().map(|c| c.join(" ")),
            ]
        })
        .chain(report.gate.iter().flat_map(|g| {
            [
                Some(g.name.clone()),
                g.image.clone(),
                g.command.as_ref().map(|c| c.join(" ")),
            ]
        }))
        .flatten()
        .collect();
    values.extend(report.warnings.iter().cloned());
    values
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_line_fits_any_width_from_60(report in report(), width in 60usize..220) {
        let out = report.table(false, Some(width));
        let wide = too_wide(&out, width);
        prop_assert!(wide.is_empty(), "at {}:\n{}\n\n{}", width, wide.join("\n"), out);
        // A row per hook: nothing in a value added a line to a table.
        for event in &report.events {
            let table: Vec<&str> = out
                .split(&format!("\n{}\n", event.event))
                .nth(1)
                .expect("the event's table")
                .lines()
                .take_while(|l| !l.is_empty())
                .collect();
            prop_assert_eq!(table.len(), event.hooks.len() + 1, "{}", out);
        }
    }

    #[test]
    fn wide_and_json_keep_every_value_whole(report in report()) {
        let wide = report.table(false, None);
        for value in values(&report) {
            prop_assert!(wide.contains(&shown(&value)), "-o wide lacks {:?}:\n{}", value, wide);
        }
        let json: serde_json::Value = serde_json::to_value(&report).unwrap();
        let mut strings = Vec::new();
        json_strings(&json, &mut strings);
        let hooks = report.events.iter().flat_map(|e| &e.hooks);
        let words = hooks.flat_map(|h| h.command.iter().flatten().chain(h.image.iter()).chain([&h.name]));
        for value in words.chain(&report.warnings) {
            prop_assert!(strings.contains(value), "-o json lacks {:?}", value);
        }
    }
}

/// Every string in a JSON value.
fn json_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| json_strings(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| json_strings(v, out)),
        _ => {}
    }
}

/// On a terminal (a pseudo-terminal from util-linux's `script`), without COLUMNS, the table
/// takes the terminal's width; COLUMNS, when set, wins.
#[test]
fn a_terminal_lends_its_width_unless_columns_is_set() {
    let input =
        common::repo_root().join("testdata/plan-multi-line-commands-stay-on-their-rows/input.yaml");
    let on_terminal = |columns: &str| {
        let line = format!(
            "stty rows 40 cols 72; {columns} '{}' plan < '{}'",
            common::BIN,
            input.display()
        );
        let out = Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .env_remove("COLUMNS")
            .env("NO_COLOR", "1")
            .output()
            .expect("script(1) from util-linux runs");
        let text = common::succeeded(out, "plan on a terminal").replace('\r', "");
        text.lines().map(UnicodeWidthStr::width).max().unwrap_or(0)
    };
    assert_eq!(
        on_terminal("env -u COLUMNS"),
        72,
        "the terminal's 72 columns"
    );
    assert_eq!(
        on_terminal("env COLUMNS=64"),
        64,
        "COLUMNS over the terminal"
    );
}
