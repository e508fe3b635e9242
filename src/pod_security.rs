//! The Pod Security Standards (`baseline` and `restricted`, as the pod-security-admission
//! plugin enforces them in Kubernetes 1.25 to 1.37), checked on a pod spec: which level a pod
//! meets, and what keeps it from a level. `plan` uses it to warn when a generated pod meets
//! a lower level than the app's; the tests hold every generated pod to the app pod's level.
//!
//! A pod is read as Kubernetes reads it: a field left out takes its default (not privileged,
//! no host namespaces), and a container's setting overrides the pod's.

use serde_norway::Value;

/// A Pod Security level, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Privileged,
    Baseline,
    Restricted,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

/// Capabilities `baseline` lets a container add.
const BASELINE_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Sysctls `baseline` allows (namespaced, isolated from other pods).
const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/// SELinux types `baseline` allows.
const SELINUX_TYPES: &[&str] = &[
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

/// Volume sources `restricted` allows.
const RESTRICTED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

const APPARMOR_ANNOTATION: &str = "container.apparmor.security.beta.kubernetes.io/";

/// The highest level `pod` (a PodSpec) with these pod `annotations` meets.
pub fn level(pod: &Value, annotations: &[(&str, &str)]) -> Level {
    if !violations(pod, annotations, Level::Restricted).is_empty() {
        if violations(pod, annotations, Level::Baseline).is_empty() {
            return Level::Baseline;
        }
        return Level::Privileged;
    }
    Level::Restricted
}

/// A YAML boolean, or the text Kubernetes' YAML 1.1 reads as one.
fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => crate::typed::yaml11_bool(s),
        _ => None,
    }
}

/// A YAML integer, or the text Kubernetes' YAML 1.1 reads as one.
fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => crate::typed::yaml11_int(s),
        _ => None,
    }
}

fn is_true(v: &Value) -> bool {
    as_bool(v) == Some(true)
}

fn is_false(v: &Value) -> bool {
    as_bool(v) == Some(false)
}

fn list(v: &Value) -> &[Value] {
    match v {
        Value::Sequence(items) => items,
        _ => &[],
    }
}

fn set(v: &Value) -> bool {
    !v.is_null()
}

/// What keeps `pod` from meeting `level`, one line per rule broken (empty: it meets it).
pub fn violations(pod: &Value, annotations: &[(&str, &str)], level: Level) -> Vec<String> {
    let mut out = Vec::new();
    if level == Level::Privileged {
        return out;
    }
    let containers: Vec<(String, &Value)> = ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .flat_map(|k| list(&pod[*k]))
        .map(|c| (c["name"].as_str().unwrap_or("?").to_string(), c))
        .collect();
    baseline_pod(pod, annotations, &mut out);
    for (name, c) in &containers {
        baseline_container(name, c, &mut out);
    }
    if level == Level::Baseline {
        return out;
    }
    restricted_pod(pod, &mut out);
    for (name, c) in &containers {
        restricted_container(pod, name, c, &mut out);
    }
    out
}

/// An AppArmor profile `baseline` allows: none, RuntimeDefault or Localhost.
fn apparmor_ok(p: &Value) -> bool {
    !set(p) || matches!(p["type"].as_str(), Some("RuntimeDefault" | "Localhost"))
}

/// `baseline`'s rules on the pod: host namespaces and paths, sysctls, SELinux, AppArmor,
/// seccomp.
fn baseline_pod(pod: &Value, annotations: &[(&str, &str)], out: &mut Vec<String>) {
    let psc = &pod["securityContext"];
    let mut no = |rule: &str| out.push(rule.to_string());
    for key in ["hostNetwork", "hostPID", "hostIPC"] {
        if is_true(&pod[key]) {
            no(&format!("`{key}: true` (host namespaces)"));
        }
    }
    if is_true(&psc["windowsOptions"]["hostProcess"]) {
        no("pod `windowsOptions.hostProcess: true`");
    }
    for v in list(&pod["volumes"]) {
        if set(&v["hostPath"]) {
            no(&format!(
                "volume `{}` is a hostPath",
                v["name"].as_str().unwrap_or("?")
            ));
        }
    }
    for s in list(&psc["sysctls"]) {
        let name = s["name"].as_str().unwrap_or("?");
        if !SAFE_SYSCTLS.contains(&name) {
            no(&format!("sysctl `{name}` is not one of the safe ones"));
        }
    }
    let mut selinux = |where_: &str, o: &Value| {
        let t = o["type"].as_str().unwrap_or("");
        if !SELINUX_TYPES.contains(&t) || set(&o["user"]) || set(&o["role"]) {
            no(&format!(
                "{where_} `seLinuxOptions` other than an allowed type"
            ));
        }
    };
    selinux("pod", &psc["seLinuxOptions"]);
    if !apparmor_ok(&psc["appArmorProfile"]) {
        no("pod `appArmorProfile` other than RuntimeDefault or Localhost");
    }
    for (k, v) in annotations {
        if k.starts_with(APPARMOR_ANNOTATION)
            && *v != "runtime/default"
            && !v.starts_with("localhost/")
        {
            no(&format!("annotation `{k}: {v}`"));
        }
    }
    if psc["seccompProfile"]["type"].as_str() == Some("Unconfined") {
        no("pod `seccompProfile: Unconfined`");
    }
}

