//! API keys: `slk_` + 32 random bytes in base64url. Only the SHA-256 of a key is stored;
//! the first characters of that digest are the key's public id, which links record as
//! their owner.

use std::fmt;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

pub const KEY_PREFIX: &str = "slk_";
const SECRET_BYTES: usize = 32;
/// base64url without padding of 32 bytes.
const SECRET_CHARS: usize = 43;
pub const KEY_ID_LEN: usize = 12;
pub const NAME_MAX_LEN: usize = 64;

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// A secret key as a client presents it. Never stored, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(..)")
    }
}

impl ApiKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<ApiKey, getrandom::Error> {
        let mut bytes = [0u8; SECRET_BYTES];
        getrandom::getrandom(&mut bytes)?;
        Ok(ApiKey(format!(
            "{KEY_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(bytes)
        )))
    }

    /// Only the shape is checked here; whether the key exists is the store's question.
    pub fn parse(s: &str) -> Option<ApiKey> {
        let secret = s.strip_prefix(KEY_PREFIX)?;
        let ok = secret.len() == SECRET_CHARS && secret.bytes().all(is_b64url);
        ok.then(|| ApiKey(s.to_owned()))
    }

    pub fn hash(&self) -> KeyHash {
        KeyHash(URL_SAFE_NO_PAD.encode(Sha256::digest(self.0.as_bytes())))
    }

    /// The key itself, to show once when it is issued.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

/// base64url(SHA-256(key)): what the store keeps and looks keys up by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyHash(String);

impl KeyHash {
    /// A hash read back from the store: 43 base64url characters, or nothing.
    pub fn from_stored(s: &str) -> Option<KeyHash> {
        let ok = s.len() == SECRET_CHARS && s.bytes().all(is_b64url);
        ok.then(|| KeyHash(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn id(&self) -> KeyId {
        KeyId(self.0[..KEY_ID_LEN].to_owned())
    }
}

/// The public name of a key: the first 12 characters of its hash. Links keep it as their
/// owner; the CLI revokes by it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    pub fn parse(s: &str) -> Option<KeyId> {
        let ok = s.len() == KEY_ID_LEN && s.bytes().all(is_b64url);
        ok.then(|| KeyId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Manages every link (abuse takedown).
    Admin,
    /// Manages the links it created.
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "user" => Some(Role::User),
            _ => None,
        }
    }
}

/// A label for people: 1 to 64 printable characters.
pub fn valid_name(name: &str) -> bool {
    let len = name.chars().count();
    (1..=NAME_MAX_LEN).contains(&len) && !name.chars().any(char::is_control)
}

/// A key as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    pub hash: KeyHash,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl KeyRecord {
    pub fn id(&self) -> KeyId {
        self.hash.id()
    }

    /// Who a request with this key acts as; `None` once revoked.
    pub fn principal(&self) -> Option<Principal> {
        self.revoked_at.is_none().then(|| Principal {
            key_id: self.id(),
            role: self.role,
        })
    }
}

/// The caller of a request that carried a valid key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub key_id: KeyId,
    pub role: Role,
}

impl Principal {
    /// Admins manage every link; users their own. Anonymous links are the admins' alone.
    pub fn may_manage(&self, owner: Option<&KeyId>) -> bool {
        self.role == Role::Admin || owner == Some(&self.key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let a = ApiKey::generate().unwrap();
        let b = ApiKey::generate().unwrap();
        assert_ne!(a, b);
        assert!(a.reveal().starts_with("slk_"));
        assert_eq!(a.reveal().len(), 4 + 43);
        assert_eq!(ApiKey::parse(a.reveal()), Some(a.clone()));
        assert_eq!(a.hash().as_str().len(), 43);
        assert_eq!(a.hash().id().as_str().len(), KEY_ID_LEN);
        assert!(a.hash().as_str().starts_with(a.hash().id().as_str()));
        assert_eq!(format!("{a:?}"), "ApiKey(..)", "never printed");
    }

    #[test]
    fn malformed_keys_are_refused() {
        let good = ApiKey::generate().unwrap().reveal().to_owned();
        for bad in [
            "",
            "slk_",
            &good[4..],
            &good[..good.len() - 1],
            &format!("{good}A"),
            &good.replace("slk_", "SLK_"),
            &format!("slk_{}", "+".repeat(43)),
            &format!("slk_{}=", "A".repeat(42)),
        ] {
            assert!(ApiKey::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn hash_is_sha256_base64url() {
        let key = ApiKey::parse(&format!("slk_{}", "A".repeat(43))).unwrap();
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(key.reveal().as_bytes()));
        assert_eq!(key.hash().as_str(), expected);
    }

    #[test]
    fn who_may_manage_what() {
        let mine = KeyId::parse("AAAAAAAAAAAA").unwrap();
        let theirs = KeyId::parse("BBBBBBBBBBBB").unwrap();
        let user = Principal {
            key_id: mine.clone(),
            role: Role::User,
        };
        let admin = Principal {
            key_id: theirs.clone(),
            role: Role::Admin,
        };
        assert!(user.may_manage(Some(&mine)));
        assert!(!user.may_manage(Some(&theirs)));
        assert!(!user.may_manage(None));
        assert!(admin.may_manage(Some(&mine)));
        assert!(admin.may_manage(None));
    }

    #[test]
    fn revoked_keys_act_as_nobody() {
        let key = ApiKey::generate().unwrap();
        let mut record = KeyRecord {
            hash: key.hash(),
            name: "ci".into(),
            role: Role::User,
            created_at: Utc::now(),
            revoked_at: None,
        };
        assert_eq!(record.principal().unwrap().key_id, key.hash().id());
        record.revoked_at = Some(Utc::now());
        assert!(record.principal().is_none());
    }

    #[test]
    fn names_and_roles() {
        assert!(valid_name("alice"));
        assert!(!valid_name(""));
        assert!(!valid_name(&"x".repeat(65)));
        assert!(!valid_name("a\nb"));
        assert_eq!(Role::parse("admin"), Some(Role::Admin));
        assert_eq!(Role::parse("root"), None);
        assert!(KeyId::parse("short").is_none());
    }
}
