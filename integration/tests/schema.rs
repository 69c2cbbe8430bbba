//! The table the local set-up creates has exactly the key schema of template.yaml.

mod support;

use std::collections::BTreeSet;

use serde_yaml::Value;

fn template_table() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
        .expect("template.yaml");
    let doc: Value = serde_yaml::from_str(&text).expect("template.yaml parses");
    doc["Resources"]["LinksTable"]["Properties"].clone()
}

fn pairs(list: &Value, a: &str, b: &str) -> BTreeSet<(String, String)> {
    list.as_sequence()
        .expect("a list")
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().expect(k).to_owned();
            (s(a), s(b))
        })
        .collect()
}

#[tokio::test]
async fn local_table_has_the_template_schema() {
    let props = template_table();
    let client = support::dynamodb();
    let table = support::fresh_table(&client).await;
    let described = client
        .describe_table()
        .table_name(&*table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();

    let local_attrs: BTreeSet<(String, String)> = described
        .attribute_definitions()
        .iter()
        .map(|a| {
            (
                a.attribute_name().to_owned(),
                a.attribute_type().as_str().to_owned(),
            )
        })
        .collect();
    let local_keys: BTreeSet<(String, String)> = described
        .key_schema()
        .iter()
        .map(|k| {
            (
                k.attribute_name().to_owned(),
                k.key_type().as_str().to_owned(),
            )
        })
        .collect();

    assert_eq!(
        local_attrs,
        pairs(
            &props["AttributeDefinitions"],
            "AttributeName",
            "AttributeType"
        )
    );
    assert_eq!(
        local_keys,
        pairs(&props["KeySchema"], "AttributeName", "KeyType")
    );
    assert_eq!(props["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
    assert_eq!(
        described
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|m| m.as_str()),
        Some("PAY_PER_REQUEST")
    );
    // One index on each side, the same: the sparse owner index, newest first.
    let template_indexes = props["GlobalSecondaryIndexes"]
        .as_sequence()
        .expect("indexes");
    assert_eq!(template_indexes.len(), 1);
    let t_index = &template_indexes[0];
    let local_indexes = described.global_secondary_indexes();
    assert_eq!(local_indexes.len(), 1);
    let l_index = &local_indexes[0];
    assert_eq!(t_index["IndexName"].as_str(), l_index.index_name());
    assert_eq!(l_index.index_name(), Some(common::store::OWNER_INDEX));
    let l_keys: BTreeSet<(String, String)> = l_index
        .key_schema()
        .iter()
        .map(|k| {
            (
                k.attribute_name().to_owned(),
                k.key_type().as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        l_keys,
        pairs(&t_index["KeySchema"], "AttributeName", "KeyType")
    );
    assert_eq!(
        t_index["Projection"]["ProjectionType"].as_str(),
        l_index
            .projection()
            .and_then(|p| p.projection_type())
            .map(|p| p.as_str())
    );
    let mut t_attrs: Vec<&str> = t_index["Projection"]["NonKeyAttributes"]
        .as_sequence()
        .expect("the owner index names its attributes")
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    let mut l_attrs: Vec<&str> = l_index
        .projection()
        .map(|p| p.non_key_attributes())
        .unwrap_or_default()
        .iter()
        .map(String::as_str)
        .collect();
    t_attrs.sort_unstable();
    l_attrs.sort_unstable();
    assert_eq!(t_attrs, l_attrs);
    // TTL on the attribute the store writes.
    let ttl = client
        .describe_time_to_live()
        .table_name(&*table)
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap();
    assert_eq!(
        props["TimeToLiveSpecification"]["AttributeName"].as_str(),
        ttl.attribute_name()
    );
    assert_eq!(ttl.attribute_name(), Some("expires_ttl"));
    // The stream the aggregator reads, with the same images.
    let stream = described.stream_specification().expect("a stream");
    assert!(stream.stream_enabled());
    assert_eq!(
        props["StreamSpecification"]["StreamViewType"].as_str(),
        stream.stream_view_type().map(|v| v.as_str())
    );
    assert_eq!(
        stream.stream_view_type().map(|v| v.as_str()),
        Some("NEW_AND_OLD_IMAGES")
    );
}

/// Least privilege: each function may call exactly the DynamoDB actions it uses, on the
/// one table; no wildcard, no Scan.
#[test]
fn each_function_has_exactly_its_dynamodb_actions() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
        .expect("template.yaml");
    let doc: Value = serde_yaml::from_str(&text).expect("template.yaml parses");
    let in_template: BTreeSet<String> = doc["Resources"]
        .as_mapping()
        .expect("resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(name, _)| name.as_str().expect("name").to_owned())
        .collect();
    let mut checked = BTreeSet::new();
    for (function, expected) in [
        (
            "CreateFunction",
            vec!["dynamodb:GetItem", "dynamodb:PutItem"],
        ),
        (
            "RedirectFunction",
            // PutItem: a visit that stays throttled is queued (spill.rs).
            vec![
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ],
        ),
        (
            "StatsFunction",
            vec![
                "dynamodb:BatchGetItem",
                "dynamodb:GetItem",
                "dynamodb:Query",
            ],
        ),
        (
            "ManageFunction",
            vec![
                "dynamodb:BatchGetItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:DeleteItem",
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
            ],
        ),
        ("HealthFunction", vec!["dynamodb:GetItem"]),
        // The fact sheet's reads, and the key's hourly question counter (an UpdateItem).
        (
            "AskFunction",
            vec![
                "dynamodb:BatchGetItem",
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
            ],
        ),
        ("PagesFunction", vec!["dynamodb:GetItem", "dynamodb:Query"]),
        // Its own role (SAM's would add AWSLambdaDynamoDBExecutionRole, on "*"): the
        // table's reads and writes it makes (a batch's totals read at once, a removed
        // link's partitions purged, a queued visit counted and deleted), and the stream actions on this table's stream only.
        (
            "AggregateFunction",
            vec![
                "dynamodb:BatchGetItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:DeleteItem",
                "dynamodb:DescribeStream",
                "dynamodb:GetItem",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
            ],
        ),
    ] {
        checked.insert(function.to_owned());
        let props = &doc["Resources"][function]["Properties"];
        // `Role: !GetAtt SomeRole.Arn` (a YAML tag): the role resource it names.
        let role = (!props["Role"].is_null()).then(|| {
            let named = format!("{:?}", props["Role"]);
            doc["Resources"]
                .as_mapping()
                .expect("resources")
                .iter()
                .find(|(name, r)| {
                    r["Type"].as_str() == Some("AWS::IAM::Role")
                        && named.contains(&format!("{}.Arn", name.as_str().unwrap()))
                })
                .map(|(_, r)| r.clone())
                .unwrap_or_else(|| panic!("{function}: its role is in the template"))
        });
        let statements: Vec<Value> = match role {
            Some(role) => {
                assert!(
                    props["Policies"].is_null(),
                    "{function}: a role and policies"
                );
                let role = &role["Properties"];
                assert_eq!(role["ManagedPolicyArns"], Value::Null, "{function}");
                role["Policies"]
                    .as_sequence()
                    .expect("the role's policies")
                    .iter()
                    .flat_map(|p| p["PolicyDocument"]["Statement"].as_sequence().cloned())
                    .flatten()
                    .collect()
            }
            None => props["Policies"]
                .as_sequence()
                .unwrap_or_else(|| panic!("{function} has policies"))
                .iter()
                .flat_map(|p| p["Statement"].as_sequence().cloned())
                .flatten()
                .collect(),
        };
        let mut actions = BTreeSet::new();
        for statement in &statements {
            assert_eq!(statement["Effect"].as_str(), Some("Allow"));
            let resource = format!("{:?}", statement["Resource"]);
            let dynamodb: Vec<&str> = match &statement["Action"] {
                Value::Sequence(a) => a.iter().filter_map(|a| a.as_str()).collect(),
                a => a.as_str().into_iter().collect(),
            };
            let dynamodb: Vec<&str> = dynamodb
                .into_iter()
                .filter(|a| a.starts_with("dynamodb:"))
                .collect();
            if dynamodb.is_empty() {
                // Logs and the failure queue: named resources, no wildcard either.
                assert!(!resource.contains("\"*\""), "{function}: {resource}");
                continue;
            }
            // The table, its owner index or its stream: nothing else.
            assert!(resource.contains("LinksTable"), "{function}: {resource}");
            if dynamodb != ["dynamodb:ListStreams"] {
                assert!(!resource.contains('*'), "{function}: {resource}");
            }
            actions.extend(dynamodb.into_iter().map(String::from));
        }
        let expected: BTreeSet<String> = expected.into_iter().map(String::from).collect();
        assert_eq!(actions, expected, "{function}");
        assert!(!text.contains("dynamodb:*") && !text.contains("dynamodb:Scan"));
    }
    assert_eq!(
        checked, in_template,
        "every function's actions are pinned here"
    );
}

/// The ask function may invoke the one model the deployment names, and only when it names
/// one: a policy of its own on `AskEnabled`, on that model's ARN; no other role has any
/// Bedrock action.
#[test]
fn only_the_ask_function_may_invoke_only_the_named_model() {
    let doc = template();
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
        .expect("template.yaml");
    assert_eq!(
        text.matches("bedrock:Invoke").count(),
        1,
        "one Bedrock action in all"
    );
    assert!(!text.contains("bedrock:*") && !text.contains("bedrock:Converse"));
    let policy = &doc["Resources"]["AskBedrockPolicy"];
    assert_eq!(policy["Type"].as_str(), Some("AWS::IAM::RolePolicy"));
    assert_eq!(policy["Condition"].as_str(), Some("AskEnabled"));
    assert!(format!("{:?}", policy["Properties"]["RoleName"]).contains("AskRole"));
    let statements = policy["Properties"]["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("statements");
    assert_eq!(statements.len(), 1);
    assert_eq!(
        statements[0]["Action"].as_str(),
        Some("bedrock:InvokeModel")
    );
    let resource = format!("{:?}", statements[0]["Resource"]);
    assert!(
        resource.contains("::foundation-model/${BedrockModelId}") && !resource.contains('*'),
        "{resource}"
    );
    let condition = format!("{:?}", doc["Conditions"]["AskEnabled"]);
    assert!(condition.contains("BedrockModelId"), "{condition}");
    assert_eq!(
        doc["Parameters"]["BedrockModelId"]["Default"].as_str(),
        Some("")
    );
}

/// Each function is built from its own folder (`CodeUri: functions/<binary>`): `sam build`
/// runs `cargo lambda build --release --bin <binary>` there, so cargo resolves the features
/// of that one package. Built from the workspace root, cargo would unify the features of
/// every default member, and the Bedrock SDK's event-stream support (aws-runtime,
/// aws-smithy-http, aws-sigv4, aws-smithy-runtime) would grow every other function's zip
/// (the redirect's by 39 KB). No function but `ask` may reach the Bedrock SDK or its
/// event-stream crates in the build `sam build` makes of it.
#[test]
fn each_function_is_built_alone_from_its_folder_and_only_ask_has_bedrock() {
    let doc = template();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    assert!(
        doc["Globals"]["Function"]["CodeUri"].is_null(),
        "no CodeUri for all functions: each names its own folder"
    );
    let mut binaries = BTreeSet::new();
    for (name, res) in doc["Resources"].as_mapping().expect("resources") {
        if res["Metadata"]["BuildMethod"].as_str() != Some("rust-cargolambda") {
            continue;
        }
        let name = name.as_str().expect("name");
        let binary = res["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: Binary"));
        assert_eq!(
            res["Properties"]["CodeUri"].as_str(),
            Some(format!("functions/{binary}").as_str()),
            "{name}: built from its own folder"
        );
        let manifest = std::fs::read_to_string(format!("{root}/functions/{binary}/Cargo.toml"))
            .unwrap_or_else(|e| panic!("{name}: functions/{binary}/Cargo.toml: {e}"));
        assert!(
            manifest.contains(&format!("name = \"{binary}\"")),
            "{name}: functions/{binary} is the package {binary}"
        );
        binaries.insert(binary.to_string());
    }
    assert_eq!(binaries.len(), 8, "{binaries:?}");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for binary in &binaries {
        let out = std::process::Command::new(&cargo)
            .args([
                "tree",
                "--locked",
                "--offline",
                "-e",
                "normal",
                "--prefix",
                "none",
                "-p",
            ])
            .arg(binary)
            .current_dir(root)
            .output()
            .expect("cargo tree runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tree = String::from_utf8_lossy(&out.stdout);
        for bedrock in ["aws-sdk-bedrockruntime ", "aws-smithy-eventstream "] {
            assert_eq!(
                tree.contains(bedrock),
                binary == "ask",
                "{binary}'s build {} {bedrock}",
                if binary == "ask" { "lacks" } else { "has" }
            );
        }
    }
}

fn template() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
        .expect("template.yaml");
    serde_yaml::from_str(&text).expect("template.yaml parses")
}

/// Lambda drops application log lines below `LogLevel`; the request line carries the
/// metrics (EMF) at `metrics::REQUEST_LINE_LEVEL`, so no allowed level may be above it
/// (WARN and ERROR were allowed: every custom metric and the dashboard went blank).
#[test]
fn every_allowed_log_level_keeps_the_metrics_line() {
    let order = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    let rank = |l: &str| {
        order
            .iter()
            .position(|o| *o == l)
            .expect("a Lambda log level")
    };
    let line = rank(common::metrics::REQUEST_LINE_LEVEL);
    let doc = template();
    let allowed = doc["Parameters"]["LogLevel"]["AllowedValues"]
        .as_sequence()
        .expect("LogLevel has AllowedValues");
    for level in allowed {
        let level = level.as_str().unwrap();
        assert!(
            rank(level) <= line,
            "LogLevel {level} would drop the metrics line"
        );
    }
}

/// The local stack answers CORS as the HTTP API's CorsConfiguration does.
#[test]
fn cors_of_the_functions_matches_the_template() {
    let doc = template();
    let cors = &doc["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"];
    let joined = |v: &Value| {
        v.as_sequence()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let on = &cors_branch(cors);
    assert_eq!(joined(&on["AllowMethods"]), common::cors::ALLOW_METHODS);
    assert_eq!(joined(&on["AllowHeaders"]), common::cors::ALLOW_HEADERS);
    assert_eq!(joined(&on["ExposeHeaders"]), common::cors::EXPOSE_HEADERS);
    assert_eq!(
        on["MaxAge"].as_u64(),
        Some(common::cors::MAX_AGE_SECONDS as u64)
    );
}

/// The configuration of `!If [HasCors, <config>, !Ref AWS::NoValue]`.
fn cors_branch(cors: &Value) -> Value {
    match cors {
        Value::Tagged(t) if t.tag == "!If" => t.value[1].clone(),
        other => panic!("CorsConfiguration is not an !If: {other:?}"),
    }
}
