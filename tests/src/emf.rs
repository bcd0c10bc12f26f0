//! A checker for CloudWatch Embedded Metric Format documents, written from the EMF
//! specification (its JSON schema and the rules stated beside it): what CloudWatch Logs
//! needs to extract the metrics rather than drop the document.

use serde_json::Value;

const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Every way `doc` breaks the specification; empty when it is a valid EMF document.
pub fn violations(doc: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let Some(root) = doc.as_object() else {
        return vec!["the root is not a JSON object".into()];
    };
    let Some(aws) = root.get("_aws").and_then(Value::as_object) else {
        return vec!["no `_aws` metadata object".into()];
    };
    if !aws
        .get("Timestamp")
        .is_some_and(|t| t.is_u64() || t.is_i64())
    {
        found.push("_aws.Timestamp must be an integer (ms since the epoch)".into());
    }
    let Some(directives) = aws.get("CloudWatchMetrics").and_then(Value::as_array) else {
        found.push("_aws.CloudWatchMetrics must be an array".into());
        return found;
    };
    for (i, directive) in directives.iter().enumerate() {
        let at = format!("CloudWatchMetrics[{i}]");
        let namespace = directive.get("Namespace").and_then(Value::as_str);
        if !namespace.is_some_and(|n| (1..=1024).contains(&n.len())) {
            found.push(format!(
                "{at}.Namespace must be a string of 1 to 1024 characters"
            ));
        }
        match directive.get("Dimensions").and_then(Value::as_array) {
            Some(sets) if !sets.is_empty() => {
                for (j, set) in sets.iter().enumerate() {
                    let Some(keys) = set.as_array().filter(|k| k.len() <= 30) else {
                        found.push(format!(
                            "{at}.Dimensions[{j}] must be an array of at most 30 keys"
                        ));
                        continue;
                    };
                    for key in keys {
                        let key = key.as_str().unwrap_or_default();
                        let valid_key = (1..=250).contains(&key.len());
                        let target = root.get(key).and_then(Value::as_str);
                        if !valid_key || target.is_none_or(|v| v.len() > 1024) {
                            found.push(format!(
                                "{at}: dimension {key:?} must name a root member holding a string of at most 1024 characters"
                            ));
                        }
                    }
                }
            }
            _ => found.push(format!(
                "{at}.Dimensions must be a non-empty array of dimension sets"
            )),
        }
        let Some(metrics) = directive.get("Metrics").and_then(Value::as_array) else {
            found.push(format!("{at}.Metrics must be an array"));
            continue;
        };
        if metrics.len() > 100 {
            found.push(format!("{at}.Metrics has more than 100 definitions"));
        }
        for metric in metrics {
            let name = metric
                .get("Name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !(1..=1024).contains(&name.len()) {
                found.push(format!("{at}: a metric without a valid Name"));
                continue;
            }
            if let Some(unit) = metric.get("Unit")
                && !unit.as_str().is_some_and(|u| UNITS.contains(&u))
            {
                found.push(format!(
                    "{at}: metric {name}: unit {unit} is not a CloudWatch unit"
                ));
            }
            if let Some(resolution) = metric.get("StorageResolution")
                && !matches!(resolution.as_u64(), Some(1 | 60))
            {
                found.push(format!(
                    "{at}: metric {name}: StorageResolution must be 1 or 60"
                ));
            }
            let numeric = match root.get(name) {
                Some(Value::Number(_)) => true,
                Some(Value::Array(values)) => {
                    values.len() <= 100 && values.iter().all(Value::is_number)
                }
                _ => false,
            };
            if !numeric {
                found.push(format!(
                    "{at}: metric {name} must name a numeric root member"
                ));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The specification's own example.
    fn valid() -> Value {
        json!({
            "_aws": {
                "Timestamp": 1574109732004_u64,
                "CloudWatchMetrics": [{
                    "Namespace": "lambda-function-metrics",
                    "Dimensions": [["functionVersion"]],
                    "Metrics": [{"Name": "time", "Unit": "Milliseconds", "StorageResolution": 60}]
                }]
            },
            "functionVersion": "$LATEST",
            "time": 100,
            "requestId": "989ffbf8-9ace-4817-a57c-e4dd734019ee"
        })
    }

    #[test]
    fn the_specification_example_passes_and_each_broken_rule_is_caught() {
        assert_eq!(violations(&valid()), Vec::<String>::new());
        type Breakage = (&'static str, fn(&mut Value));
        let broken: [Breakage; 8] = [
            ("no timestamp", |d| {
                d["_aws"].as_object_mut().unwrap().clear()
            }),
            ("no namespace", |d| {
                d["_aws"]["CloudWatchMetrics"][0]["Namespace"] = json!("")
            }),
            ("dimension not at the root", |d| {
                d.as_object_mut().unwrap().remove("functionVersion");
            }),
            ("dimension not a string", |d| {
                d["functionVersion"] = json!(1)
            }),
            ("metric not numeric", |d| d["time"] = json!("100")),
            ("metric missing", |d| {
                d.as_object_mut().unwrap().remove("time");
            }),
            ("bad unit", |d| {
                d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("ms")
            }),
            ("no dimension sets", |d| {
                d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([])
            }),
        ];
        for (what, breaks) in broken {
            let mut doc = valid();
            breaks(&mut doc);
            assert!(!violations(&doc).is_empty(), "{what} went unnoticed");
        }
    }
}