/// `baseline`'s rules on one container.
fn baseline_container(name: &str, c: &Value, out: &mut Vec<String>) {
    let mut no = |rule: &str| out.push(rule.to_string());
    let sc = &c["securityContext"];
    if is_true(&sc["privileged"]) {
        no(&format!("container `{name}` is privileged"));
    }
    if is_true(&sc["windowsOptions"]["hostProcess"]) {
        no(&format!(
            "container `{name}` `windowsOptions.hostProcess: true`"
        ));
    }
    for cap in list(&sc["capabilities"]["add"]) {
        let cap = cap.as_str().unwrap_or("?");
        if !BASELINE_CAPABILITIES.contains(&cap) {
            no(&format!("container `{name}` adds capability `{cap}`"));
        }
    }
    for p in list(&c["ports"]) {
        if as_int(&p["hostPort"]).is_some_and(|n| n != 0) {
            no(&format!("container `{name}` has a hostPort"));
        }
    }
    if set(&sc["seLinuxOptions"]) {
        let o = &sc["seLinuxOptions"];
        let t = o["type"].as_str().unwrap_or("");
        if !SELINUX_TYPES.contains(&t) || set(&o["user"]) || set(&o["role"]) {
            no(&format!(
                "container `{name}` `seLinuxOptions` other than an allowed type"
            ));
        }
    }
    if sc["procMount"].as_str().is_some_and(|m| m != "Default") {
        no(&format!(
            "container `{name}` `procMount` other than Default"
        ));
    }
    if !apparmor_ok(&sc["appArmorProfile"]) {
        no(&format!(
            "container `{name}` `appArmorProfile` other than RuntimeDefault or Localhost"
        ));
    }
    if sc["seccompProfile"]["type"].as_str() == Some("Unconfined") {
        no(&format!("container `{name}` `seccompProfile: Unconfined`"));
    }
}

/// `restricted`'s rules on the pod: volume types and a root user.
fn restricted_pod(pod: &Value, out: &mut Vec<String>) {
    let psc = &pod["securityContext"];
    let mut no = |rule: &str| out.push(rule.to_string());
    for v in list(&pod["volumes"]) {
        let source = v
            .as_mapping()
            .into_iter()
            .flatten()
            .filter(|(_, x)| set(x))
            .filter_map(|(k, _)| k.as_str())
            .find(|k| *k != "name");
        if let Some(source) = source
            && !RESTRICTED_VOLUMES.contains(&source)
        {
            no(&format!(
                "volume `{}` is a {source}",
                v["name"].as_str().unwrap_or("?")
            ));
        }
    }
    if as_int(&psc["runAsUser"]) == Some(0) {
        no("pod `runAsUser: 0`");
    }
}

