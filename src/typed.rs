//! Values copied from the user's manifests, typed as Kubernetes reads them.
//!
//! deploy-jobs parses manifests with a YAML 1.2 reader, Kubernetes with a YAML 1.1 one. In a
//! field Kubernetes types as a boolean or an integer, a plain `yes`, `off`, `0755` or `1_000`
//! is that boolean or number to Kubernetes but a string to us; written back as the string
//! `'yes'` or `'0755'`, it makes the API server refuse the Job (`expected boolean`, `expected
//! integer`). So where a copied pod spec has a string in such a field and YAML 1.1 reads that
//! string as the field's type, it is turned into that value. A quoted `"yes"` there could not
//! have been applied in the first place, so nothing that worked changes meaning.
//!
//! The fields are known by name: every field of that name in a pod spec or a workload spec
//! (Deployment, StatefulSet, DaemonSet, Job, CronJob) has that type.
//! Maps with free-form keys (labels, annotations, node selectors, resource quantities) are
//! left alone. Writing strings so that YAML 1.1 reads them back as strings is `yaml`'s job.

use serde_norway::Value;

/// Pod and workload spec fields that are booleans wherever they appear.
const BOOL_FIELDS: &[&str] = &[
    "allowPrivilegeEscalation",
    "automountServiceAccountToken",
    "enableServiceLinks",
    "hostIPC",
    "hostNetwork",
    "hostPID",
    "hostUsers",
    "optional",
    "paused",
    "privileged",
    "readOnly",
    "readOnlyRootFilesystem",
    "runAsNonRoot",
    "setHostnameAsFQDN",
    "shareProcessNamespace",
    "stdin",
    "stdinOnce",
    "suspend",
    "tty",
];

/// Pod and workload spec fields that are integers wherever they appear.
const INT_FIELDS: &[&str] = &[
    "activeDeadlineSeconds",
    "backoffLimit",
    "completions",
    "containerPort",
    "defaultMode",
    "expirationSeconds",
    "failedJobsHistoryLimit",
    "failureThreshold",
    "fsGroup",
    "hostPort",
    "initialDelaySeconds",
    "minReadySeconds",
    "mode",
    "parallelism",
    "partition",
    "periodSeconds",
    "priority",
    "progressDeadlineSeconds",
    "replicas",
    "revisionHistoryLimit",
    "runAsGroup",
    "runAsUser",
    "startingDeadlineSeconds",
    "successThreshold",
    "successfulJobsHistoryLimit",
    "terminationGracePeriodSeconds",
    "timeoutSeconds",
    "ttlSecondsAfterFinished",
];

/// Integer lists.
const INT_LIST_FIELDS: &[&str] = &["supplementalGroups"];

/// Maps whose keys are the user's own, not field names.
const FREE_FORM: &[&str] = &[
    "annotations",
    "labels",
    "limits",
    "matchLabels",
    "nodeSelector",
    "requests",
];

/// Types the strings of a copied pod spec (or any part of one) as Kubernetes reads them.
pub fn as_kubernetes_reads(value: &mut Value) {
    match value {
        Value::Mapping(map) => {
            for (key, v) in map.iter_mut() {
                let Some(key) = key.as_str() else { continue };
                if FREE_FORM.contains(&key) {
                    continue;
                }
                if let Value::String(s) = v {
                    if BOOL_FIELDS.contains(&key) {
                        if let Some(b) = yaml11_bool(s) {
                            *v = Value::Bool(b);
                        }
                    } else if INT_FIELDS.contains(&key)
                        && let Some(n) = yaml11_int(s)
                    {
                        *v = Value::Number(n.into());
                    }
                } else if INT_LIST_FIELDS.contains(&key)
                    && let Value::Sequence(items) = v
                {
                    for item in items {
                        if let Value::String(s) = item
                            && let Some(n) = yaml11_int(s)
                        {
                            *item = Value::Number(n.into());
                        }
                    }
                } else {
                    as_kubernetes_reads(v);
                }
            }
        }
        Value::Sequence(items) => items.iter_mut().for_each(as_kubernetes_reads),
        Value::Tagged(tagged) => as_kubernetes_reads(&mut tagged.value),
        _ => {}
    }
}

