//! Passphrase-protected private keys: PKCS#8 `ENCRYPTED PRIVATE KEY` with PBES2 (RFC 8018), read
//! and written with aws-lc, the crate's one crypto backend. The `pkcs8` and `pkcs5` crates only
//! parse and encode the ASN.1; every derivation and cipher is aws-lc's: PBKDF2 and AES-CBC
//! through aws-lc-rs, scrypt through aws-lc's `EVP_PBE_scrypt` (aws-lc-rs has no scrypt).
//!
//! What is read: PBES2 with PBKDF2 (HMAC-SHA1, -SHA256, -SHA384, -SHA512) or scrypt, and
//! AES-128, -192 or -256 in CBC mode: what `openssl genpkey -aes-256-cbc`, `openssl pkcs8
//! -topk8 -v2 aes-256-cbc` (and `-scrypt`) and current OpenSSL write. What is written:
//! PBKDF2-HMAC-SHA256 and AES-256-CBC, with [`WRITE_ITERATIONS`].

use std::num::NonZeroU32;

use aws_lc_rs::cipher::{
    AES_128, AES_192, AES_256, Algorithm, DecryptionContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::pbkdf2;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use der::asn1::OctetString;
use der::{Decode, Encode, Reader};
use pkcs5::pbes2::{self, Kdf, Pbkdf2Params, Pbkdf2Prf};
use pkcs8::{EncryptedPrivateKeyInfoOwned, EncryptedPrivateKeyInfoRef};
use zeroize::Zeroizing;

/// PBKDF2-HMAC-SHA256 iterations of a key qs-jwt writes: OWASP's figure for PBKDF2-HMAC-SHA256
/// (Password Storage Cheat Sheet, 2023 and since). Every signing run with the key pays for
/// them: see docs/performance.md.
pub const WRITE_ITERATIONS: u32 = 600_000;

/// The most work a key file may ask for before qs-jwt refuses it: far beyond any tool's default
/// (OpenSSL writes 2,048 PBKDF2 iterations, scrypt N=16384), low enough that a file cannot keep
/// a run busy for hours or take the machine's memory.
const MAX_ITERATIONS: u32 = 10_000_000;
/// scrypt: at most 256 MiB (twice OWASP's N=2^17, r=8), and at most four times OWASP's work
/// in all (N·r·p = 2^22, about a second here), whatever the split between N, r and p.
const MAX_SCRYPT_MEMORY: usize = 256 << 20;
const MAX_SCRYPT_WORK: u128 = 1 << 22;

/// Why a key could not be decrypted, for `private.rs` to put into words with the key's origin.
#[derive(Debug, PartialEq, Eq)]
pub enum DecryptError {
    /// Decryption failed or gave no private key: the passphrase is wrong (or the file damaged,
    /// which cannot be told apart).
    WrongPassphrase,
    /// The structure is not PKCS#8 EncryptedPrivateKeyInfo.
    Malformed(String),
    /// A scheme qs-jwt does not read (PBES1, DES, AES-GCM, SHA-224, ...), described.
    Unsupported(String),
    /// The file asks for more work than qs-jwt allows.
    TooCostly(String),
}

/// Decrypts the DER of an `ENCRYPTED PRIVATE KEY` block into the DER of its `PRIVATE KEY`.
pub fn decrypt(der: &[u8], passphrase: &[u8]) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    let info = EncryptedPrivateKeyInfoRef::from_der(der).map_err(|e| match unread_scheme(der) {
        Some(what) => DecryptError::Unsupported(what),
        None => DecryptError::Malformed(e.to_string()),
    })?;
    let params = match &info.encryption_algorithm {
        pkcs5::EncryptionScheme::Pbes2(params) => params,
        // PBES1, or a scheme the pkcs5 crate adds later.
        _ => {
            return Err(DecryptError::Unsupported(
                "PBES1 (an old scheme with DES or RC2 and MD5 or SHA-1)".to_owned(),
            ));
        }
    };
    let (cipher, iv) = cipher(&params.encryption)?;
    // CBC ciphertext is whole blocks: anything else is a damaged file, told before the work of
    // the key derivation, and not blamed on the passphrase.
    let data = info.encrypted_data.as_bytes();
    if data.is_empty() || data.len() % 16 != 0 {
        return Err(DecryptError::Malformed(format!(
            "its encrypted data is {} bytes, not whole 16-byte blocks: the file is damaged",
            data.len()
        )));
    }
    let key = derive(&params.kdf, passphrase, params.encryption.key_size())?;
    let key = UnboundCipherKey::new(cipher, &key).map_err(|_| DecryptError::WrongPassphrase)?;
    let key =
        PaddedBlockDecryptingKey::cbc_pkcs7(key).map_err(|_| DecryptError::WrongPassphrase)?;
    let mut buffer = Zeroizing::new(info.encrypted_data.as_bytes().to_vec());
    let plain = key
        .decrypt(&mut buffer, DecryptionContext::Iv128(iv.into()))
        .map_err(|_| DecryptError::WrongPassphrase)?;
    // A wrong passphrase leaves valid padding one time in 256 or so: what comes out is then no
    // PKCS#8 structure, which says the same.
    if pkcs8::PrivateKeyInfoRef::from_der(plain).is_err() {
        return Err(DecryptError::WrongPassphrase);
    }
    Ok(Zeroizing::new(plain.to_vec()))
}

