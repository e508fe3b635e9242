//! Shell scripts for generated containers, from minijinja templates embedded in the binary.
//!
//! Every value that reaches a script goes through the `shell_quote` filter, so an odd or
//! hostile value stays one argument and can never break out into shell syntax.

use anyhow::{Context, Result};
use minijinja::{Environment, context};

const WAIT_FOR: &str = include_str!("templates/wait-for.sh");

/// Quotes a string for a POSIX shell: single quotes, with embedded ones spelled `'\''`.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.add_filter("shell_quote", |v: String| shell_quote(&v));
    env
}

/// The wait-for script for `host:port` targets.
pub fn wait_for(targets: &[String]) -> Result<String> {
    let mut env = environment();
    env.add_template("wait-for.sh", WAIT_FOR)
        .context("wait-for template")?;
    env.get_template("wait-for.sh")
        .and_then(|t| t.render(context! { targets => targets.to_vec() }))
        .context("rendering the wait-for script")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_hostile_values_one_word() {
        assert_eq!(shell_quote("a'b; rm -rf /"), r"'a'\''b; rm -rf /'");
    }

    #[test]
    fn wait_for_lists_every_target_quoted() {
        let script = wait_for(&["db:5432".into(), "cache:6379".into()]).unwrap();
        assert!(
            script.contains("for target in 'db:5432' 'cache:6379' ; do"),
            "{script}"
        );
    }

    #[test]
    fn wait_for_script_is_valid_shell() {
        let script = wait_for(&["db:5432".into()]).unwrap();
        let status = std::process::Command::new("sh")
            .args(["-n", "-c", &script])
            .status()
            .expect("sh runs");
        assert!(status.success(), "sh -n rejects:\n{script}");
    }
}
