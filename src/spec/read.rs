//! Reading the configuration: a DeployJobs document of the stream or a `--values` file,
//! into the `deploy_jobs` entries as written, with the key path of any error and a
//! did-you-mean for a misspelled key. Validation is the parent module's.

use serde::Deserialize;
use serde_norway::Value;

use super::{JobSpec, ShapeError, SpecError, StringLike, err};
use crate::header::describe;

/// The in-stream configuration document a chart renders.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DeployJobsDocument {
    #[allow(dead_code)]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    #[serde(default)]
    metadata: Option<DocumentMetadata>,
    #[serde(default)]
    environment: Option<StringLike>,
    #[serde(default, rename = "deploy_jobs")]
    deploy_jobs: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
struct DocumentMetadata {
    #[serde(default)]
    name: Option<String>,
}

/// A parsed, not yet validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Environment named in the configuration itself (`--env` overrides it).
    pub environment: Option<String>,
    /// `metadata.name` of the DeployJobs document: the prefix of generated names.
    pub name_prefix: Option<String>,
    pub jobs: Vec<JobSpec>,
}

/// Reads the `deploy_jobs` list from a DeployJobs document.
pub fn from_document(mut value: Value) -> Result<Config, SpecError> {
    merge_keys(&mut value)?;
    let doc: DeployJobsDocument = deserialize(value, "")?;
    let jobs = match doc.deploy_jobs {
        Some(list) => jobs_from(list)?,
        None => Vec::new(),
    };
    Ok(Config {
        environment: doc.environment.map(|e| e.0).filter(|e| !e.is_empty()),
        name_prefix: doc.metadata.and_then(|m| m.name),
        jobs,
    })
}

/// Reads the top-level `deploy_jobs` key of a values file; `None` when the file has none.
pub fn from_values(mut value: Value) -> Result<Option<Vec<JobSpec>>, SpecError> {
    merge_keys(&mut value)?;
    match value {
        Value::Null => Ok(None),
        Value::Mapping(mut map) => match map.remove("deploy_jobs") {
            None => Ok(None),
            Some(list) => jobs_from(list).map(Some),
        },
        other => err(
            "",
            ShapeError::Mapping {
                found: describe(&other),
            },
        ),
    }
}

fn merge_keys(value: &mut Value) -> Result<(), SpecError> {
    value
        .apply_merge()
        .or_else(|e| err("", ShapeError::MergeKey(e.to_string())))
}

fn jobs_from(list: Value) -> Result<Vec<JobSpec>, SpecError> {
    match list {
        Value::Null => Ok(Vec::new()),
        Value::Sequence(_) => deserialize(list, "deploy_jobs"),
        other => err(
            "deploy_jobs",
            ShapeError::JobList {
                found: describe(&other),
            },
        ),
    }
}

/// Deserializes with the key path of any error, phrased for a person.
pub(crate) fn deserialize<T: serde::de::DeserializeOwned>(
    value: Value,
    root: &str,
) -> Result<T, SpecError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let mut path = match (root, inner.as_str()) {
            (r, ".") => r.to_string(),
            ("", p) => p.to_string(),
            (r, p) if p.starts_with('[') => format!("{r}{p}"),
            (r, p) => format!("{r}.{p}"),
        };
        let message = e.inner().to_string();
        let kind = match unknown_field(&message) {
            Some((field, expected)) => {
                if !path.ends_with(&field) {
                    path = if path.is_empty() {
                        field.clone()
                    } else {
                        format!("{path}.{field}")
                    };
                }
                ShapeError::UnknownKey {
                    suggestion: closest(&field, &expected),
                    expected,
                }
            }
            None => ShapeError::Serde(message),
        };
        SpecError {
            path,
            kind: kind.into(),
        }
    })
}

/// Picks apart serde's "unknown field `x`, expected one of `a`, `b`".
fn unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let expected = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((field.to_string(), expected))
}

/// The expected key closest to a misspelled one, if any is close.
pub(crate) fn closest(field: &str, expected: &[String]) -> Option<String> {
    let lower = field.to_ascii_lowercase().replace(['_', '-'], "");
    expected
        .iter()
        .map(|e| {
            let d = strsim::levenshtein(&lower, &e.to_ascii_lowercase());
            (d, e)
        })
        .filter(|(d, e)| *d <= 3.max(e.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, e)| e.clone())
}
