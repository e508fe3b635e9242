//! Deterministic Kubernetes names for generated objects.

use sha2::{Digest, Sha256};

/// Longest Job name: its pods get a `job-name` label, and label values stop at 63.
pub const MAX_JOB_NAME: usize = 63;
/// Longest name of a Secret or ConfigMap (a DNS-1123 subdomain).
pub const MAX_OBJECT_NAME: usize = 253;

/// Hex sha256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `prefix` can start a generated name: a DNS-1123 subdomain (lower-case letters,
/// digits, '-' and '.', each dot-separated part starting and ending with a letter or
/// digit), as Helm requires of release names. Any length: [`fit`] shortens the result.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Err("it is empty".to_string());
    }
    if let Some(c) = prefix
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.')))
    {
        return Err(format!(
            "{c:?} is not allowed in a Kubernetes name (lower-case letters, digits, '-' and '.')"
        ));
    }
    let alnum = |c: char| c.is_ascii_alphanumeric();
    if prefix
        .split('.')
        .any(|part| !part.starts_with(alnum) || !part.ends_with(alnum))
    {
        return Err(
            "a Kubernetes name starts and ends with a letter or digit, also around each '.'"
                .to_string(),
        );
    }
    Ok(())
}

/// `name` if it fits in `max` bytes; otherwise its start, a dash and eight hex
/// characters of its hash, so distinct long names stay distinct and the result is stable.
pub fn fit(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let hash = &sha256_hex(name.as_bytes())[..8];
    let mut keep = max - hash.len() - 1;
    // Callers check names are ASCII; never cut inside a character all the same.
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    let mut head: &str = &name[..keep];
    while head.ends_with(['-', '.']) {
        head = &head[..head.len() - 1];
    }
    format!("{head}-{hash}")
}

/// The name of a job's generated objects: `<prefix>-<job>` when it fits in `max` bytes.
/// Otherwise the prefix (a long release name) is cut, not the job's own name, so the Jobs
/// of one release stay told apart: `<start of prefix>-<hash>-<job>`, the hash being of the
/// whole name, so it stays distinct and stable. Only a job name too long for even that is
/// cut at its end, as [`fit`] does.
pub fn job_name(prefix: &str, job: &str, max: usize) -> String {
    let whole = join(Some(prefix), job);
    if whole.len() <= max {
        return whole;
    }
    let hash = &sha256_hex(whole.as_bytes())[..8];
    let Some(room) = max.checked_sub(job.len() + hash.len() + 2) else {
        return fit(&whole, max);
    };
    let mut keep = room.min(prefix.len());
    while !prefix.is_char_boundary(keep) {
        keep -= 1;
    }
    let head = prefix[..keep].trim_end_matches(['-', '.']);
    if head.is_empty() {
        return fit(&whole, max);
    }
    format!("{head}-{hash}-{job}")
}

/// Joins name parts with dashes, skipping empty ones and a prefix the name already starts with.
pub fn join(prefix: Option<&str>, name: &str) -> String {
    match prefix {
        Some(p) if !p.is_empty() && p != name && !name.starts_with(&format!("{p}-")) => {
            format!("{p}-{name}")
        }
        _ => name.to_string(),
    }
}

/// A DNS-1123 label: what Kubernetes accepts as a name part.
pub fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A namespace name: a DNS-1123 label.
pub fn check_namespace(s: &str) -> Result<(), String> {
    if is_label(s) {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a namespace name: lower-case letters, digits and '-', at most 63 characters",
            s.escape_debug()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_kept() {
        assert_eq!(fit("shop-migrate", 63), "shop-migrate");
    }

    #[test]
    fn long_names_are_cut_with_a_hash() {
        let long = format!("{}-migrate", "a".repeat(70));
        let fitted = fit(&long, 63);
        assert_eq!(fitted.len(), 63);
        assert!(fitted.starts_with("aaaa"));
        assert_ne!(
            fitted,
            fit(&format!("{}-migrat2", "a".repeat(70)), 63),
            "distinct names stay distinct"
        );
    }

    #[test]
    fn cut_never_leaves_a_trailing_dash_before_the_hash() {
        let name = format!("{}-{}", "a".repeat(53), "b".repeat(20));
        assert!(!fit(&name, 63).contains("--"));
    }

    #[test]
    fn fit_never_cuts_inside_a_character() {
        let name = format!("{}-migrate", "é".repeat(60));
        assert!(fit(&name, 63).len() <= 63);
    }

    #[test]
    fn prefixes_must_make_kubernetes_names() {
        for good in ["shop", "shop-example", "my.app", "a", &"x".repeat(300)] {
            assert_eq!(check_prefix(good), Ok(()), "{good}");
        }
        for bad in [
            "", "Shop", "shop_db", "-shop", "shop-", "my..app", "café", "a b",
        ] {
            assert!(check_prefix(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn join_does_not_repeat_the_prefix() {
        assert_eq!(join(Some("shop"), "migrate"), "shop-migrate");
        assert_eq!(join(Some("shop"), "shop-migrate"), "shop-migrate");
        assert_eq!(join(None, "migrate"), "migrate");
    }

    #[test]
    fn a_long_prefix_is_cut_and_the_job_name_kept() {
        let prefix = "a-very-long-release-name-for-a-review-branch-feature-12345";
        let names: Vec<String> = ["db-prepare", "db-migrate", "warm-cache"]
            .iter()
            .map(|j| job_name(prefix, j, MAX_JOB_NAME))
            .collect();
        for (name, job) in names.iter().zip(["db-prepare", "db-migrate", "warm-cache"]) {
            assert!(name.len() <= MAX_JOB_NAME, "{name}");
            assert!(name.ends_with(&format!("-{job}")), "{name} keeps {job}");
            assert!(name.starts_with("a-very-long-release"), "{name}");
        }
        assert_eq!(job_name("shop", "migrate", MAX_JOB_NAME), "shop-migrate");
        assert_eq!(
            job_name(prefix, "db-migrate", MAX_JOB_NAME),
            job_name(prefix, "db-migrate", MAX_JOB_NAME),
            "stable"
        );
        let long_job = "m".repeat(60);
        assert!(job_name(prefix, &long_job, MAX_JOB_NAME).len() <= MAX_JOB_NAME);
    }
}
