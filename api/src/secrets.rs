//! Tokens, API keys and password hashes. Tokens and keys are 256 random
//! bits, so a plain SHA-256 is enough to store them; passwords are chosen by
//! people, so they get argon2id.

use std::sync::OnceLock;

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::SaltString,
};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::PasswordHashing;

/// Prefix of login session tokens.
pub const SESSION_TOKEN_PREFIX: &str = "ops_";
/// Prefix of integrators' API keys.
pub const API_KEY_PREFIX: &str = "opk_";

/// A new random secret: `prefix` then 64 hex digits.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let mut out = String::with_capacity(prefix.len() + 64);
    out.push_str(prefix);
    for byte in bytes {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// SHA-256 of a secret, hex: what the database and Redis keys hold.
pub fn hash_secret(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn argon2(cost: &PasswordHashing) -> Argon2<'static> {
    let params = Params::new(cost.memory_kib, cost.iterations, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password (CPU-heavy: runs on the blocking pool).
pub async fn hash_password(password: String, cost: PasswordHashing) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
        argon2(&cost)
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
    })
    .await?
}

/// Checks a password against a stored hash (CPU-heavy: runs on the blocking
/// pool). With no stored hash (unknown account) it still does the work, so
/// timing does not reveal which emails exist.
pub async fn verify_password(
    password: String,
    stored: Option<String>,
    cost: PasswordHashing,
) -> bool {
    tokio::task::spawn_blocking(move || {
        let stored = stored.unwrap_or_else(|| dummy_hash(&cost).to_owned());
        match PasswordHash::new(&stored) {
            // The parameters come from the stored hash, so hashes made with
            // an older cost keep verifying.
            Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
            Err(_) => false,
        }
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash(cost: &PasswordHashing) -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::encode_b64(b"outpost-dummy-salt").expect("static salt encodes");
        argon2(cost)
            .hash_password(b"not a real password", &salt)
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_hash_stably() {
        let a = new_secret(SESSION_TOKEN_PREFIX);
        let b = new_secret(SESSION_TOKEN_PREFIX);
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert_ne!(hash_secret(&a), hash_secret(&b));
    }

    #[tokio::test]
    async fn passwords_verify_only_when_right() {
        let cost = PasswordHashing { memory_kib: 1024, iterations: 1 };
        let hash = hash_password("correct horse".into(), cost.clone()).await.unwrap();
        assert!(!hash.contains("correct horse"));
        assert!(verify_password("correct horse".into(), Some(hash.clone()), cost.clone()).await);
        assert!(!verify_password("wrong horse".into(), Some(hash), cost.clone()).await);
        assert!(!verify_password("correct horse".into(), None, cost).await);
    }
}
