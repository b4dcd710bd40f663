//! Password and client-secret hashing with Argon2id
//! ([RFC 9106](https://www.rfc-editor.org/rfc/rfc9106)), stored as PHC strings.
//!
//! The authorization server keeps two kinds of shared secrets: the passwords of the users
//! who sign in at the authorize endpoint, and the `client_secret`s of confidential
//! clients (RFC 6749 §2.3.1). Neither is ever stored: only an Argon2id hash in the
//! self-describing [PHC string format](https://github.com/P-H-C/phc-string-format/blob/master/phc-sf-spec.md)
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), with a fresh random salt per hash.
//! Because the PHC string carries its own parameters, hashes made with older or cheaper
//! parameters keep verifying after [`HashCost::DEFAULT`] changes.
//!
//! Verification compares digests in constant time (inside `argon2`). It costs as much as
//! hashing, on purpose; a login endpoint that finds no such user should still call
//! [`verify_password`] against some stored hash so the answer takes the same time.

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::Error;

/// The Argon2id cost parameters of a new hash.
///
/// [`HashCost::DEFAULT`] (also [`Default`]) is the `argon2` crate's recommendation, the
/// OWASP minimum for Argon2id: 19 MiB of memory, 2 passes, 1 lane. Cheaper costs exist
/// for tests only ([`HashCost::MINIMAL`]); never store a production secret with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashCost {
    /// Memory in KiB (`m`); at least 8 per lane.
    pub memory_kib: u32,
    /// Number of passes over the memory (`t`); at least 1.
    pub iterations: u32,
    /// Degree of parallelism (`p`, lanes); at least 1.
    pub parallelism: u32,
}

impl HashCost {
    /// The recommended parameters (`m=19456,t=2,p=1`), used by [`hash_password`].
    pub const DEFAULT: HashCost = HashCost {
        memory_kib: Params::DEFAULT_M_COST,
        iterations: Params::DEFAULT_T_COST,
        parallelism: Params::DEFAULT_P_COST,
    };

    /// The cheapest parameters Argon2 allows (`m=8,t=1,p=1`): for tests, where hashing
    /// with [`HashCost::DEFAULT`] in an unoptimised build takes seconds. Offers no
    /// protection against offline guessing.
    pub const MINIMAL: HashCost = HashCost {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };
}

impl Default for HashCost {
    fn default() -> HashCost {
        HashCost::DEFAULT
    }
}

/// Hashes `password` (or a client secret) with Argon2id, [`HashCost::DEFAULT`] and a
/// random 16-byte salt from the operating system, returning the PHC string to store.
///
/// Two calls with the same password give different strings (different salts); both
/// verify.
///
/// ```
/// # use smart_auth::passwords::{hash_password_with, verify_password, HashCost};
/// // `hash_password` does the same with the recommended cost.
/// let phc = hash_password_with("correct horse battery staple", HashCost::MINIMAL).unwrap();
/// assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"));
/// assert!(verify_password("correct horse battery staple", &phc));
/// assert!(!verify_password("Correct horse battery staple", &phc));
/// ```
pub fn hash_password(password: &str) -> Result<String, Error> {
    hash_password_with(password, HashCost::DEFAULT)
}

