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
        .table_name(&table)
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
    // TTL on the attribute the store writes.
    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
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
            vec!["dynamodb:GetItem", "dynamodb:UpdateItem"],
        ),
        ("StatsFunction", vec!["dynamodb:GetItem", "dynamodb:Query"]),
        (
            "ManageFunction",
            vec![
                "dynamodb:BatchWriteItem",
                "dynamodb:DeleteItem",
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
            ],
        ),
        ("HealthFunction", vec!["dynamodb:GetItem"]),
        ("PagesFunction", vec!["dynamodb:GetItem", "dynamodb:Query"]),
    ] {
        checked.insert(function.to_owned());
        let policies = doc["Resources"][function]["Properties"]["Policies"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{function} has policies"));
        let mut actions = BTreeSet::new();
        for policy in policies {
            for statement in policy["Statement"].as_sequence().expect("statements") {
                assert_eq!(statement["Effect"].as_str(), Some("Allow"));
                let resource = format!("{:?}", statement["Resource"]);
                assert!(resource.contains("LinksTable"), "{function}: {resource}");
                // The table, or its owner index: nothing else, no wildcard.
                assert!(!resource.contains('*'), "{function}: {resource}");
                for action in statement["Action"].as_sequence().expect("actions") {
                    actions.insert(action.as_str().expect("action").to_owned());
                }
            }
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
