//! Encryption of secrets at rest: AES-256-GCM with a key id prefix, each ciphertext bound
//! to the place it is kept.
//!
//! `HAKOBU_SECRET_KEY` holds one or more keys, `id:base64-of-32-bytes`, comma-separated.
//! The first encrypts; all decrypt. To rotate, put a new key first, run
//! `hakobu rotate-secrets`, then drop the old key.
//!
//! A stored secret reads `v2:id:base64(nonce || ciphertext)`, sealed with the associated
//! data of its [`SecretSlot`] (table, organization, row, field): a ciphertext copied into
//! another row, field or organization (by a bug, a restore gone wrong or someone with
//! write access to the database) does not decrypt there. Secrets sealed before that
//! binding (`id:base64(...)`) are bound at the next start (`services::secret_rotation`)
//! and refused until then.

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hakobu_core::ids::{ConnectionId, DestinationId, OrganizationId};
use uuid::Uuid;

/// Where a sealed secret is kept; the ciphertext opens only there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSlot {
    associated_data: String,
}

impl SecretSlot {
    /// A secret field of a connection (`password`, `secret_access_key`, ...).
    pub fn connection(organization: OrganizationId, connection: ConnectionId, field: &str) -> Self {
        Self::new("connections", organization, connection.0, field)
    }

    /// A secret of a notification destination (`webhook_url`, `headers.NAME`).
    pub fn destination(
        organization: OrganizationId,
        destination: DestinationId,
        field: &str,
    ) -> Self {
        Self::new(
            "notification_destinations",
            organization,
            destination.0,
            field,
        )
    }

    /// A secret kept in `table`, for code that walks tables by name (rotation).
    pub fn new(table: &str, organization: OrganizationId, row: Uuid, field: &str) -> Self {
        SecretSlot {
            associated_data: format!("hakobu/{table}/{}/{row}/{field}", organization.0),
        }
    }
}