/// [`hash_password`] with explicit cost parameters. Fails with
/// [`Error::PasswordHash`] when the parameters are out of Argon2's range or the
/// operating system's random source fails.
pub fn hash_password_with(password: &str, cost: HashCost) -> Result<String, Error> {
    let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
        .map_err(|e| Error::PasswordHash(format!("Argon2 parameters: {e}")))?;
    let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let hash = hasher
        .hash_password(password.as_bytes())
        .map_err(|e| Error::PasswordHash(e.to_string()))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the stored PHC string `phc`.
///
/// The parameters, salt and variant are read from `phc` itself. Anything that is not a
/// well-formed Argon2 PHC string (empty, truncated, another algorithm, a plain-text
/// secret stored by mistake) never matches: this never fails open.
pub fn verify_password(password: &str, phc: &str) -> bool {
    // Only Argon2id hashes are ever written; refuse the weaker variants outright rather
    // than trusting whatever a stored string names.
    if !phc.starts_with("$argon2id$") {
        return false;
    }
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap(password: &str) -> String {
        hash_password_with(password, HashCost::MINIMAL).unwrap()
    }

    #[test]
    fn default_cost_is_the_argon2_recommendation() {
        assert_eq!(HashCost::default(), HashCost::DEFAULT);
        assert_eq!(
            HashCost::DEFAULT,
            HashCost {
                memory_kib: 19 * 1024,
                iterations: 2,
                parallelism: 1
            }
        );
    }

    #[test]
    fn hash_password_uses_argon2id_with_the_default_cost() {
        // The one hash with the real cost (slow-ish in a debug build).
        let phc = hash_password("s3cret-for-tests").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password("s3cret-for-tests", &phc));
        assert!(!verify_password("s3cret-for-test", &phc));
    }

    #[test]
    fn right_password_verifies_and_wrong_ones_do_not() {
        let phc = cheap("hunter2");
        assert!(verify_password("hunter2", &phc));
        for wrong in ["", "hunter", "hunter22", "Hunter2", " hunter2", "hunter2 "] {
            assert!(!verify_password(wrong, &phc), "{wrong:?}");
        }
    }

    #[test]
    fn salts_are_random() {
        let a = cheap("same");
        let b = cheap("same");
        assert_ne!(a, b);
        assert!(verify_password("same", &a));
        assert!(verify_password("same", &b));
        // Salt is the fourth `$` field: 16 bytes in unpadded base64, 22 characters.
        let salt = a.split('$').nth(4).unwrap();
        assert_eq!(salt.len(), 22, "{a}");
    }

    #[test]
    fn phc_string_never_contains_the_password() {
        let phc = cheap("plain-text-marker");
        assert!(!phc.contains("plain-text-marker"));
    }

    #[test]
    fn empty_and_unicode_passwords_round_trip() {
        let empty = cheap("");
        assert!(verify_password("", &empty));
        assert!(!verify_password(" ", &empty));
        let unicode = cheap("pässwörd-密码");
        assert!(verify_password("pässwörd-密码", &unicode));
        assert!(!verify_password("passwort-密码", &unicode));
    }

    #[test]
    fn malformed_or_foreign_hashes_never_verify() {
        let phc = cheap("hunter2");
        let truncated = &phc[..phc.len() - 5];
        let argon2i = phc.replacen("$argon2id$", "$argon2i$", 1);
        let mut flipped = phc.clone();
        let last = flipped.pop().unwrap();
        flipped.push(if last == 'A' { 'B' } else { 'A' });
        for bad in [
            "",
            "hunter2",
            "$argon2id$",
            "$argon2id$v=19$m=8,t=1,p=1$",
            truncated,
            &argon2i,
            &flipped,
            "$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA",
        ] {
            assert!(!verify_password("hunter2", bad), "{bad:?}");
        }
    }

    #[test]
    fn out_of_range_costs_are_refused() {
        for cost in [
            HashCost {
                memory_kib: 7,
                ..HashCost::MINIMAL
            },
            HashCost {
                iterations: 0,
                ..HashCost::MINIMAL
            },
            HashCost {
                parallelism: 0,
                ..HashCost::MINIMAL
            },
            // 8 KiB per lane at least.
            HashCost {
                memory_kib: 8,
                iterations: 1,
                parallelism: 2,
            },
        ] {
            assert!(
                matches!(hash_password_with("x", cost), Err(Error::PasswordHash(_))),
                "{cost:?}"
            );
        }
    }

    #[test]
    fn parameters_are_read_from_the_stored_string() {
        let custom = HashCost {
            memory_kib: 64,
            iterations: 3,
            parallelism: 2,
        };
        let phc = hash_password_with("pw", custom).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=3,p=2$"), "{phc}");
        assert!(verify_password("pw", &phc));
        assert!(!verify_password("pw2", &phc));
    }
}
