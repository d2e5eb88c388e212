//! Snowflake's client-side encryption of stage files, byte for byte what its own connectors
//! do (snowflake-connector-python's `SnowflakeEncryptionUtil.encrypt_stream`, the JDBC
//! driver's `EncryptionProvider`), so Snowflake decrypts what Hakobu uploads:
//! - a random file key as long as the stage's master key (`queryStageMasterKey`, 128, 192 or
//!   256 bits) and a random 16-byte IV;
//! - the file in AES-CBC with the file key, PKCS#7 padded (a whole block of padding when
//!   the file fills its last block, an empty file included);
//! - the file key in AES-ECB with the master key, PKCS#7 padded too (a 32-byte key becomes
//!   48 bytes), as the connectors wrap it;
//! - the wrapped key, the IV and the "material description" (`queryId`, `smkId` and the key
//!   size in bits) stored beside the object as its metadata: S3 user metadata `x-amz-key`,
//!   `x-amz-iv`, `x-amz-matdesc`; on GCS `encryptiondata` (a JSON document) and `matdesc`.
//!
//! Random bytes come from aws-lc-rs (the operating system's generator). The master key is a
//! [`Secret`]: it never appears in an error or a log line.

use anyhow::{Context, Result, anyhow, bail};
use aws_lc_rs::cipher::{
    AES_128, AES_192, AES_256, Algorithm, DecryptionContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hakobu_core::config::Secret;

/// AES's block size: the IV's length and the unit of padding.
pub const BLOCK: usize = 16;

/// The `encryptionMaterial` of a `PUT` answer: the stage's master key for this statement.
#[derive(Debug, Clone)]
pub struct EncryptionMaterial {
    /// `queryStageMasterKey`: the AES key, base64.
    pub master_key: Secret,
    /// `queryId`: the `PUT` statement's query id.
    pub query_id: String,
    /// `smkId`: the stage master key's id, as text (Snowflake sends a number).
    pub smk_id: String,
}

impl EncryptionMaterial {
    /// Reads `data.encryptionMaterial` of a `PUT` answer; `None` when the stage asks for no
    /// client-side encryption (no material, or null). An error names the field, never its
    /// value.
    pub fn from_answer(material: &serde_json::Value) -> Result<Option<Self>> {
        // A `GET` answers a list of materials; a `PUT` one object (some servers wrap it).
        let material = match material {
            serde_json::Value::Null => return Ok(None),
            serde_json::Value::Array(items) => match items.first() {
                None | Some(serde_json::Value::Null) => return Ok(None),
                Some(first) => first,
            },
            other => other,
        };
        let master_key = material["queryStageMasterKey"]
            .as_str()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                anyhow!("Snowflake's PUT answer has no encryptionMaterial.queryStageMasterKey")
            })?;
        let query_id = material["queryId"].as_str().unwrap_or_default().to_owned();
        let smk_id = match &material["smkId"] {
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) => s.clone(),
            _ => bail!("Snowflake's PUT answer has no encryptionMaterial.smkId"),
        };
        let m = EncryptionMaterial {
            master_key: Secret(master_key.to_owned()),
            query_id,
            smk_id,
        };
        m.key()?;
        Ok(Some(m))
    }

    /// The master key's bytes, checked to be an AES key.
    fn key(&self) -> Result<Vec<u8>> {
        // The decode error would quote nothing of the key, but say less anyway.
        let key = B64.decode(self.master_key.expose()).map_err(|_| {
            anyhow!("Snowflake's encryptionMaterial.queryStageMasterKey is not base64")
        })?;
        algorithm(key.len())?;
        Ok(key)
    }
}

/// The AES variant of a key of `len` bytes.
fn algorithm(len: usize) -> Result<&'static Algorithm> {
    Ok(match len {
        16 => &AES_128,
        24 => &AES_192,
        32 => &AES_256,
        n => bail!(
            "Snowflake's stage master key is {} bits long; an AES key of 128, 192 or 256 bits is expected",
            n * 8
        ),
    })
}

/// A file encrypted for a stage, and what Snowflake needs to decrypt it.
pub struct Encrypted {
    /// The encrypted file.
    pub body: Vec<u8>,
    /// The file key wrapped with the master key, base64 (`x-amz-key`).
    pub key: String,
    /// The IV, base64 (`x-amz-iv`).
    pub iv: String,
    /// The material description JSON (`x-amz-matdesc`), see [`matdesc`].
    pub matdesc: String,
}

