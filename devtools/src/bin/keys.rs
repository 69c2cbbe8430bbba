//! `keys create --name NAME --role admin|user`, `keys list`, `keys revoke KEY_ID`: API keys
//! in the table `$TABLE_NAME`, through the same store the functions use. The key itself is
//! printed once, at creation; only its SHA-256 is stored.

use chrono::Utc;
use common::domain::key::valid_name;
use common::domain::link::rfc3339;
use common::domain::{ApiKey, KeyId, KeyRecord, Role};
use common::store::{dynamodb_client, RevokeError, Store};

const USAGE: &str =
    "usage: keys create --name NAME --role admin|user | keys list | keys revoke KEY_ID";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is not set")?;
    let store = Store::new(dynamodb_client()?, table);
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["create", rest @ ..] => create(&store, rest).await,
        ["list"] => list(&store).await,
        ["revoke", id] => revoke(&store, id).await,
        _ => Err(USAGE.into()),
    }
}

async fn create(store: &Store, args: &[&str]) -> Result<(), Box<dyn std::error::Error>> {
    let (mut name, mut role) = (None, None);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(USAGE)?;
        match *flag {
            "--name" => name = Some(*value),
            "--role" => role = Some(*value),
            _ => return Err(USAGE.into()),
        }
    }
    let name = name
        .filter(|n| valid_name(n))
        .ok_or("--name: 1 to 64 printable characters")?;
    let role = role
        .and_then(Role::parse)
        .ok_or("--role must be admin or user")?;
    let key = ApiKey::generate().map_err(|e| format!("random source: {e}"))?;
    let record = KeyRecord {
        hash: key.hash(),
        name: name.to_owned(),
        role,
        created_at: Utc::now(),
        revoked_at: None,
    };
    store.put_key(&record).await?;
    eprintln!(
        "key {} ({}, {}) created; it is shown only now:",
        record.id(),
        record.name,
        role.as_str()
    );
    println!("{}", key.reveal());
    Ok(())
}

async fn list(store: &Store) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "{:<12}  {:<5}  {:<24}  {:<24}  name",
        "id", "role", "created_at", "revoked_at"
    );
    for k in store.list_keys().await? {
        println!(
            "{:<12}  {:<5}  {:<24}  {:<24}  {}",
            k.id(),
            k.role.as_str(),
            rfc3339(k.created_at),
            k.revoked_at.map(rfc3339).unwrap_or_else(|| "-".into()),
            k.name
        );
    }
    Ok(())
}

async fn revoke(store: &Store, id: &str) -> Result<(), Box<dyn std::error::Error>> {
    let id = KeyId::parse(id).ok_or("a key id is the 12 characters `keys list` shows")?;
    match store.revoke_key(&id, Utc::now()).await {
        Ok(k) => {
            println!(
                "key {} ({}) revoked at {}; warm functions refuse it within KEY_CACHE_SECONDS",
                k.id(),
                k.name,
                k.revoked_at.map(rfc3339).unwrap_or_default()
            );
            Ok(())
        }
        Err(RevokeError::NotFound(id)) => Err(format!("no key with id {id}").into()),
        Err(e) => Err(e.into()),
    }
}