/// Encrypts the DER of a `PRIVATE KEY` (PKCS#8) into the DER of an `ENCRYPTED PRIVATE KEY`:
/// PBKDF2-HMAC-SHA256 with `iterations` and a random 16-byte salt, AES-256-CBC with a random
/// IV. `openssl pkey -passin` reads it.
pub fn encrypt(pkcs8_der: &[u8], passphrase: &[u8], iterations: u32) -> Result<Vec<u8>, String> {
    let random = SystemRandom::new();
    let mut salt = [0u8; 16];
    random
        .fill(&mut salt)
        .map_err(|_| "the system's random generator failed".to_owned())?;
    let pbkdf2 = Pbkdf2Params::hmac_sha256(iterations, &salt).map_err(|e| e.to_string())?;
    let mut key = Zeroizing::new([0u8; 32]);
    pbkdf2_derive(
        Pbkdf2Prf::HmacWithSha256,
        iterations,
        &salt,
        passphrase,
        &mut *key,
    )?;
    let key = UnboundCipherKey::new(&AES_256, &*key).map_err(|_| "AES-256 key".to_owned())?;
    let key = PaddedBlockEncryptingKey::cbc_pkcs7(key).map_err(|_| "AES-256-CBC".to_owned())?;
    // Room for the padding first: a buffer that grows would leave a copy of the key in freed
    // memory.
    let mut data = Vec::with_capacity(pkcs8_der.len() + 16);
    data.extend_from_slice(pkcs8_der);
    let context = key
        .encrypt(&mut data)
        .map_err(|_| "AES-256-CBC encryption failed".to_owned())?;
    let iv: &[u8] = (&context)
        .try_into()
        .map_err(|_| "AES-256-CBC gave no IV".to_owned())?;
    let iv: [u8; 16] = iv.try_into().map_err(|_| "an IV of 16 bytes".to_owned())?;
    let info = EncryptedPrivateKeyInfoOwned {
        encryption_algorithm: pkcs5::EncryptionScheme::Pbes2(pbes2::Parameters {
            kdf: Kdf::Pbkdf2(pbkdf2),
            encryption: pbes2::EncryptionScheme::Aes256Cbc { iv },
        }),
        encrypted_data: OctetString::new(data).map_err(|e| e.to_string())?,
    };
    info.to_der().map_err(|e| e.to_string())
}

/// What an EncryptedPrivateKeyInfo that the pkcs5 crate could not read is encrypted with, in
/// words, when its structure is there: PBES2 with a cipher qs-jwt does not read (DES-EDE3,
/// Camellia, AES in another mode) or parameters out of range, or another scheme altogether
/// (PKCS#12's pbeWithSHA1And3-KeyTripleDES-CBC, what `openssl pkcs8 -v1 PBE-SHA1-3DES` writes).
fn unread_scheme(der: &[u8]) -> Option<String> {
    let mut reader = der::SliceReader::new(der).ok()?;
    let (scheme, parameters) = reader
        .sequence(|inner| {
            let algorithm = spki::AlgorithmIdentifierRef::decode(inner)?;
            let rest = inner.remaining_len();
            inner.read_slice(rest)?;
            Ok::<_, der::Error>((
                algorithm.oid,
                algorithm.parameters.map(|p| p.value().to_vec()),
            ))
        })
        .ok()?;
    if scheme != pbes2::PBES2_OID {
        return Some(format!("the scheme {scheme}, older than PBES2"));
    }
    // PBES2's parameters: the key derivation's AlgorithmIdentifier, then the cipher's.
    let read_pair = |bytes: &[u8]| -> Result<_, der::Error> {
        let mut inner = der::SliceReader::new(bytes)?;
        let kdf = spki::AlgorithmIdentifierRef::decode(&mut inner)?.oid;
        let cipher = spki::AlgorithmIdentifierRef::decode(&mut inner)?.oid;
        Ok((kdf, cipher))
    };
    let Ok((kdf, cipher)) = read_pair(&parameters?) else {
        return Some("PBES2 with parameters that cannot be read".to_owned());
    };
    let cipher_name = oid_name(cipher);
    if !cipher_name.contains("-CBC") || !cipher_name.starts_with("AES") {
        return Some(format!(
            "PBES2 and the cipher {cipher_name} (qs-jwt reads AES-128, AES-192 and AES-256 in \
             CBC mode)"
        ));
    }
    Some(format!(
        "PBES2, {cipher_name} and {} with parameters out of range",
        oid_name(kdf)
    ))
}

