//! What deploy-jobs needs to know about the Helm that runs it.
//!
//! Helm 4 runs post-renderers as plugins and throws their stderr away, even on failure; it
//! does, however, print the file name of a document it cannot read. So in plugin mode an
//! error is reported as a single document that Helm is certain to reject, whose file name is
//! the message (see [`error_document`]). Helm 3 applies injected hooks as ordinary resources,
//! so deploy-jobs refuses to run as its post-renderer ([`is_helm3_post_renderer`]).

use serde::Serialize;

use crate::FILENAME_ANNOTATION;

/// What the user reads when deploy-jobs is started as Helm 3's `--post-renderer`.
pub const HELM3_REFUSAL: &str = "deploy-jobs is running as a Helm 3 post-renderer. Helm 3 applies \
resources that a post-renderer adds as ordinary resources, not as hooks, so the migration Job \
would run at the same time as the new app, with no ordering and no stop on failure. Nothing was \
changed. Use Helm 4 (`helm plugin install` this repository, then `--post-renderer deploy-jobs`), \
or render first and apply the result with a tool that honours hook annotations: \
`helm template ... | deploy-jobs render > out.yaml` (Argo CD maps the hooks to PreSync/PostSync).";

/// Whether the parent process is Helm 3 running us as `--post-renderer`: its command line has
/// the flag, and we were not started as a Helm 4 plugin (Helm 4 sets `HELM_PLUGIN_NAME` and
/// takes only a plugin name there).
pub fn is_helm3_post_renderer(parent_args: &[String], started_as_helm4_plugin: bool) -> bool {
    if started_as_helm4_plugin {
        return false;
    }
    let is_helm = parent_args.first().is_some_and(|exe| {
        let base = exe.rsplit('/').next().unwrap_or(exe);
        base.starts_with("helm")
    });
    is_helm
        && parent_args
            .iter()
            .any(|a| a == "--post-renderer" || a.starts_with("--post-renderer="))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorDocument<'a> {
    api_version: &'static str,
    /// A mapping where Helm expects a string: Helm fails reading the document's head and
    /// names the file (our message) in its error.
    kind: ErrorKind<'a>,
    metadata: ErrorMeta,
}

#[derive(Serialize)]
struct ErrorKind<'a> {
    error: &'a str,
}

#[derive(Serialize)]
struct ErrorMeta {
    name: &'static str,
    annotations: std::collections::BTreeMap<&'static str, String>,
}

/// The last line of the file name: Helm appends its own parse error right after it, which
/// says only that it refused this report, so the user is told to stop reading there.
pub const HELM_TEXT_FOLLOWS: &str =
    "[the rest of this line is Helm refusing deploy-jobs' error report; the error is above]";

/// A one-document stream that makes Helm 4 stop with `YAML parse error on <message>`.
///
/// Helm prints the file name as it is, newlines included, and then its own unmarshal error,
/// so the message stands on lines of its own between a heading and [`HELM_TEXT_FOLLOWS`].
pub fn error_document(message: &str) -> String {
    let mut file = String::from("deploy-jobs failed, so Helm applied nothing:\n");
    for line in message.lines().filter(|l| !l.trim().is_empty()) {
        file.push_str("  ");
        file.push_str(line.trim_end());
        file.push('\n');
    }
    file.push_str(HELM_TEXT_FOLLOWS);
    // A base name (after the last `/`) that starts with `_` would make Helm drop the file.
    let file = file.replace("/_", "/ _");
    let mut annotations = std::collections::BTreeMap::new();
    annotations.insert(FILENAME_ANNOTATION, file);
    let doc = ErrorDocument {
        api_version: "deploy-jobs/v1",
        kind: ErrorKind { error: message },
        metadata: ErrorMeta {
            name: "deploy-jobs-error",
            annotations,
        },
    };
    serde_norway::to_string(&doc)
        .unwrap_or_else(|_| "kind: {error: deploy-jobs failed}\n".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn recognises_helm3_post_renderer_parents() {
        assert!(is_helm3_post_renderer(
            &args("/usr/bin/helm upgrade x ./c --post-renderer deploy-jobs"),
            false
        ));
        assert!(is_helm3_post_renderer(
            &args("helm3 template x ./c --post-renderer=./dj"),
            false
        ));
    }

    #[test]
    fn helm4_plugins_and_pipes_are_not_helm3() {
        assert!(!is_helm3_post_renderer(
            &args("helm upgrade x ./c --post-renderer deploy-jobs"),
            true
        ));
        assert!(!is_helm3_post_renderer(
            &args("bash -c helm template x ./c | deploy-jobs render"),
            false
        ));
    }

    #[test]
    fn error_document_keeps_the_message_lines_and_is_never_a_partial() {
        let doc = error_document("values.yaml: deploy_jobs[0]\nbad\nshop/_helpers.tpl");
        let value: serde_norway::Value = serde_norway::from_str(&doc).unwrap();
        let file = value["metadata"]["annotations"][FILENAME_ANNOTATION]
            .as_str()
            .unwrap();
        let lines: Vec<&str> = file.lines().collect();
        assert_eq!(
            lines,
            [
                "deploy-jobs failed, so Helm applied nothing:",
                "  values.yaml: deploy_jobs[0]",
                "  bad",
                "  shop/ _helpers.tpl",
                HELM_TEXT_FOLLOWS,
            ],
            "the message on lines of its own, Helm's text announced last"
        );
        assert!(!file.rsplit('/').next().unwrap().starts_with('_'));
        assert!(
            value["kind"].is_mapping(),
            "kind must not be a string, or Helm would accept it"
        );
    }
}
