//! The deploy path agrees with the code: every (method, path) is the same in
//! `template.yaml` (HttpApi events), `openapi.yaml`, `shared::http::Route::ALL` (the table
//! the `imauth serve` router and the functions dispatch on) and `events/`; every function
//! of the template is a `functions/<name>` crate serving exactly the routes the template
//! sends it, and the other way round; the template's DynamoDB table is the one
//! `shared::store::dynamo::table` defines; no policy grants anything on `*`; the functions
//! that only verify can reach the public key set and never the private one; the HTTP
//! API's CORS configuration is `shared::http::cors`'s (what `imauth serve` answers
//! preflights with) and allows exactly the request headers `openapi.yaml` declares.
//!
//! Each failure names what is missing and on which side.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use integration::repo_root;
use serde_json::Value as Json;
use serde_norway::Value as Yaml;
use shared::http::Route;
use shared::store::dynamo::table;

/// `(METHOD, /path)` as API Gateway writes a route key.
type RouteKey = (String, String);

fn read(relative: &str) -> String {
    let path = repo_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn yaml(relative: &str) -> Yaml {
    serde_norway::from_str(&read(relative)).unwrap_or_else(|e| panic!("parsing {relative}: {e}"))
}

/// A scalar string, looking through a YAML tag (`!Ref X` is the string `X`).
fn text(value: &Yaml) -> Option<&str> {
    match value {
        Yaml::String(s) => Some(s),
        Yaml::Tagged(tagged) => text(&tagged.value),
        _ => None,
    }
}

fn key(method: &str, path: &str) -> RouteKey {
    (method.to_ascii_uppercase(), path.to_owned())
}

fn show(route: &RouteKey) -> String {
    format!("{} {}", route.0, route.1)
}

/// One function of the template: its logical id, binary and HttpApi routes.
#[derive(Debug)]
struct TemplateFunction {
    logical_id: String,
    binary: String,
    routes: BTreeSet<RouteKey>,
}

fn resources(template: &Yaml) -> impl Iterator<Item = (&str, &Yaml)> {
    template["Resources"]
        .as_mapping()
        .expect("template.yaml has Resources")
        .iter()
        .map(|(id, resource)| (id.as_str().expect("logical id is a string"), resource))
}

fn template_functions(template: &Yaml) -> Vec<TemplateFunction> {
    resources(template)
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, resource)| {
            let metadata = &resource["Metadata"];
            assert_eq!(
                metadata["BuildMethod"].as_str(),
                Some("rust-cargolambda"),
                "template.yaml: {id} must build with rust-cargolambda"
            );
            let binary = metadata["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_else(|| panic!("template.yaml: {id} has no BuildProperties.Binary"))
                .to_owned();
            let mut routes = BTreeSet::new();
            if let Some(events) = resource["Properties"]["Events"].as_mapping() {
                for (name, event) in events {
                    if event["Type"].as_str() != Some("HttpApi") {
                        continue;
                    }
                    let properties = &event["Properties"];
                    let (Some(method), Some(path)) =
                        (text(&properties["Method"]), text(&properties["Path"]))
                    else {
                        panic!("template.yaml: {id} event {name:?} needs Method and Path");
                    };
                    assert!(
                        routes.insert(key(method, path)),
                        "template.yaml: {id} lists {method} {path} twice"
                    );
                }
            }
            TemplateFunction {
                logical_id: id.to_owned(),
                binary,
                routes,
            }
        })
        .collect()
}

fn openapi_routes(openapi: &Yaml) -> BTreeSet<RouteKey> {
    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let paths = openapi["paths"]
        .as_mapping()
        .expect("openapi.yaml has paths");
    let mut routes = BTreeSet::new();
    for (path, item) in paths {
        let path = path.as_str().expect("openapi path is a string");
        for (method, _) in item.as_mapping().into_iter().flatten() {
            let method = method.as_str().unwrap_or_default();
            if METHODS.contains(&method) {
                routes.insert(key(method, path));
            }
        }
    }
    routes
}