/// `restricted`'s rules on one container, with the pod's settings it inherits; Windows pods
/// are exempt from the Linux-only ones.
fn restricted_container(pod: &Value, name: &str, c: &Value, out: &mut Vec<String>) {
    let psc = &pod["securityContext"];
    let windows = pod["os"]["name"].as_str() == Some("windows");
    let pod_non_root = is_true(&psc["runAsNonRoot"]);
    let mut no = |rule: &str| out.push(rule.to_string());
    let pod_seccomp = psc["seccompProfile"]["type"].as_str();
    let seccomp_ok = |t: Option<&str>| matches!(t, Some("RuntimeDefault" | "Localhost"));
    let sc = &c["securityContext"];
    if !windows && !is_false(&sc["allowPrivilegeEscalation"]) {
        no(&format!(
            "container `{name}` lacks `allowPrivilegeEscalation: false`"
        ));
    }
    if is_false(&sc["runAsNonRoot"]) || !(is_true(&sc["runAsNonRoot"]) || pod_non_root) {
        no(&format!(
            "container `{name}` lacks `runAsNonRoot: true` (its own or the pod's)"
        ));
    }
    if as_int(&sc["runAsUser"]) == Some(0) {
        no(&format!("container `{name}` `runAsUser: 0`"));
    }
    if !windows {
        let own = sc["seccompProfile"]["type"].as_str();
        if !seccomp_ok(own.or(pod_seccomp)) {
            no(&format!(
                "container `{name}` lacks `seccompProfile: RuntimeDefault` or Localhost (its own or the pod's)"
            ));
        }
        let caps = &sc["capabilities"];
        if !list(&caps["drop"])
            .iter()
            .any(|c| c.as_str() == Some("ALL"))
        {
            no(&format!(
                "container `{name}` does not drop ALL capabilities"
            ));
        }
        if list(&caps["add"])
            .iter()
            .any(|c| c.as_str() != Some("NET_BIND_SERVICE"))
        {
            no(&format!(
                "container `{name}` adds a capability other than NET_BIND_SERVICE"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(yaml: &str) -> Value {
        serde_norway::from_str(yaml).unwrap_or_else(|e| panic!("{e}:\n{yaml}"))
    }

    const RESTRICTED: &str = "securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}\ncontainers:\n- name: app\n  image: x\n  securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}\n";

    #[test]
    fn a_pod_without_settings_is_baseline() {
        assert_eq!(
            level(&pod("containers: [{name: app, image: x}]"), &[]),
            Level::Baseline
        );
    }

    #[test]
    fn the_restricted_example_meets_restricted() {
        assert_eq!(level(&pod(RESTRICTED), &[]), Level::Restricted);
    }

    /// Each published rule, broken once on top of a restricted pod: the level it drops to.
    #[test]
    fn each_rule_lowers_the_level() {
        let cases: &[(&str, &str, Level)] = &[
            ("hostNetwork", "hostNetwork: true", Level::Privileged),
            ("hostPID", "hostPID: true", Level::Privileged),
            ("hostIPC", "hostIPC: true", Level::Privileged),
            (
                "hostPath",
                "volumes: [{name: h, hostPath: {path: /}}]",
                Level::Privileged,
            ),
            (
                "nfs",
                "volumes: [{name: n, nfs: {server: s, path: /}}]",
                Level::Baseline,
            ),
            (
                "pvc",
                "volumes: [{name: p, persistentVolumeClaim: {claimName: c}}]",
                Level::Restricted,
            ),
            (
                "ephemeral",
                "volumes: [{name: e, ephemeral: {}}]",
                Level::Restricted,
            ),
            (
                "unsafe sysctl",
                "securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}, sysctls: [{name: kernel.msgmax, value: '1'}]}",
                Level::Privileged,
            ),
            (
                "safe sysctl",
                "securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}, sysctls: [{name: net.ipv4.tcp_keepalive_time, value: '1'}]}",
                Level::Restricted,
            ),
            (
                "pod seccomp unconfined",
                "securityContext: {runAsNonRoot: true, seccompProfile: {type: Unconfined}}",
                Level::Privileged,
            ),
            (
                "pod root",
                "securityContext: {runAsNonRoot: true, runAsUser: 0, seccompProfile: {type: RuntimeDefault}}",
                Level::Baseline,
            ),
            (
                "selinux user",
                "securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}, seLinuxOptions: {user: root}}",
                Level::Privileged,
            ),
            (
                "selinux type",
                "securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}, seLinuxOptions: {type: container_t}}",
                Level::Restricted,
            ),
            (
                "apparmor unconfined",
                "securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}, appArmorProfile: {type: Unconfined}}",
                Level::Privileged,
            ),
            (
                "hostProcess",
                "securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}, windowsOptions: {hostProcess: true}}",
                Level::Privileged,
            ),
        ];
        for (what, extra, want) in cases {
            let text = format!("{extra}\n{}", RESTRICTED);
            // A later `securityContext` key would be a duplicate: the case's own wins.
            let text = if extra.starts_with("securityContext") {
                format!(
                    "{extra}\ncontainers:\n- name: app\n  image: x\n  securityContext: {{allowPrivilegeEscalation: false, capabilities: {{drop: [ALL]}}}}\n"
                )
            } else {
                text
            };
            assert_eq!(level(&pod(&text), &[]), *want, "{what}");
        }
        // The other container's whole securityContext; `B` is what restricted asks of it.
        const B: &str = "allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}";
        let container_cases: &[(&str, String, Level)] = &[
            ("as restricted asks", B.to_string(), Level::Restricted),
            ("privileged", format!("{B}, privileged: true"), Level::Privileged),
            ("add SYS_ADMIN", "allowPrivilegeEscalation: false, capabilities: {drop: [ALL], add: [SYS_ADMIN]}".to_string(), Level::Privileged),
            ("add CHOWN", "allowPrivilegeEscalation: false, capabilities: {drop: [ALL], add: [CHOWN]}".to_string(), Level::Baseline),
            ("add NET_BIND_SERVICE", "allowPrivilegeEscalation: false, capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}".to_string(), Level::Restricted),
            ("no drop ALL", "allowPrivilegeEscalation: false, capabilities: {drop: [NET_RAW]}".to_string(), Level::Baseline),
            ("escalation", "allowPrivilegeEscalation: true, capabilities: {drop: [ALL]}".to_string(), Level::Baseline),
            ("escalation unset", "capabilities: {drop: [ALL]}".to_string(), Level::Baseline),
            ("runAsNonRoot false", format!("{B}, runAsNonRoot: false"), Level::Baseline),
            ("root user", format!("{B}, runAsUser: 0"), Level::Baseline),
            ("procMount", format!("{B}, procMount: Unmasked"), Level::Privileged),
            ("seccomp unconfined", format!("{B}, seccompProfile: {{type: Unconfined}}"), Level::Privileged),
            ("selinux role", format!("{B}, seLinuxOptions: {{role: r}}"), Level::Privileged),
            ("apparmor unconfined", format!("{B}, appArmorProfile: {{type: Unconfined}}"), Level::Privileged),
        ];
        for (what, sc, want) in container_cases {
            let text = format!(
                "securityContext: {{runAsNonRoot: true, seccompProfile: {{type: RuntimeDefault}}}}\ncontainers:\n- name: app\n  image: x\n  securityContext: {{{B}}}\ninitContainers:\n- name: other\n  image: x\n  securityContext: {{{sc}}}\n"
            );
            assert_eq!(level(&pod(&text), &[]), *want, "container {what}");
        }
        let host_port = format!("{RESTRICTED}  ports: [{{containerPort: 80, hostPort: 80}}]\n");
        assert_eq!(level(&pod(&host_port), &[]), Level::Privileged, "hostPort");
        assert_eq!(
            level(
                &pod(RESTRICTED),
                &[(
                    "container.apparmor.security.beta.kubernetes.io/app",
                    "unconfined"
                )]
            ),
            Level::Privileged,
            "AppArmor annotation"
        );
    }

    #[test]
    fn a_container_setting_overrides_the_pods() {
        let no_seccomp = "securityContext: {runAsNonRoot: true}\ncontainers:\n- name: app\n  image: x\n  securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, seccompProfile: {type: RuntimeDefault}}\n- name: init\n  image: x\n  securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}\n";
        let v = violations(&pod(no_seccomp), &[], Level::Restricted);
        assert_eq!(
            v,
            vec![
                "container `init` lacks `seccompProfile: RuntimeDefault` or Localhost (its own or the pod's)"
                    .to_string()
            ],
            "the pod sets no seccomp profile, so each container must"
        );
    }

    #[test]
    fn yaml_1_1_scalars_are_read_as_kubernetes_reads_them() {
        let text = "hostNetwork: 'yes'\ncontainers: [{name: app, image: x}]\n";
        assert_eq!(level(&pod(text), &[]), Level::Privileged, "`yes` is true");
        let root = RESTRICTED.replace("runAsNonRoot: true,", "runAsNonRoot: 'on', runAsUser: '0',");
        assert_eq!(
            violations(&pod(&root), &[], Level::Restricted),
            vec!["pod `runAsUser: 0`".to_string()],
            "`on` is true, `0` is root"
        );
    }

    #[test]
    fn windows_pods_are_exempt_from_the_linux_only_restricted_rules() {
        let windows = "os: {name: windows}\nsecurityContext: {runAsNonRoot: true}\ncontainers: [{name: app, image: x}]\n";
        assert_eq!(level(&pod(windows), &[]), Level::Restricted);
    }
}