/// A stored secret's parts: whether it is bound to a slot, its key id, the sealed bytes.
fn parse_stored(stored: &str) -> anyhow::Result<(bool, &str, &str)> {
    match stored.split(':').collect::<Vec<_>>().as_slice() {
        ["v2", id, b64] => Ok((true, id, b64)),
        [id, b64] => Ok((false, id, b64)),
        _ => bail!("a stored secret is not in a known format"),
    }
}

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

    /// Seals `plaintext` under the newest key, bound to `slot`.
    pub fn encrypt(&self, plaintext: &str, slot: &SecretSlot) -> anyhow::Result<String> {
        let (id, cipher) = &self.keys[0];
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: slot.associated_data.as_bytes(),
        };
        let ciphertext = cipher
            .encrypt(&nonce, payload)
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(format!("v2:{id}:{}", STANDARD.encode(sealed)))
    }

    /// Opens a secret sealed for `slot`; one sealed elsewhere, or before secrets were
    /// bound to their place, is refused.
    pub fn decrypt(&self, stored: &str, slot: &SecretSlot) -> anyhow::Result<String> {
        let (bound, id, b64) = parse_stored(stored)?;
        if !bound {
            bail!(
                "a stored secret predates binding secrets to their place; restart Hakobu or run `hakobu rotate-secrets` to bind it"
            );
        }
        self.open(id, b64, slot.associated_data.as_bytes())
    }

    /// `stored` sealed again under the newest key and bound to `slot`; `None` when it
    /// already is. Opens unbound (older) secrets too: this is how they become bound.
    pub fn reseal(&self, stored: &str, slot: &SecretSlot) -> anyhow::Result<Option<String>> {
        let (bound, id, b64) = parse_stored(stored)?;
        if bound && id == self.keys[0].0 {
            return Ok(None);
        }
        let aad = if bound {
            slot.associated_data.as_bytes()
        } else {
            &[]
        };
        let plain = self.open(id, b64, aad)?;
        self.encrypt(&plain, slot).map(Some)
    }

    /// Whether `stored` was sealed before secrets were bound to their place.
    pub fn is_unbound(stored: &str) -> bool {
        parse_stored(stored).is_ok_and(|(bound, _, _)| !bound)
    }

    fn open(&self, id: &str, b64: &str, aad: &[u8]) -> anyhow::Result<String> {
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
        let payload = Payload {
            msg: ciphertext,
            aad,
        };
        let plaintext = cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| {
                anyhow::anyhow!(
                    "a stored secret does not decrypt with key {id} here (altered, or copied from another place)"
                )
            })?;
        String::from_utf8(plaintext).context("a stored secret is not UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(field: &str) -> SecretSlot {
        SecretSlot::connection(
            OrganizationId(Uuid::from_u128(1)),
            ConnectionId(Uuid::from_u128(2)),
            field,
        )
    }

    #[test]
    fn round_trip_rotation_and_tampering() {
        let old = SecretBox::generate_spec("k1");
        let new = SecretBox::generate_spec("k2");
        let before = SecretBox::from_spec(&old).unwrap();
        let here = slot("password");
        let sealed = before.encrypt("hunter2 パスワード", &here).unwrap();
        assert!(sealed.starts_with("v2:k1:"));
        assert!(!sealed.contains("hunter2"));
        assert_ne!(
            before.encrypt("x", &here).unwrap(),
            before.encrypt("x", &here).unwrap(),
            "fresh nonce each time"
        );

        let rotated = SecretBox::from_spec(&format!("{new},{old}")).unwrap();
        assert_eq!(
            rotated.decrypt(&sealed, &here).unwrap(),
            "hunter2 パスワード"
        );
        assert!(rotated.encrypt("y", &here).unwrap().starts_with("v2:k2:"));
        let resealed = rotated.reseal(&sealed, &here).unwrap().expect("under k1");
        assert!(resealed.starts_with("v2:k2:"));
        assert_eq!(
            rotated.reseal(&resealed, &here).unwrap(),
            None,
            "idempotent"
        );

        let only_new = SecretBox::from_spec(&new).unwrap();
        assert!(
            only_new
                .decrypt(&sealed, &here)
                .unwrap_err()
                .to_string()
                .contains("no key k1")
        );
        assert_eq!(
            only_new.decrypt(&resealed, &here).unwrap(),
            "hunter2 パスワード"
        );

        let mut tampered = sealed.clone();
        tampered.replace_range(tampered.len() - 4.., "AAAA");
        assert!(before.decrypt(&tampered, &here).is_err());
    }

    #[test]
    fn a_ciphertext_opens_only_where_it_was_sealed() {
        let spec = SecretBox::generate_spec("k1");
        let secrets = SecretBox::from_spec(&spec).unwrap();
        // Resealing under a newer key has to open it first, in the slot it is given.
        let rotating =
            SecretBox::from_spec(&format!("{},{spec}", SecretBox::generate_spec("k2"))).unwrap();
        let sealed = secrets.encrypt("hunter2", &slot("password")).unwrap();
        let elsewhere = [
            slot("secret_access_key"),
            SecretSlot::connection(
                OrganizationId(Uuid::from_u128(9)),
                ConnectionId(Uuid::from_u128(2)),
                "password",
            ),
            SecretSlot::connection(
                OrganizationId(Uuid::from_u128(1)),
                ConnectionId(Uuid::from_u128(3)),
                "password",
            ),
            SecretSlot::destination(
                OrganizationId(Uuid::from_u128(1)),
                DestinationId(Uuid::from_u128(2)),
                "password",
            ),
        ];
        for other in &elsewhere {
            let refused = secrets.decrypt(&sealed, other).unwrap_err().to_string();
            assert!(refused.contains("copied from another place"), "{refused}");
            assert!(rotating.reseal(&sealed, other).is_err());
        }
    }

    #[test]
    fn unbound_secrets_are_refused_until_resealed() {
        let spec = SecretBox::generate_spec("k1");
        let secrets = SecretBox::from_spec(&spec).unwrap();
        // What the previous version stored: `id:base64(nonce || ciphertext)`, no AAD.
        let (_, cipher) = &secrets.keys[0];
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let mut bytes = nonce.to_vec();
        bytes.extend(cipher.encrypt(&nonce, b"old secret".as_ref()).unwrap());
        let legacy = format!("k1:{}", STANDARD.encode(bytes));
        assert!(SecretBox::is_unbound(&legacy));
        let refused = secrets.decrypt(&legacy, &slot("password")).unwrap_err();
        assert!(refused.to_string().contains("rotate-secrets"), "{refused}");
        let bound = secrets.reseal(&legacy, &slot("password")).unwrap().unwrap();
        assert!(!SecretBox::is_unbound(&bound));
        assert_eq!(
            secrets.decrypt(&bound, &slot("password")).unwrap(),
            "old secret"
        );
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
