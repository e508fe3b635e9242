//! `deploy-jobs init`: what to write into a chart to make it deploy-jobs-ready. Pure: it
//! takes the files as they are and returns the new contents; the CLI reads and writes.
//!
//! It never rewrites what the user wrote: the DeployJobs template is added only when
//! missing, the example block is appended to `values.yaml` only when it has no
//! `deploy_jobs` key, and `values.schema.json` gets only its deploy-jobs entries. Running it
//! again changes nothing.

use anyhow::{Context, Result, bail};
use minijinja::{Environment, context};
use serde::Deserialize;

use crate::schema;

/// The DeployJobs template written into `templates/`.
pub const TEMPLATE: &str = include_str!("templates/deploy-jobs.yaml");
const VALUES_BLOCK: &str = include_str!("templates/values-block.yaml.j2");

/// Paths `init` manages, relative to the chart directory.
pub const TEMPLATE_PATH: &str = "templates/deploy-jobs.yaml";
pub const VALUES_PATH: &str = "values.yaml";
pub const SCHEMA_PATH: &str = "values.schema.json";

/// The chart files `init` looks at, as they are (`None`: missing).
#[derive(Debug, Clone, Default)]
pub struct Chart {
    pub template: Option<String>,
    pub values: Option<String>,
    pub schema: Option<String>,
}

/// One file `init` would write, or leave alone and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: &'static str,
    /// The new content; `None` when the file stays as it is.
    pub content: Option<String>,
    /// What happened, for the user.
    pub note: String,
}

/// Decides the changes; `container` is a reusable container to name in the example.
pub fn init(chart: &Chart, container: Option<&str>) -> Result<Vec<Change>> {
    let mut changes = Vec::new();

    changes.push(match &chart.template {
        None => Change {
            path: TEMPLATE_PATH,
            content: Some(TEMPLATE.to_string()),
            note: "created: renders the DeployJobs document from .Values.deploy_jobs".into(),
        },
        Some(existing) if existing == TEMPLATE => unchanged(TEMPLATE_PATH, "already present"),
        Some(_) => unchanged(TEMPLATE_PATH, "exists with your changes; left as it is"),
    });

    let values = chart.values.clone().unwrap_or_default();
    changes.push(if has_top_level_key(&values, "deploy_jobs") {
        unchanged(
            VALUES_PATH,
            "already has deploy_jobs (or the commented example)",
        )
    } else {
        let mut env = Environment::new();
        env.add_template("block", VALUES_BLOCK)
            .context("values block template")?;
        let block = env
            .get_template("block")
            .and_then(|t| t.render(context! { container => container.unwrap_or("app") }))
            .context("rendering the values block")?;
        let mut content = values;
        if !content.is_empty() && !content.ends_with('\n') {
            content.push('\n');
        }
        content.push_str(&block);
        content.push('\n');
        Change {
            path: VALUES_PATH,
            content: Some(content),
            note: "appended a commented deploy_jobs example".into(),
        }
    });

    let mut schema_value = match &chart.schema {
        None => serde_json::json!({}),
        Some(text) => serde_json::from_str(text).context("values.schema.json is not valid JSON")?,
    };
    if let Err(problem) = schema::merge_into(&mut schema_value) {
        bail!("values.schema.json {problem}");
    }
    let text = schema::to_file_text(&schema_value);
    changes.push(if chart.schema.as_deref() == Some(text.as_str()) {
        unchanged(SCHEMA_PATH, "already checks deploy_jobs")
    } else {
        Change {
            path: SCHEMA_PATH,
            content: Some(text),
            note: if chart.schema.is_some() {
                "extended: deploy_jobs is checked by helm lint".into()
            } else {
                "created: deploy_jobs is checked by helm lint".into()
            },
        }
    });
    Ok(changes)
}

fn unchanged(path: &'static str, note: &str) -> Change {
    Change {
        path,
        content: None,
        note: format!("unchanged: {note}"),
    }
}

/// Whether the YAML text has `key:` at the top level, or the commented example of it.
fn has_top_level_key(text: &str, key: &str) -> bool {
    text.lines().any(|line| {
        let line = line.strip_prefix("# ").unwrap_or(line);
        line.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with(':'))
    })
}

/// The release name `init` renders the chart under when the user names none: it stands for
/// the user's release, and is shown as `<release>` in what `init` prints.
pub const PLACEHOLDER_RELEASE: &str = "release-name";

/// The release the chart was rendered under for `init`'s listing.
#[derive(Debug, Clone, Copy)]
pub enum Release<'a> {
    /// `--release NAME`: workload names are shown as rendered.
    Named(&'a str),
    /// No release given: the chart was rendered as [`PLACEHOLDER_RELEASE`], which is shown as
    /// `<release>` so no suggestion carries a release name the user never chose.
    Placeholder,
}

