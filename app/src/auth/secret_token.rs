//! Random bearer secrets (API tokens, invitation links) and how they are stored.
//!
//! A secret is shown once; the database keeps only its SHA-256, which is enough because
//! the secret has 256 bits of entropy (no need for a slow hash as with passwords).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix of personal API tokens, so they are recognisable in a leaked file or a scanner.
pub const API_TOKEN_PREFIX: &str = "hkb_";

/// A fresh secret: `prefix` + 32 random bytes in URL-safe base64.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// The part of a token shown in lists to tell tokens apart.
pub fn display_prefix(secret: &str) -> String {
    secret.chars().take(API_TOKEN_PREFIX.len() + 6).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_digest_stably() {
        let a = generate(API_TOKEN_PREFIX);
        let b = generate(API_TOKEN_PREFIX);
        assert_ne!(a, b);
        assert!(a.starts_with("hkb_"));
        assert_eq!(a.len(), 4 + 43);
        assert_eq!(digest(&a), digest(&a));
        assert_ne!(digest(&a), digest(&b));
        assert_eq!(display_prefix(&a).len(), 10);
    }
}