/// A name for the algorithms an encrypted key may name, else the OID itself.
fn oid_name(oid: der::asn1::ObjectIdentifier) -> String {
    let name = match oid.to_string().as_str() {
        "1.2.840.113549.1.5.12" => "PBKDF2",
        "1.3.6.1.4.1.11591.4.11" => "scrypt",
        "1.2.840.113549.2.8" => "HMAC-SHA-224",
        "2.16.840.1.101.3.4.1.2" => "AES-128-CBC",
        "2.16.840.1.101.3.4.1.22" => "AES-192-CBC",
        "2.16.840.1.101.3.4.1.42" => "AES-256-CBC",
        "2.16.840.1.101.3.4.1.1" => "AES-128-ECB",
        "2.16.840.1.101.3.4.1.41" => "AES-256-ECB",
        "2.16.840.1.101.3.4.1.3" => "AES-128-OFB",
        "2.16.840.1.101.3.4.1.43" => "AES-256-OFB",
        "2.16.840.1.101.3.4.1.4" => "AES-128-CFB",
        "2.16.840.1.101.3.4.1.44" => "AES-256-CFB",
        "2.16.840.1.101.3.4.1.6" => "AES-128-GCM",
        "2.16.840.1.101.3.4.1.46" => "AES-256-GCM",
        "1.2.840.113549.3.7" => "DES-EDE3-CBC",
        "1.3.14.3.2.7" => "DES-CBC",
        "1.2.840.113549.3.2" => "RC2-CBC",
        "1.2.392.200011.61.1.1.1.2" => "Camellia-128-CBC",
        "1.2.392.200011.61.1.1.1.3" => "Camellia-192-CBC",
        "1.2.392.200011.61.1.1.1.4" => "Camellia-256-CBC",
        other => return other.to_owned(),
    };
    name.to_owned()
}

/// The cipher and IV of a PBES2 encryption scheme: AES in CBC mode.
fn cipher(
    scheme: &pbes2::EncryptionScheme,
) -> Result<(&'static Algorithm, [u8; 16]), DecryptError> {
    match *scheme {
        pbes2::EncryptionScheme::Aes128Cbc { iv } => Ok((&AES_128, iv)),
        pbes2::EncryptionScheme::Aes192Cbc { iv } => Ok((&AES_192, iv)),
        pbes2::EncryptionScheme::Aes256Cbc { iv } => Ok((&AES_256, iv)),
        other => Err(DecryptError::Unsupported(format!(
            "PBES2 and the cipher {} (qs-jwt reads AES-128, AES-192 and AES-256 in CBC mode)",
            oid_name(other.oid())
        ))),
    }
}

/// The cipher key from the passphrase, by the file's key derivation function.
fn derive(
    kdf: &Kdf,
    passphrase: &[u8],
    key_len: usize,
) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    if let Some(length) = kdf.key_length()
        && usize::from(length) != key_len
    {
        return Err(DecryptError::Malformed(format!(
            "the key derivation gives {length} bytes for a cipher of {key_len}"
        )));
    }
    let mut key = Zeroizing::new(vec![0u8; key_len]);
    match kdf {
        Kdf::Pbkdf2(params) => {
            if params.iteration_count > MAX_ITERATIONS {
                return Err(DecryptError::TooCostly(format!(
                    "{} PBKDF2 iterations (qs-jwt allows {MAX_ITERATIONS})",
                    params.iteration_count
                )));
            }
            pbkdf2_derive(
                params.prf,
                params.iteration_count,
                params.salt.as_bytes(),
                passphrase,
                &mut key,
            )
            .map_err(DecryptError::Unsupported)?;
        }
        Kdf::Scrypt(params) => scrypt(
            passphrase,
            params.salt.as_bytes(),
            params.cost_parameter,
            u64::from(params.block_size),
            u64::from(params.parallelization),
            &mut key,
        )?,
        other => {
            return Err(DecryptError::Unsupported(format!(
                "the key derivation {}",
                oid_name(other.oid())
            )));
        }
    }
    Ok(key)
}

