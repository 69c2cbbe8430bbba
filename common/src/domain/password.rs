//! Password links: the password's rules, its Argon2id hash (the only form ever stored),
//! and the lockout that bounds guessing.
//!
//! Parameters: Argon2id, m = 19 MiB, t = 2, p = 1, OWASP's first recommended set (Password
//! Storage Cheat Sheet). `make bench` times OWASP's five equivalent sets (BENCHMARKS.md):
//! this one took 15 to 23 ms per verify here, about 0.2 to 0.35 s on a 128 MB Lambda's
//! share of a vCPU; the 46 MiB set took about three times as long and a third of such a
//! function's memory, the smaller sets were within the noise of this one. The hash
//! carries its parameters, so a change here still verifies every stored hash.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MIN_PASSWORD_CHARS: usize = 4;
pub const MAX_PASSWORD_CHARS: usize = 128;
/// Memory per hash, in KiB (19 MiB).
pub const M_COST_KIB: u32 = 19 * 1024;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;
/// Wrong tries a link takes in `LOCKOUT_WINDOW` before every try is refused unhashed.
pub const MAX_FAILED_TRIES: u64 = 10;
pub const LOCKOUT_WINDOW: chrono::Duration = chrono::Duration::minutes(15);
/// Salt bytes (the PHC string's recommended 16).
const SALT_BYTES: usize = 16;

/// A password as a client sent it, checked; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("'password' must be a string of {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters without control characters, or null")]
    Invalid,
    #[error("the password could not be hashed")]
    Hash,
}

impl Password {
    /// 4 to 128 characters, none of them a control character (a form field cannot carry
    /// them reliably). Kept as given: spaces are part of a password.
    pub fn parse(s: &str) -> Result<Password, PasswordError> {
        let chars = s.chars().count();
        let ok = (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars)
            && !s.chars().any(char::is_control);
        ok.then(|| Password(s.to_owned()))
            .ok_or(PasswordError::Invalid)
    }

    /// The PHC string of an Argon2id hash with a fresh random salt.
    pub fn hash(&self) -> Result<String, PasswordError> {
        let mut salt = [0u8; SALT_BYTES];
        getrandom::getrandom(&mut salt).map_err(|_| PasswordError::Hash)?;
        let salt = SaltString::encode_b64(&salt).map_err(|_| PasswordError::Hash)?;
        hasher()
            .hash_password(self.0.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| PasswordError::Hash)
    }
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).expect("valid parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Whether `candidate` is the password behind `phc` (by the parameters the hash names).
/// A stored hash that cannot be read never matches.
pub fn verify(phc: &str, candidate: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    hasher()
        .verify_password(candidate.as_bytes(), &hash)
        .is_ok()
}

/// Whether `phc` is a hash this module wrote (what the store accepts back).
pub fn is_hash(phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| h.algorithm.as_str() == "argon2id")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_characters() {
        assert!(Password::parse("abcd").is_ok());
        assert!(Password::parse("pässwörd with spaces").is_ok());
        assert!(Password::parse(&"é".repeat(128)).is_ok());
        for bad in ["", "abc", "a\nbcd", "ab\u{0}cd", &"x".repeat(129)] {
            assert_eq!(Password::parse(bad), Err(PasswordError::Invalid), "{bad:?}");
        }
        assert_eq!(
            format!("{:?}", Password::parse("secret").unwrap()),
            "Password(..)"
        );
    }

    #[test]
    fn hash_is_argon2id_with_the_parameters_and_verifies() {
        let p = Password::parse("correct horse").unwrap();
        let h = p.hash().unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(!h.contains("correct horse"));
        assert!(is_hash(&h));
        assert!(verify(&h, "correct horse"));
        assert!(!verify(&h, "correct horsE"));
        assert!(!verify(&h, ""));
        assert_ne!(h, p.hash().unwrap(), "a fresh salt each time");
        assert!(!verify("not a hash", "x"));
        assert!(!is_hash("$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA"));
    }
}
