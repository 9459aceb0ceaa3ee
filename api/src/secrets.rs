//! Tokens, API keys and password hashes. Tokens and keys are 256 random
//! bits, so a plain SHA-256 is enough to store them; passwords are chosen by
//! people, so they get argon2id.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, Version,
    password_hash::{Output, ParamsString, SaltString},
};
use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

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

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum HashingError {
    /// Every hashing slot stayed busy for `HASHING_WAIT`: the server is
    /// under a burst of logins; the client should retry shortly.
    #[error("password hashing is busy")]
    Busy,
    /// The hash could not be computed (bad parameters).
    #[error("hashing failed: {0}")]
    Failed(String),
}

/// How long a login waits for a hashing slot before it is answered 503.
const HASHING_WAIT: Duration = Duration::from_secs(10);

/// Slots for password hashing. Each argon2id hash holds its whole memory
/// cost (19 MiB in production) while it runs, and requests are otherwise
/// unbounded: without a bound, a burst of logins grew the process by a
/// gigabyte. With one slot per core (at most four), hashing holds at most
/// four memory blocks at a time.
fn hashing_slots() -> &'static Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
        Arc::new(Semaphore::new(cores.clamp(1, 4)))
    })
}

/// Runs `work` on the blocking pool in a hashing slot, with memory blocks
/// of its own.
async fn in_hashing_slot<T: Send + 'static>(
    work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
) -> Result<T, HashingError> {
    let slot = tokio::time::timeout(HASHING_WAIT, hashing_slots().clone().acquire_owned())
        .await
        .map_err(|_| HashingError::Busy)?
        .map_err(|_| HashingError::Busy)?;
    tokio::task::spawn_blocking(move || {
        // Its own blocks, freed when it ends: the allocator gives them back
        // to the system, where a pool of spare blocks held 19 MiB per slot
        // for good.
        let mut memory = Vec::new();
        let out = work(&mut memory);
        drop(memory);
        drop(slot);
        out
    })
    .await
    .map_err(|e| HashingError::Failed(e.to_string()))
}

/// The argon2id output of `password` with `salt` under `params`, computed in
/// `memory` (grown to the cost if it is smaller).
fn argon2id_output(
    password: &[u8],
    salt: &[u8],
    algorithm: Algorithm,
    version: Version,
    params: Params,
    output_len: usize,
    memory: &mut Vec<Block>,
) -> Result<Vec<u8>, HashingError> {
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let mut out = vec![0u8; output_len];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, &mut out, &mut memory[..])
        .map_err(|e| HashingError::Failed(e.to_string()))?;
    Ok(out)
}

/// Hashes a password as a PHC string (`$argon2id$v=19$m=…`), in a hashing
/// slot.
pub async fn hash_password(
    password: String,
    cost: PasswordHashing,
) -> Result<String, HashingError> {
    in_hashing_slot(move |memory| hash_in(&password, &cost, memory)).await?
}

fn hash_in(
    password: &str,
    cost: &PasswordHashing,
    memory: &mut Vec<Block>,
) -> Result<String, HashingError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let params = Params::new(cost.memory_kib, cost.iterations, 1, Some(OUTPUT_LEN))
        .map_err(|e| HashingError::Failed(e.to_string()))?;
    let out = argon2id_output(
        password.as_bytes(),
        &salt,
        Algorithm::Argon2id,
        Version::V0x13,
        params.clone(),
        OUTPUT_LEN,
        memory,
    )?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashingError::Failed(e.to_string()))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| HashingError::Failed(e.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| HashingError::Failed(e.to_string()))?),
    };
    Ok(hash.to_string())
}

/// The most memory a stored hash may ask verification for, in KiB.
const MAX_STORED_MEMORY_KIB: u32 = 1024 * 1024;

/// The length of the hashes this server writes.
const OUTPUT_LEN: usize = 32;

/// Checks a password against a stored hash, in a hashing slot. With no
/// stored hash (unknown account) it still does the work, so timing does not
/// reveal which emails exist. The parameters come from the stored hash, so
/// hashes made with an older cost keep verifying.
pub async fn verify_password(
    password: String,
    stored: Option<String>,
    cost: PasswordHashing,
) -> Result<bool, HashingError> {
    in_hashing_slot(move |memory| {
        let stored = match stored {
            Some(stored) => stored,
            None => dummy_hash(&cost, memory).to_owned(),
        };
        verify_in(&password, &stored, memory)
    })
    .await
}

fn verify_in(password: &str, stored: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    let (Ok(algorithm), Some(expected), Some(salt)) =
        (Algorithm::try_from(parsed.algorithm), parsed.hash, parsed.salt)
    else {
        return false;
    };
    let version = parsed.version.map(Version::try_from).transpose().ok().flatten();
    let Ok(params) = Params::try_from(&parsed) else { return false };
    // A stored hash asking for more than 1 GiB was not written by us; it
    // would take the memory from every login that checks it.
    if params.m_cost() > MAX_STORED_MEMORY_KIB {
        return false;
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else { return false };
    match argon2id_output(
        password.as_bytes(),
        salt,
        algorithm,
        version.unwrap_or_default(),
        params,
        expected.len(),
        memory,
    ) {
        // `Output`'s equality runs in constant time.
        Ok(out) => Output::new(&out).is_ok_and(|out| out == expected),
        Err(_) => false,
    }
}

fn dummy_hash(cost: &PasswordHashing, memory: &mut Vec<Block>) -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_in("not a real password", cost, memory).unwrap_or_default())
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
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
        let ok = |p: &str, h: Option<String>| verify_password(p.into(), h, cost.clone());
        assert!(ok("correct horse", Some(hash.clone())).await.unwrap());
        assert!(!ok("wrong horse", Some(hash.clone())).await.unwrap());
        assert!(!ok("correct horse", None).await.unwrap());
        assert!(!ok("correct horse", Some("$argon2id$garbage".into())).await.unwrap());
    }

    #[test]
    fn hashes_made_by_the_argon2_crate_itself_verify() {
        use argon2::PasswordHasher;
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let params = Params::new(1024, 2, 1, None).unwrap();
        let stored = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"old password", &salt)
            .unwrap()
            .to_string();
        let mut memory = Vec::new();
        assert!(verify_in("old password", &stored, &mut memory));
        assert!(!verify_in("new password", &stored, &mut memory));
    }
}