/// A YAML 1.1 boolean (go-yaml v2's resolver).
pub fn yaml11_bool(s: &str) -> Option<bool> {
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Some(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Some(false)
        }
        _ => None,
    }
}

/// A YAML 1.1 integer as go-yaml v2 resolves it: decimal, `0b` binary, `0` octal, `0x`
/// hexadecimal, `_` separators, and base-60 (`1:30`); `None` for anything else, or one that
/// does not fit an i64.
pub fn yaml11_int(s: &str) -> Option<i64> {
    let (negative, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() || body.starts_with('_') {
        return None;
    }
    let digits = |text: &str, radix: u32| -> Option<i64> {
        let clean: String = text.chars().filter(|&c| c != '_').collect();
        if clean.is_empty() {
            return None;
        }
        i64::from_str_radix(&clean, radix).ok()
    };
    let magnitude = if let Some(bin) = body.strip_prefix("0b") {
        digits(bin, 2)?
    } else if let Some(hex) = body.strip_prefix("0x") {
        digits(hex, 16)?
    } else if body.contains(':') {
        let mut total: i64 = 0;
        for (i, part) in body.split(':').enumerate() {
            let n = digits(part, 10)?;
            if i > 0 && !(0..60).contains(&n) {
                return None;
            }
            if i == 0 && part.starts_with('0') {
                return None;
            }
            total = total.checked_mul(60)?.checked_add(n)?;
        }
        total
    } else if body.len() > 1 && body.starts_with('0') {
        digits(&body[1..], 8)?
    } else if body.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        digits(body, 10)?
    } else {
        return None;
    };
    Some(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml11_integers_as_go_yaml_reads_them() {
        for (text, n) in [
            ("0755", 493),
            ("0555", 365),
            ("420", 420),
            ("1_000", 1000),
            ("0x1F", 31),
            ("0b101", 5),
            ("-0x10", -16),
            ("1:30", 90),
            ("190:20:30", 685_230),
        ] {
            assert_eq!(yaml11_int(text), Some(n), "{text}");
        }
        for text in ["", "-", "08", "1.5", "1e3", "0x", "_1", "1:60", "abc"] {
            assert_eq!(yaml11_int(text), None, "{text}");
        }
    }

    #[test]
    fn typed_fields_take_the_value_kubernetes_reads_and_free_form_maps_are_left_alone() {
        let mut pod: Value = serde_norway::from_str(
            r#"
enableServiceLinks: "no"
securityContext: {runAsNonRoot: "yes", runAsUser: "1_000", supplementalGroups: ["0x10", 5]}
volumes:
- {name: s, configMap: {name: c, defaultMode: "0555", optional: "on", items: [{key: a, path: a, mode: "0755"}]}}
containers:
- name: app
  volumeMounts: [{name: s, mountPath: /s, readOnly: "on"}]
  env: [{name: MODE, value: "0755"}, {name: FLAG, value: "yes"}]
  resources: {limits: {mode: "0755"}}
nodeSelector: {readOnly: "yes"}
"#,
        )
        .unwrap();
        as_kubernetes_reads(&mut pod);
        let expected: Value = serde_norway::from_str(
            r#"
enableServiceLinks: false
securityContext: {runAsNonRoot: true, runAsUser: 1000, supplementalGroups: [16, 5]}
volumes:
- {name: s, configMap: {name: c, defaultMode: 365, optional: true, items: [{key: a, path: a, mode: 493}]}}
containers:
- name: app
  volumeMounts: [{name: s, mountPath: /s, readOnly: true}]
  env: [{name: MODE, value: "0755"}, {name: FLAG, value: "yes"}]
  resources: {limits: {mode: "0755"}}
nodeSelector: {readOnly: "yes"}
"#,
        )
        .unwrap();
        assert_eq!(
            pod, expected,
            "typed fields converted; env values and free-form maps stay strings"
        );
    }
}