impl Release<'_> {
    /// The release's name as a value rendered through `tpl` writes it.
    fn templated(self, name: &str) -> String {
        let release = match self {
            Release::Named(release) => release,
            Release::Placeholder => PLACEHOLDER_RELEASE,
        };
        match name.strip_prefix(release) {
            Some(rest) => format!("{{{{ .Release.Name }}}}{rest}"),
            None => name.to_string(),
        }
    }

    fn show(self, name: &str) -> String {
        match self {
            Release::Named(_) => name.to_string(),
            Release::Placeholder => name.replace(PLACEHOLDER_RELEASE, "<release>"),
        }
    }
}

/// What `init` tells the user: each file's fate, the containers jobs can reuse (or why they
/// could not be listed), and the next steps.
/// The `host:port` targets of the Services a rendered chart makes, for `waitFor`: one per
/// Service port, `name:port`, in stream order. Documents that are not YAML are skipped
/// (`helm template` output is).
pub fn services(rendered: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(rendered);
    let mut out = Vec::new();
    for doc in serde_norway::Deserializer::from_str(&text) {
        let Ok(value) = serde_norway::Value::deserialize(doc) else {
            continue;
        };
        if value["kind"].as_str() != Some("Service") {
            continue;
        }
        let Some(name) = value["metadata"]["name"].as_str() else {
            continue;
        };
        for port in value["spec"]["ports"].as_sequence().into_iter().flatten() {
            if let Some(port) = port["port"].as_u64() {
                out.push(format!("{name}:{port}"));
            }
        }
    }
    out
}

/// The database servers a rendered chart runs itself, as `Kind/name (image)` in stream
/// order: a chart that bundles its database, which does not exist before the release's
/// first install (see [`crate::images::database`]).
pub fn databases(rendered: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(rendered);
    let mut out = Vec::new();
    for doc in serde_norway::Deserializer::from_str(&text) {
        let Ok(value) = serde_norway::Value::deserialize(doc) else {
            continue;
        };
        let (Some(kind), Some(name)) = (value["kind"].as_str(), value["metadata"]["name"].as_str())
        else {
            continue;
        };
        let Some(spec) = crate::documents::Pods::of(kind, &value).and_then(|p| p.spec(&value))
        else {
            continue;
        };
        let images = ["initContainers", "containers"]
            .into_iter()
            .filter_map(|key| spec[key].as_sequence())
            .flatten()
            .filter_map(|c| c["image"].as_str());
        if let Some(image) = images.into_iter().find(|i| crate::images::database(i)) {
            out.push(format!("{kind}/{name} ({image})"));
        }
    }
    out
}