/// Encrypts `plain` for the stage of `material`.
pub fn encrypt(material: &EncryptionMaterial, mut plain: Vec<u8>) -> Result<Encrypted> {
    let master = material.key()?;
    let alg = algorithm(master.len())?;
    let mut file_key = vec![0u8; master.len()];
    aws_lc_rs::rand::fill(&mut file_key).map_err(|_| anyhow!("no random bytes for a file key"))?;
    let unspecified = |what: &str| anyhow!("encrypting the stage file failed ({what})");
    // aws-lc-rs draws the IV from the same generator (`encrypt`, not `less_safe_encrypt`).
    let cbc = PaddedBlockEncryptingKey::cbc_pkcs7(
        UnboundCipherKey::new(alg, &file_key).map_err(|_| unspecified("file key"))?,
    )
    .map_err(|_| unspecified("file key"))?;
    let context = cbc.encrypt(&mut plain).map_err(|_| unspecified("file"))?;
    let iv: &[u8] = (&context).try_into().map_err(|_| unspecified("IV"))?;
    let iv = B64.encode(iv);
    let ecb = PaddedBlockEncryptingKey::ecb_pkcs7(
        UnboundCipherKey::new(alg, &master).map_err(|_| unspecified("master key"))?,
    )
    .map_err(|_| unspecified("master key"))?;
    let mut wrapped = file_key;
    ecb.encrypt(&mut wrapped)
        .map_err(|_| unspecified("file key wrap"))?;
    Ok(Encrypted {
        body: plain,
        key: B64.encode(&wrapped),
        iv,
        matdesc: matdesc(material, master.len()),
    })
}

/// Decrypts a stage file from its metadata (`x-amz-key`, `x-amz-iv`): the inverse of
/// [`encrypt`], as Snowflake's connectors `GET` a file. Hakobu downloads nothing from
/// stages; this proves the layout against files the official connector encrypted.
pub fn decrypt(
    material: &EncryptionMaterial,
    key: &str,
    iv: &str,
    mut body: Vec<u8>,
) -> Result<Vec<u8>> {
    let master = material.key()?;
    let alg = algorithm(master.len())?;
    let wrong = || anyhow!("the stage file does not decrypt with this material");
    let mut file_key = B64.decode(key).context("x-amz-key is not base64")?;
    let ecb = PaddedBlockDecryptingKey::ecb_pkcs7(
        UnboundCipherKey::new(alg, &master).map_err(|_| wrong())?,
    )
    .map_err(|_| wrong())?;
    let file_key = ecb
        .decrypt(&mut file_key, DecryptionContext::None)
        .map_err(|_| wrong())?
        .to_vec();
    let iv: [u8; BLOCK] = B64
        .decode(iv)
        .context("x-amz-iv is not base64")?
        .try_into()
        .map_err(|_| anyhow!("x-amz-iv is not {BLOCK} bytes"))?;
    let cbc = PaddedBlockDecryptingKey::cbc_pkcs7(
        UnboundCipherKey::new(algorithm(file_key.len())?, &file_key).map_err(|_| wrong())?,
    )
    .map_err(|_| wrong())?;
    let len = cbc
        .decrypt(&mut body, DecryptionContext::Iv128(iv.into()))
        .map_err(|_| wrong())?
        .len();
    body.truncate(len);
    Ok(body)
}

/// The material description, as the Python connector writes it (`matdesc_to_unicode`):
/// compact JSON, `queryId`, `smkId` and `keySize` (bits) in this order, all strings.
pub fn matdesc(material: &EncryptionMaterial, key_len: usize) -> String {
    let text = |s: &str| serde_json::Value::from(s).to_string();
    format!(
        "{{\"queryId\":{},\"smkId\":{},\"keySize\":{}}}",
        text(&material.query_id),
        text(&material.smk_id),
        text(&(key_len * 8).to_string())
    )
}

/// The `x-goog-meta-encryptiondata` header of a GCS upload, as the Python connector's
/// `SnowflakeGCSRestClient` writes it (`json.dumps` with its default separators; the
/// algorithm names are the connector's constants, whatever the key size).
pub fn gcs_encryption_data(e: &Encrypted) -> String {
    // `key` and `iv` are base64: nothing in them needs escaping.
    format!(
        "{{\"EncryptionMode\": \"FullBlob\", \"WrappedContentKey\": {{\"KeyId\": \"symmKey1\", \"EncryptedKey\": \"{}\", \"Algorithm\": \"AES_CBC_256\"}}, \"EncryptionAgent\": {{\"Protocol\": \"1.0\", \"EncryptionAlgorithm\": \"AES_CBC_256\"}}, \"ContentEncryptionIV\": \"{}\", \"KeyWrappingMetadata\": {{\"EncryptionLibrary\": \"Java 5.3.0\"}}}}",
        e.key, e.iv
    )
}