fn code_routes() -> BTreeMap<RouteKey, Route> {
    Route::ALL
        .iter()
        .flat_map(|&route| {
            route
                .methods()
                .iter()
                .map(move |method| (key(method.as_str(), route.path()), route))
        })
        .collect()
}

/// Every event file's route, with the function (its directory) it is for. Events whose
/// route key is deliberately not a route (`ANY ...`, a method the route refuses) are
/// left out: they test the 405 answer.
fn event_routes() -> BTreeMap<RouteKey, BTreeSet<String>> {
    let mut routes: BTreeMap<RouteKey, BTreeSet<String>> = BTreeMap::new();
    let events = repo_root().join("events");
    for dir in std::fs::read_dir(&events).expect("events/ exists") {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let function = dir.file_name().unwrap().to_string_lossy().into_owned();
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let event: Json = serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let route_key = event["routeKey"]
                .as_str()
                .unwrap_or_else(|| panic!("{}: no routeKey", file.display()));
            let (method, path) = route_key
                .split_once(' ')
                .unwrap_or_else(|| panic!("{}: routeKey {route_key:?}", file.display()));
            let sent = event["requestContext"]["http"]["method"].as_str();
            if method == "ANY" || sent != Some(method) {
                continue;
            }
            routes
                .entry(key(method, path))
                .or_default()
                .insert(function.clone());
        }
    }
    routes
}

