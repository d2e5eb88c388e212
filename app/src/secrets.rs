//! Encryption of connection secrets at rest: AES-256-GCM with a key id prefix.
//!
//! `HAKOBU_SECRET_KEY` holds one or more keys, `id:base64-of-32-bytes`, comma-separated.
//! The first encrypts; all decrypt. To rotate, put a new key first and keep the old one
//! until every secret has been re-saved. A stored secret reads `id:base64(nonce || ciphertext)`.

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

#[derive(Clone)]
pub struct SecretBox {
    /// `(key id, cipher)`, the encrypting key first.
    keys: Vec<(String, Aes256Gcm)>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        write!(f, "SecretBox(key ids {ids:?})")
    }
}

impl SecretBox {
    /// Parses `HAKOBU_SECRET_KEY`'s value.
    pub fn from_spec(spec: &str) -> anyhow::Result<SecretBox> {
        let mut keys = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, b64) = part
                .split_once(':')
                .context("HAKOBU_SECRET_KEY must look like `k1:<base64 of 32 random bytes>`")?;
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                bail!("HAKOBU_SECRET_KEY: key id {id:?} must be letters, digits, _ or -");
            }
            let bytes = STANDARD
                .decode(b64)
                .with_context(|| format!("HAKOBU_SECRET_KEY: key {id} is not valid base64"))?;
            if bytes.len() != 32 {
                bail!(
                    "HAKOBU_SECRET_KEY: key {id} must be 32 bytes, not {}",
                    bytes.len()
                );
            }
            // 32 random bytes hold ~30 distinct values; a key of a few repeated bytes is a
            // placeholder from an example, and anyone who read the example can decrypt.
            let distinct = bytes.iter().collect::<std::collections::HashSet<_>>().len();
            if distinct < 16 {
                bail!(
                    "HAKOBU_SECRET_KEY: key {id} is not random (only {distinct} different bytes); generate one with `echo {id}:$(head -c 32 /dev/urandom | base64)`"
                );
            }
            if keys.iter().any(|(k, _)| k == id) {
                bail!("HAKOBU_SECRET_KEY: key id {id} appears twice");
            }
            keys.push((
                id.to_owned(),
                Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
            ));
        }
        if keys.is_empty() {
            bail!("HAKOBU_SECRET_KEY holds no key");
        }
        Ok(SecretBox { keys })
    }

    /// A fresh random key spec, for `make run` and tests.
    pub fn generate_spec(id: &str) -> String {
        let key = Aes256Gcm::generate_key(OsRng);
        format!("{id}:{}", STANDARD.encode(key))
    }

    pub fn encrypt(&self, plaintext: &str) -> anyhow::Result<String> {
        let (id, cipher) = &self.keys[0];
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(format!("{id}:{}", STANDARD.encode(sealed)))
    }

    pub fn decrypt(&self, stored: &str) -> anyhow::Result<String> {
        let (id, b64) = stored
            .split_once(':')
            .context("a stored secret has no key id")?;
        let (_, cipher) = self.keys.iter().find(|(k, _)| k == id).with_context(|| {
            format!("no key {id} in HAKOBU_SECRET_KEY to decrypt a stored secret")
        })?;
        let sealed = STANDARD
            .decode(b64)
            .context("a stored secret is not base64")?;
        if sealed.len() < 12 {
            bail!("a stored secret is truncated");
        }
        let (nonce, ciphertext) = sealed.split_at(12);
        let plaintext = cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| anyhow::anyhow!("a stored secret does not decrypt with key {id}"))?;
        String::from_utf8(plaintext).context("a stored secret is not UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_rotation_and_tampering() {
        let old = SecretBox::generate_spec("k1");
        let new = SecretBox::generate_spec("k2");
        let before = SecretBox::from_spec(&old).unwrap();
        let sealed = before.encrypt("hunter2 パスワード").unwrap();
        assert!(sealed.starts_with("k1:"));
        assert!(!sealed.contains("hunter2"));
        assert_ne!(
            before.encrypt("x").unwrap(),
            before.encrypt("x").unwrap(),
            "fresh nonce each time"
        );

        let rotated = SecretBox::from_spec(&format!("{new},{old}")).unwrap();
        assert_eq!(rotated.decrypt(&sealed).unwrap(), "hunter2 パスワード");
        assert!(rotated.encrypt("y").unwrap().starts_with("k2:"));

        let only_new = SecretBox::from_spec(&new).unwrap();
        assert!(
            only_new
                .decrypt(&sealed)
                .unwrap_err()
                .to_string()
                .contains("no key k1")
        );

        let mut tampered = sealed.clone();
        tampered.replace_range(tampered.len() - 4.., "AAAA");
        assert!(before.decrypt(&tampered).is_err());
    }

    #[test]
    fn bad_specs_are_explained() {
        assert!(SecretBox::from_spec("").is_err());
        assert!(
            SecretBox::from_spec("nokey")
                .unwrap_err()
                .to_string()
                .contains("k1:")
        );
        assert!(
            SecretBox::from_spec("k1:c2hvcnQ=")
                .unwrap_err()
                .to_string()
                .contains("32 bytes")
        );
        let dup = SecretBox::generate_spec("k1");
        assert!(SecretBox::from_spec(&format!("{dup},{dup}")).is_err());
        // The zero key the old docker-compose.yml shipped.
        let zeros = SecretBox::from_spec("k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
            .unwrap_err()
            .to_string();
        assert!(zeros.contains("not random"), "{zeros}");
    }
}
