//! Least-privilege Roles for deploy-jobs' own kubectl scripts (`exclusive`'s stop and start
//! steps, gate mode's gate and rollout steps): each module lists every kubectl call its
//! scripts make and the RBAC verb it needs, its Role is derived from that list, and a test
//! holds the scripts to it, so what is granted and what is run cannot drift apart.

/// A kubectl call a script makes, what it acts on (`On`: each module's own kinds of
/// object), and the RBAC verb it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call<On> {
    pub kubectl: &'static str,
    pub on: On,
    pub verb: &'static str,
}

/// The verbs `calls` need on `on`, in table order.
pub fn verbs<On: PartialEq>(calls: &[Call<On>], on: On) -> Vec<&'static str> {
    calls
        .iter()
        .filter(|c| c.on == on)
        .map(|c| c.verb)
        .collect()
}

/// The kubectl calls in a script, `$(kubectl -n "$ns" SUBCOMMAND ...` (echoed hints are not
/// calls), each classified by `on` from its subcommand and the word after it.
#[cfg(test)]
pub fn calls_in<On>(script: &str, on: impl Fn(&str, Option<&str>) -> On) -> Vec<(String, On)> {
    script
        .match_indices("$(kubectl ")
        .map(|(i, m)| {
            let rest = script[i + m.len()..]
                .strip_prefix("-n \"$ns\" ")
                .expect("every call names its namespace");
            let mut words = rest.split_whitespace();
            let sub = words.next().unwrap_or_default();
            (sub.to_string(), on(sub, words.next()))
        })
        .collect()
}

/// Fails unless the scripts' calls (`used`) are exactly what `calls` grants: nothing run
/// that the Role does not allow, nothing allowed that no script runs.
#[cfg(test)]
pub fn assert_exactly_granted<On: PartialEq + std::fmt::Debug>(
    calls: &[Call<On>],
    used: &[(String, On)],
) {
    for (sub, on) in used {
        assert!(
            calls.iter().any(|c| c.kubectl == sub && c.on == *on),
            "the scripts run `kubectl {sub}` on {on:?}, which the Role does not grant"
        );
    }
    for call in calls {
        assert!(
            used.iter()
                .any(|(sub, on)| sub == call.kubectl && *on == call.on),
            "the Role grants {call:?}, which no script uses: least privilege"
        );
    }
}