fn pbkdf2_derive(
    prf: Pbkdf2Prf,
    iterations: u32,
    salt: &[u8],
    passphrase: &[u8],
    out: &mut [u8],
) -> Result<(), String> {
    let algorithm = match prf {
        Pbkdf2Prf::HmacWithSha1 => pbkdf2::PBKDF2_HMAC_SHA1,
        Pbkdf2Prf::HmacWithSha256 => pbkdf2::PBKDF2_HMAC_SHA256,
        Pbkdf2Prf::HmacWithSha384 => pbkdf2::PBKDF2_HMAC_SHA384,
        Pbkdf2Prf::HmacWithSha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        other => {
            return Err(format!(
                "PBKDF2 with {} (qs-jwt reads HMAC with SHA-1, SHA-256, SHA-384 or SHA-512)",
                oid_name(other.oid())
            ));
        }
    };
    let iterations =
        NonZeroU32::new(iterations).ok_or_else(|| "PBKDF2 with 0 iterations".to_owned())?;
    pbkdf2::derive(algorithm, iterations, salt, passphrase, out);
    Ok(())
}

/// scrypt (RFC 7914) by aws-lc's `EVP_PBE_scrypt`, which checks the parameters (N a power of
/// two, the memory under `max_mem`) and fails rather than run away.
fn scrypt(
    passphrase: &[u8],
    salt: &[u8],
    n: u64,
    r: u64,
    p: u64,
    out: &mut [u8],
) -> Result<(), DecryptError> {
    // The memory scrypt takes: 128 * N * r bytes (and 128 * r * p more); its work, N * r * p
    // rounds of its mixing function.
    let memory = 128u128 * u128::from(n) * u128::from(r.max(1));
    let work = u128::from(n) * u128::from(r) * u128::from(p);
    if memory > MAX_SCRYPT_MEMORY as u128 || work > MAX_SCRYPT_WORK {
        return Err(DecryptError::TooCostly(format!(
            "scrypt with N={n}, r={r}, p={p} (qs-jwt allows {} MiB and N*r*p up to {})",
            MAX_SCRYPT_MEMORY >> 20,
            MAX_SCRYPT_WORK
        )));
    }
    // SAFETY: every pointer comes from a live slice with its own length; aws-lc reads the
    // passphrase and salt and writes `out.len()` bytes into `out`, nothing else.
    let ok = unsafe {
        aws_lc_sys::EVP_PBE_scrypt(
            passphrase.as_ptr().cast(),
            passphrase.len(),
            salt.as_ptr(),
            salt.len(),
            n,
            r,
            p,
            MAX_SCRYPT_MEMORY + (1 << 20),
            out.as_mut_ptr(),
            out.len(),
        )
    };
    if ok == 1 {
        Ok(())
    } else {
        Err(DecryptError::Unsupported(format!(
            "scrypt with N={n}, r={r}, p={p}, parameters aws-lc refuses"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_der() -> Vec<u8> {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/rsa2048-pkcs8.pem"
        ))
        .unwrap();
        pem::parse(text).unwrap().into_contents()
    }

    #[test]
    fn what_is_written_reads_back_and_only_with_its_passphrase() {
        let der = key_der();
        let encrypted = encrypt(&der, "pässwörd".as_bytes(), 1_000).unwrap();
        assert_eq!(*decrypt(&encrypted, "pässwörd".as_bytes()).unwrap(), der);
        assert_eq!(
            decrypt(&encrypted, b"passwort"),
            Err(DecryptError::WrongPassphrase)
        );
        assert_eq!(decrypt(&encrypted, b""), Err(DecryptError::WrongPassphrase));
    }

    #[test]
    fn costly_and_malformed_files_are_refused_before_any_work() {
        let der = key_der();
        let encrypted = encrypt(&der, b"x", MAX_ITERATIONS + 1).unwrap();
        assert!(matches!(
            decrypt(&encrypted, b"x"),
            Err(DecryptError::TooCostly(_))
        ));
        assert!(matches!(
            decrypt(b"\x30\x03\x02\x01\x00", b"x"),
            Err(DecryptError::Malformed(_))
        ));
        let mut memory = [0u8; 32];
        assert!(matches!(
            scrypt(b"x", b"salt", 1 << 30, 8, 1, &mut memory),
            Err(DecryptError::TooCostly(_))
        ));
        // Within the memory, beyond the work: N=2^17, r=8 (OWASP's) with p=16.
        assert!(matches!(
            scrypt(b"x", b"salt", 1 << 17, 8, 16, &mut memory),
            Err(DecryptError::TooCostly(_))
        ));
    }

    #[test]
    fn scrypt_matches_rfc_7914() {
        // RFC 7914, section 12: scrypt("password", "NaCl", N=1024, r=8, p=16, 64 bytes).
        let mut out = [0u8; 64];
        scrypt(b"password", b"NaCl", 1024, 8, 16, &mut out).unwrap();
        assert_eq!(out[..8], [0xfd, 0xba, 0xbe, 0x1c, 0x9d, 0x34, 0x72, 0x00]);
    }
}