pub fn summary(
    chart: &str,
    changes: &[Change],
    workloads: &Result<Vec<(String, Vec<String>)>>,
    services: &[String],
    databases: &[String],
    release: &Release<'_>,
) -> String {
    let mut out = format!("deploy-jobs init {chart}\n");
    for change in changes {
        out.push_str(&format!("  {}: {}\n", change.path, change.note));
    }
    match workloads {
        Ok(list) if list.is_empty() => {
            out.push_str("The chart renders no workload: jobs need `image`.\n")
        }
        Ok(list) => {
            out.push_str(&match release {
                Release::Named(name) => format!(
                    "Containers jobs can reuse (`container:`, with `workload:` if a name repeats), as named in release {name}:\n"
                ),
                Release::Placeholder => "Containers jobs can reuse (`container:`, with `workload:` if a name repeats; `<release>` is your release's name, `--release NAME` shows it):\n".to_string(),
            });
            for (workload, containers) in list {
                out.push_str(&format!(
                    "  {}: {}\n",
                    release.show(workload),
                    release.show(&containers.join(", "))
                ));
            }
        }
        Err(err) => out.push_str(&format!(
            "Could not list the chart's containers ({err:#}); if the chart needs values, pass them with -f/--set as to helm template, or render it and run `deploy-jobs plan`.\n"
        )),
    }
    if !services.is_empty() {
        out.push_str("Services jobs can wait for (`waitFor:`; values go through tpl, so the release's name is written as {{ .Release.Name }}):\n");
        for service in services {
            out.push_str(&format!("  \"{}\"\n", release.templated(service)));
        }
    }
    if databases.is_empty() {
        out.push_str("Next: set deploy_jobs in values.yaml, then check with `helm lint` and `helm template ... | deploy-jobs plan`.\n");
        return out;
    }
    let databases: Vec<String> = databases.iter().map(|d| release.show(d)).collect();
    out.push_str(&format!(
        "The chart bundles its database ({}): it does not exist before the release's first install, so a Helm hook cannot run a migration that waits for it. Deploy in gate mode, `--target gate`: the Job is an ordinary resource that waits for the database in the cluster, and the app's new pods wait for the Job (render and plan take it; Helm 3, kubectl, Flux and Argo CD apply it; see the book's \"Gate mode\" chapter).\n",
        databases.join(", ")
    ));
    out.push_str("Next: set deploy_jobs in values.yaml, then check with `helm lint` and `helm template ... | deploy-jobs plan --target gate`.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(chart: &mut Chart, changes: &[Change]) {
        for c in changes {
            if let Some(content) = &c.content {
                let slot = match c.path {
                    TEMPLATE_PATH => &mut chart.template,
                    VALUES_PATH => &mut chart.values,
                    _ => &mut chart.schema,
                };
                *slot = Some(content.clone());
            }
        }
    }

    #[test]
    fn second_run_changes_nothing() {
        let mut chart = Chart {
            values: Some("replicaCount: 1".into()),
            ..Chart::default()
        };
        let first = init(&chart, Some("web")).unwrap();
        assert!(first.iter().all(|c| c.content.is_some()), "{first:?}");
        apply(&mut chart, &first);
        let second = init(&chart, Some("web")).unwrap();
        assert!(second.iter().all(|c| c.content.is_none()), "{second:?}");
    }

    #[test]
    fn values_are_appended_never_rewritten() {
        let chart = Chart {
            values: Some("a: 1 # keep my comment".into()),
            ..Chart::default()
        };
        let changes = init(&chart, Some("web")).unwrap();
        let values = changes[1].content.as_deref().unwrap();
        assert!(values.starts_with("a: 1 # keep my comment\n"));
        assert!(values.contains("#     container: web"));
    }

    #[test]
    fn an_edited_template_is_left_alone() {
        let chart = Chart {
            template: Some("my own".into()),
            ..Chart::default()
        };
        assert_eq!(init(&chart, None).unwrap()[0].content, None);
    }

    #[test]
    fn existing_schema_keeps_its_properties() {
        let chart = Chart {
            schema: Some(
                r#"{"type": "object", "properties": {"replicaCount": {"type": "integer"}}}"#.into(),
            ),
            ..Chart::default()
        };
        let text = init(&chart, None).unwrap()[2].content.clone().unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["properties"]["replicaCount"]["type"], "integer");
        assert!(v["properties"]["deploy_jobs"].is_object());
    }

    #[test]
    fn the_summary_says_why_containers_are_missing() {
        let text = summary(
            "web",
            &[],
            &Err(anyhow::anyhow!("helm: not found")),
            &[],
            &[],
            &Release::Placeholder,
        );
        assert!(
            text.contains("Could not list the chart's containers (helm: not found)"),
            "{text}"
        );
        let none = summary("web", &[], &Ok(Vec::new()), &[], &[], &Release::Placeholder);
        assert!(
            none.contains("renders no workload: jobs need `image`"),
            "{none}"
        );
    }

    #[test]
    fn the_summary_never_shows_a_release_name_the_user_did_not_choose() {
        let workloads = Ok(vec![(
            format!("Deployment/{PLACEHOLDER_RELEASE}-web"),
            vec!["web".to_string(), format!("{PLACEHOLDER_RELEASE}-cleanup")],
        )]);
        let placeholder = summary("web", &[], &workloads, &[], &[], &Release::Placeholder);
        assert!(
            placeholder.contains("  Deployment/<release>-web: web, <release>-cleanup"),
            "{placeholder}"
        );
        assert!(!placeholder.contains(PLACEHOLDER_RELEASE), "{placeholder}");
        let named = summary("web", &[], &workloads, &[], &[], &Release::Named("shop"));
        assert!(named.contains("as named in release shop"), "{named}");
    }

    #[test]
    fn a_chart_that_bundles_its_database_is_told_to_deploy_in_gate_mode() {
        let rendered = format!(
            "kind: StatefulSet\nmetadata: {{name: {PLACEHOLDER_RELEASE}-postgresql}}\nspec:\n  template:\n    spec:\n      containers: [{{name: postgresql, image: 'postgres:17.2'}}]\n---\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  template:\n    spec:\n      containers: [{{name: web, image: 'nginx:1.27'}}]\n---\nkind: Service\nmetadata: {{name: db}}\n"
        );
        let databases = databases(rendered.as_bytes());
        assert_eq!(
            databases,
            [format!(
                "StatefulSet/{PLACEHOLDER_RELEASE}-postgresql (postgres:17.2)"
            )],
            "the database server, not the app nor a Service"
        );
        let workloads = Ok(Vec::new());
        let told = summary(
            "web",
            &[],
            &workloads,
            &[],
            &databases,
            &Release::Placeholder,
        );
        assert!(
            told.contains(
                "The chart bundles its database (StatefulSet/<release>-postgresql (postgres:17.2))"
            ) && told.contains("Deploy in gate mode, `--target gate`")
                && told.contains("deploy-jobs plan --target gate`"),
            "{told}"
        );
        let plain = summary("web", &[], &workloads, &[], &[], &Release::Placeholder);
        assert!(
            !plain.contains("gate"),
            "a chart without a database hears nothing of gate mode: {plain}"
        );
    }
}