/// The function crates: `functions/<name>` directories with a Cargo.toml.
fn function_crates() -> BTreeSet<String> {
    std::fs::read_dir(repo_root().join("functions"))
        .expect("functions/ exists")
        .map(|entry| entry.unwrap().path())
        .filter(|dir| dir.join("Cargo.toml").is_file())
        .map(|dir| dir.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// The routes a function crate passes to `run_function`, by `Route` variant name.
fn crate_routes(function: &str) -> BTreeSet<String> {
    let main = read(&format!("functions/{function}/src/main.rs"));
    main.match_indices("Route::")
        .map(|(at, prefix)| {
            main[at + prefix.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty() && name != "ALL")
        .collect()
}

/// Compares named sets of routes; one line per route that some side lacks.
fn differences(sides: &[(&str, BTreeSet<RouteKey>)]) -> String {
    let all: BTreeSet<&RouteKey> = sides.iter().flat_map(|(_, set)| set).collect();
    let mut report = String::new();
    for route in all {
        let names = |present: bool| {
            sides
                .iter()
                .filter(|(_, set)| set.contains(route) == present)
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
        };
        let (have, lack) = (names(true), names(false));
        if !lack.is_empty() {
            let _ = writeln!(
                report,
                "  {}: missing from {} (present in {})",
                show(route),
                lack.join(", "),
                have.join(", ")
            );
        }
    }
    report
}

#[test]
fn routes_agree_across_template_openapi_code_and_events() {
    let template = template_functions(&yaml("template.yaml"));
    let template_routes: BTreeSet<RouteKey> = template
        .iter()
        .flat_map(|f| f.routes.iter().cloned())
        .collect();
    let report = differences(&[
        ("template.yaml", template_routes),
        ("openapi.yaml", openapi_routes(&yaml("openapi.yaml"))),
        (
            "shared::http::Route::ALL (imauth serve)",
            code_routes().into_keys().collect(),
        ),
        ("events/", event_routes().into_keys().collect()),
    ]);
    assert!(
        report.is_empty(),
        "routes disagree between template.yaml, openapi.yaml, the code and events/:\n{report}"
    );
}

#[test]
fn template_functions_are_the_function_crates_and_serve_their_routes() {
    let template = template_functions(&yaml("template.yaml"));
    let crates = function_crates();
    let binaries: BTreeSet<String> = template.iter().map(|f| f.binary.clone()).collect();
    let mut report = String::new();
    for function in &template {
        if !crates.contains(&function.binary) {
            let _ = writeln!(
                report,
                "  template.yaml {} builds binary {:?}: no crate functions/{}",
                function.logical_id, function.binary, function.binary
            );
        }
    }
    for name in crates.difference(&binaries) {
        let _ = writeln!(
            report,
            "  functions/{name}: no function in template.yaml builds it"
        );
    }
    let duplicates = template.len() - binaries.len();
    if duplicates > 0 {
        let _ = writeln!(report, "  template.yaml builds a binary twice");
    }

    // Each function gets exactly the routes its main.rs serves.
    let code = code_routes();
    for function in template.iter().filter(|f| crates.contains(&f.binary)) {
        let served = crate_routes(&function.binary);
        let expected: BTreeSet<RouteKey> = code
            .iter()
            .filter(|(_, route)| served.contains(&format!("{route:?}")))
            .map(|(key, _)| key.clone())
            .collect();
        for route in expected.difference(&function.routes) {
            let _ = writeln!(
                report,
                "  {}: functions/{} serves it but template.yaml {} has no event for it",
                show(route),
                function.binary,
                function.logical_id
            );
        }
        for route in function.routes.difference(&expected) {
            let _ = writeln!(
                report,
                "  {}: template.yaml sends it to {} but functions/{} does not serve it",
                show(route),
                function.logical_id,
                function.binary
            );
        }
    }

    // Events live in the directory of the function that answers them, so
    // `sam local invoke <Function> -e events/<function>/<file>.json` is right.
    let owner: BTreeMap<&RouteKey, &str> = template
        .iter()
        .flat_map(|f| f.routes.iter().map(|r| (r, f.binary.as_str())))
        .collect();
    for (route, dirs) in event_routes() {
        for dir in dirs {
            if let Some(function) = owner.get(&route)
                && *function != dir
            {
                let _ = writeln!(
                    report,
                    "  events/{dir}/ holds a {} event, but {function} serves that route",
                    show(&route)
                );
            }
        }
    }
    assert!(
        report.is_empty(),
        "template.yaml functions disagree with functions/:\n{report}"
    );
}

fn the_table(template: &Yaml) -> &Yaml {
    let tables: Vec<_> = resources(template)
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::DynamoDB::Table"))
        .collect();
    assert_eq!(
        tables.len(),
        1,
        "template.yaml must define exactly one table"
    );
    &tables[0].1["Properties"]
}

#[test]
fn table_matches_the_shared_definition() {
    let template = yaml("template.yaml");
    let table_props = the_table(&template);

    let key_schema: BTreeMap<&str, &str> = table_props["KeySchema"]
        .as_sequence()
        .expect("KeySchema is a list")
        .iter()
        .map(|k| {
            (
                k["KeyType"].as_str().unwrap(),
                k["AttributeName"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        key_schema,
        BTreeMap::from([("HASH", table::PARTITION_KEY), ("RANGE", table::SORT_KEY)]),
        "template.yaml KeySchema vs shared::store::dynamo::table"
    );

    let attributes: BTreeMap<&str, &str> = table_props["AttributeDefinitions"]
        .as_sequence()
        .expect("AttributeDefinitions is a list")
        .iter()
        .map(|a| {
            (
                a["AttributeName"].as_str().unwrap(),
                a["AttributeType"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        attributes,
        BTreeMap::from([(table::PARTITION_KEY, "S"), (table::SORT_KEY, "S")]),
        "template.yaml AttributeDefinitions vs shared::store::dynamo::table (string keys)"
    );

    assert_eq!(
        table_props["BillingMode"].as_str(),
        Some(table::BILLING_MODE.as_str()),
        "template.yaml BillingMode vs shared::store::dynamo::table::BILLING_MODE"
    );
    let ttl = &table_props["TimeToLiveSpecification"];
    assert_eq!(
        ttl["AttributeName"].as_str(),
        Some(table::TTL_ATTRIBUTE),
        "template.yaml TTL attribute vs shared::store::dynamo::table::TTL_ATTRIBUTE"
    );
    assert_eq!(ttl["Enabled"].as_bool(), Some(true), "TTL must be enabled");
    assert_eq!(
        table_props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true),
        "point-in-time recovery must be on"
    );
    assert_eq!(
        text(&table_props["DeletionProtectionEnabled"]),
        Some("DeletionProtection"),
        "deletion protection must come from the DeletionProtection parameter"
    );
}

/// Every `Statement` under a function's `Policies`, with the function's logical id.
fn statements(template: &Yaml) -> Vec<(&str, &Yaml)> {
    resources(template)
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .flat_map(|(id, r)| {
            let policies = r["Properties"]["Policies"].as_sequence();
            assert!(
                policies.is_some(),
                "template.yaml: {id} needs explicit Policies (least privilege)"
            );
            policies.into_iter().flatten().flat_map(move |policy| {
                let statements = policy["Statement"].as_sequence();
                assert!(
                    statements.is_some(),
                    "template.yaml: {id} uses a policy without explicit Statements: {policy:?}"
                );
                statements.into_iter().flatten().map(move |s| (id, s))
            })
        })
        .collect()
}

fn strings(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::Sequence(items) => items.iter().flat_map(strings).collect(),
        Yaml::Tagged(tagged) => {
            // `!GetAtt Table.Arn`, `!Ref KeysSecretArn`: a named resource, not a wildcard.
            strings(&tagged.value)
        }
        Yaml::String(s) => vec![s.clone()],
        other => vec![format!("{other:?}")],
    }
}

#[test]
fn policies_grant_nothing_on_wildcards() {
    let template = yaml("template.yaml");
    let mut report = String::new();
    for (id, statement) in statements(&template) {
        for resource in strings(&statement["Resource"]) {
            if resource.contains('*') {
                let _ = writeln!(report, "  {id}: Resource {resource:?}");
            }
        }
        for action in strings(&statement["Action"]) {
            if action.contains('*') {
                let _ = writeln!(report, "  {id}: Action {action:?}");
            }
        }
        let resources = strings(&statement["Resource"]);
        assert!(
            !resources.is_empty()
                && resources
                    .iter()
                    .all(|r| ["Table.Arn", "KeysSecretArn", "PublicKeysSecretArn"]
                        .contains(&r.as_str())),
            "{id}: a statement reaches beyond the table and the key secrets: {resources:?}"
        );
    }
    assert!(report.is_empty(), "wildcards in policies:\n{report}");
}

/// Every scalar string under `value`, mapping keys included, through YAML tags.
fn all_strings(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::Sequence(items) => items.iter().flat_map(all_strings).collect(),
        Yaml::Mapping(map) => map
            .iter()
            .flat_map(|(k, v)| all_strings(k).into_iter().chain(all_strings(v)))
            .collect(),
        Yaml::Tagged(tagged) => all_strings(&tagged.value),
        Yaml::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Whether a template string names the private key secret (`!Ref KeysSecretArn`,
/// `${KeysSecretArn}`, the variable that makes a function read it).
fn names_private_keys(text: &str) -> bool {
    text.replace("PublicKeysSecretArn", "")
        .contains("KeysSecretArn")
        || text == "IMAUTH_KEYS_SECRET_ARN"
}

/// The template's functions whose routes all only verify tokens (by
/// `Route::needs_private_keys`), by logical id.
fn verify_only_functions(template: &Yaml) -> BTreeSet<String> {
    let code = code_routes();
    template_functions(template)
        .into_iter()
        .filter(|f| {
            !f.routes.is_empty()
                && f.routes
                    .iter()
                    .all(|route| code.get(route).is_some_and(|r| !r.needs_private_keys()))
        })
        .map(|f| f.logical_id)
        .collect()
}

/// How each verify-only function could reach the private key set: an allowing statement
/// naming it, or granting Secrets Manager on anything but the public key secret, or an
/// environment (its own or the Globals) naming it.
fn private_key_access(template: &Yaml) -> Vec<String> {
    let verify_only = verify_only_functions(template);
    let mut found = Vec::new();
    for (id, statement) in statements(template) {
        if !verify_only.contains(id) || text(&statement["Effect"]) == Some("Deny") {
            continue;
        }
        for named in all_strings(statement) {
            if names_private_keys(&named) {
                found.push(format!("{id}: a policy statement names {named:?}"));
            }
        }
        let secrets = strings(&statement["Action"])
            .iter()
            .any(|a| a.to_ascii_lowercase().starts_with("secretsmanager:"));
        let resources = strings(&statement["Resource"]);
        if (secrets && resources != ["PublicKeysSecretArn"])
            || !statement["NotResource"].is_null()
            || !statement["NotAction"].is_null()
        {
            found.push(format!(
                "{id}: a statement may reach other secrets: {resources:?}"
            ));
        }
    }
    let globals = &template["Globals"]["Function"]["Environment"];
    for (id, resource) in resources(template).filter(|(id, _)| verify_only.contains(*id)) {
        for environment in [&resource["Properties"]["Environment"], globals] {
            for named in all_strings(environment) {
                if names_private_keys(&named) {
                    found.push(format!("{id}: its environment names {named:?}"));
                }
            }
        }
    }
    found
}

#[test]
fn verify_only_functions_cannot_read_the_private_key_set() {
    let template = yaml("template.yaml");
    let verify_only = verify_only_functions(&template);
    assert_eq!(
        verify_only,
        BTreeSet::from([
            "JwksFunction".to_owned(),
            "PushTokenFunction".to_owned(),
            "UserAdminFunction".to_owned()
        ])
    );
    assert_eq!(private_key_access(&template), Vec::<String>::new());
    for id in &verify_only {
        let properties = &template["Resources"][id.as_str()]["Properties"];
        assert_eq!(
            text(&properties["Environment"]["Variables"]["IMAUTH_PUBLIC_KEYS_SECRET_ARN"]),
            Some("PublicKeysSecretArn"),
            "{id} reads the public key set"
        );
    }
    // Every other function gets the private key set (and the Globals give it to none).
    for function in template_functions(&template) {
        if verify_only.contains(&function.logical_id) {
            continue;
        }
        let variables = &template["Resources"][function.logical_id.as_str()]["Properties"]["Environment"]
            ["Variables"];
        assert_eq!(
            text(&variables["IMAUTH_KEYS_SECRET_ARN"]),
            Some("KeysSecretArn"),
            "{} signs, so it reads the private key set",
            function.logical_id
        );
    }

    // The check can fail: the private secret granted, or named in the environment, of a
    // verify-only function (or of every function, through the Globals).
    let grant: Yaml = serde_norway::from_str(
        "{Effect: Allow, Action: secretsmanager:GetSecretValue, Resource: !Ref KeysSecretArn}",
    )
    .unwrap();
    let variable: Yaml = serde_norway::from_str("!Ref KeysSecretArn").unwrap();
    for id in &verify_only {
        let mut granted = template.clone();
        granted["Resources"][id.as_str()]["Properties"]["Policies"][0]["Statement"]
            .as_sequence_mut()
            .unwrap()
            .push(grant.clone());
        let mut told = template.clone();
        told["Resources"][id.as_str()]["Properties"]["Environment"]["Variables"]["IMAUTH_KEYS_SECRET_ARN"] =
            variable.clone();
        for mutated in [granted, told] {
            let found = private_key_access(&mutated);
            assert!(
                found.iter().any(|f| f.starts_with(id.as_str())),
                "{found:?}"
            );
        }
    }
    let mut globals = template.clone();
    globals["Globals"]["Function"]["Environment"]["Variables"]["IMAUTH_KEYS_SECRET_ARN"] = variable;
    let found = private_key_access(&globals);
    for id in &verify_only {
        assert!(
            found.iter().any(|f| f.starts_with(id.as_str())),
            "{id}: {found:?}"
        );
    }
}

#[test]
fn deploy_files_exist() {
    // Guards the test itself: the files it reads exist where the README says.
    for file in ["template.yaml", "openapi.yaml", "samconfig.toml"] {
        assert!(
            Path::new(&repo_root().join(file)).is_file(),
            "{file} is missing"
        );
    }
    assert!(!function_crates().is_empty());
    assert!(!event_routes().is_empty());
}

/// `(namespace, metric name, dimension names)` of every metric an alarm reads, in both
/// forms: a single metric, or metric-math queries with `MetricStat`.
fn alarm_metrics(alarm: &Yaml) -> Vec<(String, String, Vec<String>)> {
    let props = &alarm["Properties"];
    let described = |metric: &Yaml| {
        let dimensions = metric["Dimensions"]
            .as_sequence()
            .map(|d| {
                d.iter()
                    .filter_map(|d| text(&d["Name"]).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        (
            text(&metric["Namespace"]).unwrap_or_default().to_owned(),
            text(&metric["MetricName"]).unwrap_or_default().to_owned(),
            dimensions,
        )
    };
    let mut metrics: Vec<_> = props["Metrics"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter(|query| !query["MetricStat"].is_null())
        .map(|query| described(&query["MetricStat"]["Metric"]))
        .collect();
    if !props["MetricName"].is_null() {
        metrics.push(described(props));
    }
    metrics
}

/// Issue 15: an alarm or a dashboard graph on a metric the code does not emit (a renamed
/// metric, a dimension set we never write) would watch nothing and never fire.
#[test]
fn alarms_and_the_dashboard_watch_metrics_the_code_emits() {
    use shared::metrics::{NAMESPACE, metric_names};
    let template = yaml("template.yaml");
    let emitted = metric_names();
    let mut report = String::new();
    let mut ours = 0;
    let alarms: Vec<_> = resources(&template)
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .collect();
    for (id, alarm) in &alarms {
        let metrics = alarm_metrics(alarm);
        assert!(!metrics.is_empty(), "{id} reads no metric");
        for (namespace, name, dimensions) in metrics.into_iter().filter(|m| m.0 == NAMESPACE) {
            ours += 1;
            if !emitted.contains(&name.as_str()) {
                let _ = writeln!(report, "  {id}: metric {name} is not emitted by the code");
            }
            if dimensions != ["Service"] {
                let _ = writeln!(
                    report,
                    "  {id}: {namespace}/{name} by {dimensions:?}, a dimension set the code does not write"
                );
            }
        }
    }
    assert!(
        ours >= 3,
        "the login alarms read our metrics ({ours} found)"
    );
    // Errors and throttles of every function are watched.
    let functions: BTreeSet<&str> = resources(&template)
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, _)| id)
        .collect();
    for lambda_metric in ["Errors", "Throttles"] {
        let watched: BTreeSet<String> = alarms
            .iter()
            .flat_map(|(_, alarm)| {
                alarm["Properties"]["Metrics"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
            })
            .filter(|q| text(&q["MetricStat"]["Metric"]["MetricName"]) == Some(lambda_metric))
            .filter_map(|q| {
                text(&q["MetricStat"]["Metric"]["Dimensions"][0]["Value"]).map(str::to_owned)
            })
            .collect();
        let unwatched: Vec<_> = functions
            .iter()
            .filter(|f| !watched.contains(**f))
            .collect();
        assert!(
            unwatched.is_empty(),
            "no {lambda_metric} alarm for {unwatched:?}"
        );
    }
    // The dashboard: valid JSON once substituted, and every graph of ours names a metric we emit.
    let (_, dashboard) = resources(&template)
        .find(|(_, r)| r["Type"].as_str() == Some("AWS::CloudWatch::Dashboard"))
        .expect("an operations dashboard");
    let body = text(&dashboard["Properties"]["DashboardBody"]).expect("a DashboardBody string");
    let mut substituted = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("${") {
        let end = start + rest[start..].find('}').expect("closed ${...}");
        substituted.push_str(&rest[..start]);
        substituted.push_str("SUBSTITUTED");
        rest = &rest[end + 1..];
    }
    substituted.push_str(rest);
    let body: Json = serde_json::from_str(&substituted)
        .unwrap_or_else(|e| panic!("DashboardBody is not JSON after substitution: {e}"));
    let mut graphed = Vec::new();
    for widget in body["widgets"].as_array().expect("widgets") {
        for line in widget["properties"]["metrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let line = line.as_array().expect("a metric line is an array");
            if line.first().and_then(Json::as_str) == Some(NAMESPACE) {
                graphed.push(line[1].as_str().unwrap_or_default().to_owned());
            }
            let expression = line.iter().find_map(|item| item["expression"].as_str());
            if let Some(search) = expression.filter(|e| e.contains(&format!("{{{NAMESPACE},"))) {
                let name = search
                    .split("MetricName=\"")
                    .nth(1)
                    .and_then(|s| s.split('"').next());
                graphed.push(name.unwrap_or_default().to_owned());
            }
        }
    }
    assert!(
        graphed.len() >= 6,
        "the dashboard graphs our metrics: {graphed:?}"
    );
    for name in graphed {
        if !emitted.contains(&name.as_str()) {
            let _ = writeln!(
                report,
                "  OperationsDashboard: metric {name} is not emitted by the code"
            );
        }
    }
    assert!(
        report.is_empty(),
        "alarms or dashboard on metrics the code does not emit:\n{report}"
    );
}

/// What a local run (`sam local`, docs/sam-local.md) sets through `--env-vars`. SAM passes
/// a function only variables its template declares, so each is declared in `Globals`;
/// blank, because a deployed function must behave as if it were absent (the code reads a
/// blank variable as unset).
const LOCAL_RUN_VARIABLES: [&str; 6] = [
    "IMAUTH_STORE",
    "IMAUTH_SEED_FILE",
    "IMAUTH_KEYS_FILE",
    "IMAUTH_PASSWORD_POLICY",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
];

fn global_variables(template: &Yaml) -> &serde_norway::Mapping {
    template["Globals"]["Function"]["Environment"]["Variables"]
        .as_mapping()
        .expect("template.yaml: Globals.Function.Environment.Variables")
}

#[test]
fn local_run_variables_are_declared_and_blank() {
    let template = yaml("template.yaml");
    let variables = global_variables(&template);
    let mut report = String::new();
    for name in LOCAL_RUN_VARIABLES {
        match variables.get(name) {
            None => writeln!(report, "{name} is not declared (sam local would drop it)").unwrap(),
            Some(Yaml::String(value)) if value.is_empty() => {}
            Some(other) => writeln!(report, "{name} is {other:?}, not \"\"").unwrap(),
        }
    }
    assert!(
        report.is_empty(),
        "template.yaml Globals.Function.Environment.Variables:\n{report}"
    );
}

#[test]
fn the_local_env_file_sets_only_declared_variables() {
    // A variable the template does not declare is silently dropped by sam local.
    let template = yaml("template.yaml");
    let declared: BTreeSet<&str> = global_variables(&template)
        .keys()
        .filter_map(Yaml::as_str)
        .collect();
    let env_file: Json = serde_json::from_str(&read("events/env.local.json")).unwrap();
    let set: BTreeSet<&str> = env_file["Parameters"]
        .as_object()
        .expect("events/env.local.json: Parameters")
        .keys()
        .map(String::as_str)
        .collect();
    assert!(!set.is_empty());
    let undeclared: Vec<_> = set.difference(&declared).collect();
    assert!(
        undeclared.is_empty(),
        "events/env.local.json sets variables template.yaml does not declare: {undeclared:?}"
    );
}

/// The request header names `openapi.yaml` declares anywhere (`in: header` parameters,
/// inline or in components), lowercase, and `content-type` when some operation takes a
/// request body.
fn openapi_request_headers(value: &Yaml, found: &mut BTreeSet<String>) {
    match value {
        Yaml::Mapping(map) => {
            if value["in"].as_str() == Some("header")
                && let Some(name) = value["name"].as_str()
            {
                found.insert(name.to_ascii_lowercase());
            }
            if map.contains_key("requestBody") {
                found.insert("content-type".to_owned());
            }
            map.values().for_each(|v| openapi_request_headers(v, found));
        }
        Yaml::Sequence(items) => items.iter().for_each(|v| openapi_request_headers(v, found)),
        Yaml::Tagged(tagged) => openapi_request_headers(&tagged.value, found),
        _ => {}
    }
}

/// The list under `key` of the template's CORS configuration.
fn cors_list(config: &Yaml, key: &str) -> BTreeSet<String> {
    config[key]
        .as_sequence()
        .unwrap_or_else(|| panic!("template.yaml: CorsConfiguration.{key} is not a list"))
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

fn code_list(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// CORS (docs/web-clients.md): off unless a deploy names origins; when on, API Gateway
/// answers preflights with exactly the lists `imauth serve` uses (shared::http::cors), and
/// those allow every request header openapi.yaml declares and nothing else.
#[test]
fn cors_configuration_is_the_shared_one_and_allows_every_declared_header() {
    use shared::http::cors::{ALLOWED_HEADERS, ALLOWED_METHODS, EXPOSED_HEADERS, MAX_AGE_SECONDS};

    let template = yaml("template.yaml");
    let origins = &template["Parameters"]["CorsAllowedOrigins"];
    assert_eq!(
        origins["Default"].as_str(),
        Some(""),
        "template.yaml: CorsAllowedOrigins must default to empty (no CORS)"
    );
    let condition = all_strings(&template["Conditions"]["CorsEnabled"]);
    assert!(
        condition.contains(&"CorsAllowedOrigins".to_owned()),
        "template.yaml: the CorsEnabled condition must test CorsAllowedOrigins: {condition:?}"
    );

    let (_, api) = resources(&template)
        .find(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::HttpApi"))
        .expect("template.yaml has an HttpApi");
    let Yaml::Tagged(cors) = &api["Properties"]["CorsConfiguration"] else {
        panic!(
            "template.yaml: the HttpApi's CorsConfiguration must be !If [CorsEnabled, ..., !Ref AWS::NoValue]"
        );
    };
    assert!(
        cors.tag == "If",
        "template.yaml: CorsConfiguration is !{}",
        cors.tag
    );
    let branches = cors.value.as_sequence().expect("!If takes a list");
    assert_eq!(branches[0].as_str(), Some("CorsEnabled"));
    assert_eq!(
        text(&branches[2]),
        Some("AWS::NoValue"),
        "CORS off must remove it"
    );
    let config = &branches[1];
    assert!(
        all_strings(&config["AllowOrigins"]).contains(&"CorsAllowedOrigins".to_owned()),
        "template.yaml: AllowOrigins must come from CorsAllowedOrigins"
    );
    assert_eq!(
        cors_list(config, "AllowMethods"),
        code_list(ALLOWED_METHODS)
    );
    assert_eq!(
        cors_list(config, "AllowHeaders"),
        code_list(ALLOWED_HEADERS)
    );
    assert_eq!(
        cors_list(config, "ExposeHeaders"),
        code_list(EXPOSED_HEADERS)
    );
    assert_eq!(config["MaxAge"].as_u64(), Some(u64::from(MAX_AGE_SECONDS)));
    assert_ne!(
        config["AllowCredentials"].as_bool(),
        Some(true),
        "no credentials mode: tokens are not cookies"
    );

    let mut declared = BTreeSet::new();
    openapi_request_headers(&yaml("openapi.yaml"), &mut declared);
    assert!(
        declared.contains("app_id"),
        "openapi.yaml: found {declared:?}"
    );
    let allowed = code_list(ALLOWED_HEADERS);
    let missing: Vec<_> = declared.difference(&allowed).collect();
    let unused: Vec<_> = allowed.difference(&declared).collect();
    assert!(
        missing.is_empty() && unused.is_empty(),
        "shared::http::cors::ALLOWED_HEADERS (and template.yaml's AllowHeaders) must be the \
         request headers openapi.yaml declares: add {missing:?}, remove {unused:?}"
    );
}
