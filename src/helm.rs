//! What deploy-jobs needs to know about the Helm that runs it.
//!
//! Helm 4 runs post-renderers as plugins and throws their stderr away, even on failure; it
//! does, however, print the file name of a document it cannot read. So in plugin mode an
//! error is reported as a single document that Helm is certain to reject, whose file name is
//! the message (see [`error_document`]), but only when the input shows it comes from Helm 4
//! ([`input_from_helm4`]): Helm 3 sets the same plugin variables and shows stderr. Helm 3
//! applies injected hooks as ordinary resources, so deploy-jobs refuses to run as its
//! post-renderer ([`is_helm3_post_renderer`]), except in the gate mode, which emits no hooks.

use serde::Serialize;

use crate::FILENAME_ANNOTATION;

/// Helm's default `--timeout`, in seconds: how long it waits for each hook.
pub const DEFAULT_TIMEOUT: u64 = 300;

/// What a Job's deadline must leave of Helm's `--timeout`: the Job controller starting the
/// Job (the deadline counts from then), and its pod stopping (30 s grace by default) before
/// the Job is marked failed.
pub const TIMEOUT_MARGIN: u64 = 60;

/// The longest `activeDeadlineSeconds` that still fails inside Helm's `--timeout` of
/// `timeout` seconds, so Helm reports the failure (with the log) instead of giving up on a
/// Job that keeps running; also the default deadline under that timeout.
pub fn deadline_within(timeout: u64) -> u64 {
    timeout.saturating_sub(TIMEOUT_MARGIN)
}

/// Refuses a `--timeout` that leaves `what` (a hook Job, a Job) no time to start, run and
/// stop inside it.
pub fn check_timeout(timeout: u64, what: &str) -> anyhow::Result<()> {
    if deadline_within(timeout) == 0 {
        anyhow::bail!(
            "--timeout {} leaves {what} no time: it needs more than {TIMEOUT_MARGIN}s, which a Job needs to start and its pod to stop",
            format_duration(timeout)
        );
    }
    Ok(())
}

/// Parses a Go duration as Helm's `--timeout` takes it (`5m`, `1h30m`, `90s`, `2.5m`) into
/// whole seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let bad =
        || format!("`{text}` is not a duration like Helm's --timeout takes (5m, 1h30m, 600s)");
    let mut rest = text.trim();
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut millis: f64 = 0.0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let number: f64 = rest[..number_end].parse().map_err(|_| bad())?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "h" => 3_600_000.0,
            "m" => 60_000.0,
            "s" => 1_000.0,
            "ms" => 1.0,
            _ => return Err(bad()),
        };
        millis += number * scale;
        rest = &rest[unit_end..];
    }
    if !millis.is_finite() || millis > (u32::MAX as f64) * 1000.0 {
        return Err(bad());
    }
    Ok((millis / 1000.0).floor() as u64)
}

/// Seconds as a Go duration Helm accepts: `31m`, `1h30m`, `45s`.
pub fn format_duration(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let mut out = String::new();
    if h > 0 {
        out += &format!("{h}h");
    }
    if m > 0 {
        out += &format!("{m}m");
    }
    if s > 0 || out.is_empty() {
        out += &format!("{s}s");
    }
    out
}

/// What the user reads when deploy-jobs is started as Helm 3's `--post-renderer`.
pub const HELM3_REFUSAL: &str = "deploy-jobs is running as a Helm 3 post-renderer. Helm 3 applies \
resources that a post-renderer adds as ordinary resources, not as hooks, so hook Jobs would run at \
the same time as the new app, with no ordering and no stop on failure. Nothing was changed. With \
Helm 3, use the gate mode, which needs no hooks (the Job is an ordinary resource, and the app's new \
pods wait for it in the cluster): `--post-renderer deploy-jobs --post-renderer-args=--target=gate`. \
Or use Helm 4 (`helm plugin install` this repository, then `--post-renderer deploy-jobs`), or render \
first and apply the result with a tool that honours hook annotations: \
`helm template ... | deploy-jobs render > out.yaml` (Argo CD maps the hooks to PreSync/PostSync).";

