//! Snowflake key-pair sign-in: an RS256 JWT signed with the user's RSA private key, whose
//! issuer names the public key by its SHA-256 fingerprint (`SHA256:` + base64 of the
//! digest of the DER SubjectPublicKeyInfo), as Snowflake's key-pair authentication asks.
//! Nothing here ever puts key material in an error.

use anyhow::{Result, bail};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// The parsed private key of a key-pair login.
pub struct SigningKey {
    key: RsaKeyPair,
    /// `SHA256:<base64>` of the public key, what `DESC USER` shows as `RSA_PUBLIC_KEY_FP`.
    pub fingerprint: String,
}

impl SigningKey {
    /// Reads an unencrypted PEM key (`BEGIN PRIVATE KEY` or `BEGIN RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<Self> {
        let pem = pem.trim();
        if pem.contains("ENCRYPTED") {
            bail!(
                "private_key: encrypted keys are not supported; give the key unencrypted (openssl pkcs8 -topk8 -nocrypt -in key.p8)"
            );
        }
        let pkcs1 = pem.contains("BEGIN RSA PRIVATE KEY");
        let body: String = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .flat_map(|l| l.trim().chars())
            .collect();
        let Ok(der) = STANDARD.decode(body.as_bytes()) else {
            bail!(
                "private_key: not a PEM key; expected the text from -----BEGIN PRIVATE KEY----- to its END line"
            );
        };
        let key = if pkcs1 {
            RsaKeyPair::from_der(&der)
        } else {
            RsaKeyPair::from_pkcs8(&der)
        };
        let Ok(key) = key else {
            bail!(
                "private_key: not an RSA private key Snowflake accepts (an unencrypted PKCS#8 or PKCS#1 RSA key of 2048 bits or more)"
            );
        };
        let spki = key
            .public_key()
            .as_der()
            .map_err(|_| anyhow::anyhow!("private_key: its public key cannot be encoded"))?;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki.as_ref());
        let fingerprint = format!("SHA256:{}", STANDARD.encode(digest.as_ref()));
        Ok(SigningKey { key, fingerprint })
    }

    /// The JWT for `account` (its locator or `org-account` name, before any region) and
    /// `user`, valid for an hour from `now` (seconds since the epoch).
    pub fn jwt(&self, account: &str, user: &str, now: u64) -> Result<String> {
        let account = account.split('.').next().unwrap_or_default().to_uppercase();
        let qualified = format!("{account}.{}", user.to_uppercase());
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = serde_json::json!({
            "iss": format!("{qualified}.{}", self.fingerprint),
            "sub": qualified,
            "iat": now,
            "exp": now + 3600,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes());
        let message = format!("{header}.{claims}");
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message.as_bytes(),
                &mut signature,
            )
            .map_err(|_| anyhow::anyhow!("private_key: signing the sign-in token failed"))?;
        Ok(format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

    fn pem_of(key: &RsaKeyPair) -> String {
        let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(key).unwrap();
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(der.as_ref())
        )
    }

    #[test]
    fn the_token_is_signed_by_the_key_and_names_its_fingerprint() {
        let generated = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let key = SigningKey::from_pem(&pem_of(&generated)).unwrap();
        let jwt = key
            .jwt("xy12345.us-east-2.aws", "loader", 1_700_000_000)
            .unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["sub"], "XY12345.LOADER");
        assert_eq!(
            claims["iss"],
            format!("XY12345.LOADER.{}", key.fingerprint).as_str()
        );
        assert_eq!(claims["exp"], 1_700_003_600u64);
        // The fingerprint is of the DER SubjectPublicKeyInfo, as Snowflake computes it.
        let spki = generated.public_key().as_der().unwrap();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki.as_ref());
        assert_eq!(
            key.fingerprint,
            format!("SHA256:{}", STANDARD.encode(digest.as_ref()))
        );
        // The signature verifies with the public key.
        let public =
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, generated.public_key().as_ref());
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        public
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .unwrap();
    }

    #[test]
    fn bad_keys_are_refused_without_showing_them() {
        for pem in [
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nQUJD\n-----END ENCRYPTED PRIVATE KEY-----",
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----",
            "not a key at all",
        ] {
            let err = SigningKey::from_pem(pem).err().unwrap().to_string();
            assert!(err.starts_with("private_key:"), "{err}");
            assert!(!err.contains("c2VjcmV0"), "{err}");
        }
    }
}