/// `sfc-digest`: the SHA-256 of the file before encryption, base64, which Snowflake keeps
/// beside every staged file (it compares it to skip uploading a file it already has).
pub fn digest(plain: &[u8]) -> String {
    B64.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, plain))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn material(key_len: usize) -> EncryptionMaterial {
        let key: Vec<u8> = (0..key_len as u8).collect();
        EncryptionMaterial {
            master_key: Secret(B64.encode(key)),
            query_id: "01b2c3d4-0000-1111-0000-000123456789".to_owned(),
            smk_id: "2734913".to_owned(),
        }
    }

    #[test]
    fn sizes_padding_and_round_trip() {
        for key_len in [16, 24, 32] {
            let m = material(key_len);
            // Empty, less than a block, exactly a block, more than a block.
            for len in [0usize, 1, 15, 16, 17, 100_000] {
                let plain: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
                let e = encrypt(&m, plain.clone()).unwrap();
                // PKCS#7 always adds 1..=16 bytes: a full block when the file fills its last.
                assert_eq!(e.body.len(), (len / BLOCK + 1) * BLOCK, "{key_len}/{len}");
                assert_eq!(B64.decode(&e.iv).unwrap().len(), BLOCK);
                // The file key (as long as the master key) wrapped in ECB with padding.
                let wrapped = B64.decode(&e.key).unwrap();
                assert_eq!(wrapped.len(), (key_len / BLOCK + 1) * BLOCK, "{key_len}");
                // (A byte or two may match by chance; a block cannot, but for 2^-128.)
                if len >= BLOCK {
                    assert_ne!(&e.body[..len], &plain[..]);
                }
                assert_eq!(decrypt(&m, &e.key, &e.iv, e.body).unwrap(), plain);
            }
        }
    }

    #[test]
    fn each_file_has_its_own_key_and_iv() {
        let m = material(32);
        let a = encrypt(&m, b"same".to_vec()).unwrap();
        let b = encrypt(&m, b"same".to_vec()).unwrap();
        assert_ne!(a.key, b.key);
        assert_ne!(a.iv, b.iv);
        assert_ne!(a.body, b.body);
    }

    #[test]
    fn another_master_key_does_not_decrypt() {
        let e = encrypt(&material(32), b"rows".to_vec()).unwrap();
        let mut other = material(32);
        other.master_key = Secret(B64.encode([9u8; 32]));
        assert!(decrypt(&other, &e.key, &e.iv, e.body).is_err());
    }

    #[test]
    fn metadata_json_is_the_connectors() {
        let m = material(32);
        assert_eq!(
            matdesc(&m, 32),
            r#"{"queryId":"01b2c3d4-0000-1111-0000-000123456789","smkId":"2734913","keySize":"256"}"#
        );
        assert_eq!(
            matdesc(&m, 16),
            r#"{"queryId":"01b2c3d4-0000-1111-0000-000123456789","smkId":"2734913","keySize":"128"}"#
        );
        let e = Encrypted {
            body: vec![],
            key: "S0VZ".to_owned(),
            iv: "SVY=".to_owned(),
            matdesc: String::new(),
        };
        let data = gcs_encryption_data(&e);
        assert_eq!(
            data,
            r#"{"EncryptionMode": "FullBlob", "WrappedContentKey": {"KeyId": "symmKey1", "EncryptedKey": "S0VZ", "Algorithm": "AES_CBC_256"}, "EncryptionAgent": {"Protocol": "1.0", "EncryptionAlgorithm": "AES_CBC_256"}, "ContentEncryptionIV": "SVY=", "KeyWrappingMetadata": {"EncryptionLibrary": "Java 5.3.0"}}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&data).unwrap();
        assert_eq!(parsed["WrappedContentKey"]["EncryptedKey"], "S0VZ");
        // SHA-256 of "abc", base64.
        assert_eq!(
            digest(b"abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }

    #[test]
    fn material_from_an_answer() {
        let answer = serde_json::json!({
            "queryStageMasterKey": B64.encode([1u8; 32]),
            "queryId": "q-1",
            "smkId": 42,
        });
        let m = EncryptionMaterial::from_answer(&answer).unwrap().unwrap();
        assert_eq!((m.query_id.as_str(), m.smk_id.as_str()), ("q-1", "42"));
        assert!(
            EncryptionMaterial::from_answer(&serde_json::Value::Null)
                .unwrap()
                .is_none()
        );
        let listed = serde_json::json!([answer]);
        assert!(EncryptionMaterial::from_answer(&listed).unwrap().is_some());
        // A key of the wrong size is refused without quoting it.
        let short = B64.encode([7u8; 20]);
        let err = EncryptionMaterial::from_answer(&serde_json::json!({
            "queryStageMasterKey": short, "queryId": "q", "smkId": 1,
        }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("160 bits"), "{err}");
        assert!(!err.contains(&short), "{err}");
    }
}