/// Whether the input came from Helm 4: it puts its file-name annotation on every document
/// it hands a post-renderer; Helm 3 (and `helm template` without a post-renderer) on none.
pub fn input_from_helm4(input: &[u8]) -> bool {
    memchr::memmem::find(input, FILENAME_ANNOTATION.as_bytes()).is_some()
}

/// Whether deploy-jobs is running as Helm 3's `--post-renderer`: some process above it is
/// a command run with `--post-renderer` (Helm itself, however it is named; reached directly,
/// through a wrapper script that does not `exec`, or from inside a Helm 3 plugin such as
/// helm-secrets or helm-diff, which sets `HELM_PLUGIN_NAME` too, so that proves nothing),
/// and the input has documents but none carries Helm 4's file-name annotation.
/// `ancestors` are the command lines of the parent, its parent, and so on.
pub fn is_helm3_post_renderer(ancestors: &[Vec<String>], input: &[u8]) -> bool {
    // The command lines first: they are short, and almost never name a post-renderer,
    // while the annotation is looked for through the whole stream.
    let under_post_renderer = ancestors.iter().any(|args| {
        args.iter()
            .skip(1)
            .any(|a| a == "--post-renderer" || a.starts_with("--post-renderer="))
    });
    under_post_renderer
        && input.iter().any(|b| !b.is_ascii_whitespace())
        && !input_from_helm4(input)
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

    const HELM3_INPUT: &[u8] = b"---\n# Source: shop/templates/deployment.yaml\nkind: Deployment\n";
    const HELM4_INPUT: &[u8] = b"kind: Deployment\nmetadata:\n  annotations:\n    postrenderer.helm.sh/postrender-filename: shop/templates/deployment.yaml\n";

    #[test]
    fn helm3_is_recognised_however_it_reaches_us() {
        let helm3 = args("/usr/bin/helm upgrade x ./c --post-renderer ./wrap.sh");
        assert!(
            is_helm3_post_renderer(std::slice::from_ref(&helm3), HELM3_INPUT),
            "parent"
        );
        assert!(
            is_helm3_post_renderer(&[args("/bin/sh ./wrap.sh"), helm3], HELM3_INPUT),
            "through a wrapper script that does not exec"
        );
        assert!(
            is_helm3_post_renderer(
                &[
                    args("/usr/bin/helm template x ./c --post-renderer=./dj"),
                    args("/bin/sh /plugins/secrets/run.sh template x ./c"),
                    args("/usr/bin/helm secrets template x ./c"),
                ],
                HELM3_INPUT
            ),
            "from inside a Helm 3 plugin"
        );
        assert!(
            is_helm3_post_renderer(
                &[args("/opt/h3 template x ./c --post-renderer dj")],
                HELM3_INPUT
            ),
            "whatever the binary is called"
        );
    }

    #[test]
    fn helm4_pipes_and_empty_input_are_not_helm3() {
        let helm = args("helm upgrade x ./c --post-renderer deploy-jobs");
        assert!(
            !is_helm3_post_renderer(&[args("/bin/sh helm-plugin.sh"), helm.clone()], HELM4_INPUT),
            "Helm 4 annotates its input"
        );
        assert!(
            !is_helm3_post_renderer(
                &[
                    args("bash -c helm template x ./c | deploy-jobs render"),
                    args("bash")
                ],
                HELM3_INPUT
            ),
            "a pipe: helm is a sibling, not an ancestor"
        );
        assert!(
            !is_helm3_post_renderer(&[helm], b"\n"),
            "nothing to inject into"
        );
    }

    #[test]
    fn durations_read_as_helm_reads_them() {
        assert_eq!(parse_duration("5m"), Ok(300));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("2.5m"), Ok(150));
        assert_eq!(parse_duration("600s"), Ok(600));
        assert!(parse_duration("600").is_err(), "Helm wants a unit");
        assert!(parse_duration("5 minutes").is_err());
        assert_eq!(format_duration(1860), "31m");
        assert_eq!(format_duration(5445), "1h30m45s");
        assert_eq!(parse_duration(&format_duration(5445)), Ok(5445));
    }

    #[test]
    fn the_default_deadline_fails_inside_helms_default_timeout() {
        assert_eq!(
            deadline_within(DEFAULT_TIMEOUT),
            crate::spec::DEFAULT_DEADLINE
        );
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
