//! JSON Schemas (draft-07, what Helm uses for `values.schema.json`) of the `deploy_jobs`
//! list, generated from the same serde types the parser uses, so the two cannot drift.

use serde_json::{Map, Value, json};

use crate::spec::JobSpec;

/// The schema of the `deploy_jobs` list itself.
pub fn deploy_jobs() -> Value {
    let schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<Vec<JobSpec>>();
    let mut value = schema.to_value();
    if let Some(map) = value.as_object_mut() {
        map.insert("title".into(), json!("deploy_jobs"));
        map.insert(
            "description".into(),
            json!("Jobs that deploy-jobs turns into ordered Helm hooks; see the Configuration chapter of its book (docs/src/configuration.md)."),
        );
    }
    value
}

/// A `values.schema.json` for a chart: its `deploy_jobs` key (and `deploy_jobs_environment`,
/// which the DeployJobs template reads) checked, every other value left to the chart.
pub fn values() -> Value {
    let mut list = deploy_jobs();
    let definitions = list
        .as_object_mut()
        .and_then(|m| m.remove("definitions"))
        .unwrap_or_else(|| json!({}));
    if let Some(map) = list.as_object_mut() {
        map.remove("$schema");
        map.insert("type".into(), json!(["array", "null"]));
    }
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "deploy_jobs": list,
            "deploy_jobs_environment": {
                "description": "Picks each job's `when` entry (deploy-jobs).",
                "type": ["string", "null"]
            }
        },
        "definitions": definitions
    })
}

/// Adds the deploy-jobs parts of [`values`] to an existing `values.schema.json`, keeping
/// everything else. Fails when the existing schema is not an object.
pub fn merge_into(existing: &mut Value) -> Result<(), String> {
    let ours = values();
    let Some(target) = existing.as_object_mut() else {
        return Err("is not a JSON object".to_string());
    };
    for key in ["properties", "definitions"] {
        let entry = target
            .entry(key)
            .or_insert_with(|| Value::Object(Map::new()));
        let Some(entry) = entry.as_object_mut() else {
            return Err(format!("`{key}` is not an object"));
        };
        if let Some(Value::Object(add)) = ours.get(key) {
            for (k, v) in add {
                entry.insert(k.clone(), v.clone());
            }
        }
    }
    target
        .entry("$schema")
        .or_insert_with(|| json!("http://json-schema.org/draft-07/schema#"));
    target.entry("type").or_insert_with(|| json!("object"));
    Ok(())
}

/// JSON as checked-in files hold it: two-space indents and a final newline.
pub fn to_file_text(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}
