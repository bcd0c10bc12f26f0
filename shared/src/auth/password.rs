//! Argon2id password hashing with an injected cost policy.
//!
//! Verification reuses a per-thread work buffer instead of allocating the 19 MiB argon2
//! memory for every login, and refuses stored hashes whose parameters are out of bounds
//! rather than computing them (a corrupted or hostile record must not be able to ask for
//! gigabytes of memory or minutes of CPU).

use std::fmt;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use subtle::ConstantTimeEq;

use super::work_area;
use crate::error::{Error, Result};

/// Longest password accepted, in bytes, checked before any hashing work.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A password as received from a client. Never printed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Refuses empty and over-long passwords before any hashing is done.
    pub fn new(raw: String) -> Result<Self> {
        if raw.is_empty() {
            return Err(Error::bad_request("password must not be empty"));
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(Error::bad_request(format!(
                "password must be at most {MAX_PASSWORD_BYTES} bytes"
            )));
        }
        Ok(Self(raw))
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Argon2id cost parameters used for new hashes; hashes made with other parameters are
/// still verified (within [`PasswordPolicy::accepts`]) and flagged for rehash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

/// Upper bounds on parameters of stored hashes we agree to compute.
const MAX_STORED_MEMORY_KIB: u32 = 256 * 1024;
const MAX_STORED_ITERATIONS: u32 = 16;
const MAX_STORED_PARALLELISM: u32 = 8;
const OUTPUT_LEN: usize = 32;

impl PasswordPolicy {
    /// OWASP's argon2id recommendation: m=19 MiB, t=2, p=1.
    pub const OWASP: Self = Self {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };

    /// The cheapest parameters argon2 allows. For tests and local demos only: it makes a
    /// login cost microseconds instead of tens of milliseconds.
    pub const INSECURE_FAST: Self = Self {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };

    fn params(&self) -> Result<Params> {
        Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(OUTPUT_LEN),
        )
        .map_err(Error::internal)
    }

    /// Whether a stored hash's parameters are within what we agree to compute.
    fn accepts(params: &Params) -> bool {
        params.m_cost() <= MAX_STORED_MEMORY_KIB
            && params.t_cost() <= MAX_STORED_ITERATIONS
            && params.p_cost() <= MAX_STORED_PARALLELISM
    }
}

/// Hashes and verifies passwords under one policy.
pub struct PasswordHasher {
    policy: PasswordPolicy,
    /// Verified against when the user does not exist, so an unknown user costs the same.
    dummy_hash: String,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Argon2 of `password` and `salt` into `output`, in this thread's work area.
fn hash_into(
    argon: &Argon2<'_>,
    password: &Password,
    salt: &[u8],
    output: &mut [u8],
) -> Result<()> {
    let blocks = argon.params().block_count();
    work_area::with_work_area(blocks, |area| {
        argon.hash_password_into_with_memory(password.as_bytes(), salt, output, area)
    })
    .map_err(Error::internal)
}

impl PasswordPolicy {
    /// Faults in a work area for this policy's hashes, which the first hash in the
    /// process then takes (see `work_area`). Blocking, ~10 ms at the OWASP policy: a
    /// login function runs it during init, beside the network reads.
    pub fn prefault_work_area(&self) {
        if let Ok(params) = self.params() {
            work_area::prefault(params.block_count());
        }
    }
}

impl PasswordHasher {
    pub fn new(policy: PasswordPolicy) -> Result<Self> {
        policy.params()?;
        // The dummy only has to cost one verify at the policy's parameters; its salt and
        // output are fixed bytes, so building it costs nothing at cold start.
        let dummy_hash = format!(
            "$argon2id$v=19$m={},t={},p={}$ZHVtbXktc2FsdC12MQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            policy.memory_kib, policy.iterations, policy.parallelism
        );
        Ok(Self { policy, dummy_hash })
    }

    pub fn policy(&self) -> PasswordPolicy {
        self.policy
    }

    /// A new PHC string for `password` under the current policy, with a random salt.
    /// Computed in this thread's work area, like a verify: seeding or importing many
    /// users does not allocate (and leave behind in the heap) 19 MiB per hash.
    pub fn hash(&self, password: &Password) -> Result<String> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(Error::internal)?;
        let params = self.policy.params()?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let mut output = [0u8; OUTPUT_LEN];
        hash_into(&argon, password, &salt, &mut output)?;
        let salt = SaltString::encode_b64(&salt).map_err(Error::internal)?;
        let phc = PasswordHash {
            algorithm: argon2::ARGON2ID_IDENT,
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(Error::internal)?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&output).map_err(Error::internal)?),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` matches the stored PHC string. A malformed stored hash, or one
    /// with out-of-bounds parameters, is an error (logged by the caller), not a `false`.
    pub fn verify(&self, password: &Password, stored_phc: &str) -> Result<bool> {
        let parsed = PasswordHash::new(stored_phc)
            .map_err(|e| Error::internal(format!("stored password hash is malformed: {e}")))?;
        if parsed.algorithm != argon2::ARGON2ID_IDENT {
            return Err(Error::internal("stored password hash is not argon2id"));
        }
        let version = match parsed.version {
            None | Some(0x13) => Version::V0x13,
            Some(0x10) => Version::V0x10,
            Some(other) => {
                return Err(Error::internal(format!(
                    "stored password hash has unknown version {other}"
                )));
            }
        };
        let params = Params::try_from(&parsed)
            .map_err(|e| Error::internal(format!("stored password hash parameters: {e}")))?;
        if !PasswordPolicy::accepts(&params) {
            return Err(Error::internal(
                "stored password hash has out-of-bounds parameters; refused to compute it",
            ));
        }
        let expected = parsed
            .hash
            .ok_or_else(|| Error::internal("stored password hash has no output"))?;
        let expected = expected.as_bytes();
        if !(4..=64).contains(&expected.len()) {
            return Err(Error::internal("stored password hash output length"));
        }
        let salt = parsed
            .salt
            .ok_or_else(|| Error::internal("stored password hash has no salt"))?;
        let mut salt_buf = [0u8; 64];
        let salt = salt
            .decode_b64(&mut salt_buf)
            .map_err(|e| Error::internal(format!("stored password hash salt: {e}")))?;

        let params = Params::new(
            params.m_cost(),
            params.t_cost(),
            params.p_cost(),
            Some(expected.len()),
        )
        .map_err(Error::internal)?;
        let argon = Argon2::new(Algorithm::Argon2id, version, params);
        let mut actual = [0u8; 64];
        let actual = &mut actual[..expected.len()];
        hash_into(&argon, password, salt, actual)?;
        Ok(bool::from(actual.ct_eq(expected)))
    }

    /// Spends one verify's worth of work when the user does not exist, so the answer
    /// takes as long as a wrong password would.
    pub fn dummy_verify(&self, password: &Password) {
        let _ = self.verify(password, &self.dummy_hash);
    }

    /// Whether a stored hash was made under other parameters than the current policy's
    /// and should be replaced after a successful login.
    pub fn needs_rehash(&self, stored_phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored_phc) else {
            return true;
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return true;
        };
        parsed.algorithm != argon2::ARGON2ID_IDENT
            || parsed.version != Some(0x13)
            || params.m_cost() != self.policy.memory_kib
            || params.t_cost() != self.policy.iterations
            || params.p_cost() != self.policy.parallelism
    }
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

    use super::*;

    #[test]
    fn our_phc_strings_verify_with_the_reference_verifier() {
        let h = PasswordHasher::new(PasswordPolicy {
            memory_kib: 64,
            iterations: 2,
            parallelism: 1,
        })
        .unwrap();
        let phc = h.hash(&pw("correct horse")).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=2,p=1$"), "{phc}");
        let parsed = PasswordHash::new(&phc).unwrap();
        assert_eq!(parsed.hash.unwrap().len(), OUTPUT_LEN);
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"wrong", &parsed)
                .is_err()
        );
    }

    fn pw(s: &str) -> Password {
        Password::new(s.to_owned()).unwrap()
    }

    #[test]
    fn verifies_right_and_rejects_wrong() {
        let h = PasswordHasher::new(PasswordPolicy::INSECURE_FAST).unwrap();
        let phc = h.hash(&pw("correct horse")).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"));
        assert!(h.verify(&pw("correct horse"), &phc).unwrap());
        assert!(!h.verify(&pw("correct horsf"), &phc).unwrap());
    }

    #[test]
    fn verifies_hashes_made_by_the_reference_encoder() {
        // Made with the argon2 crate's own PHC encoder at other parameters: the reused
        // work area must give the same answer as a fresh allocation.
        let params = Params::new(64, 3, 1, None).unwrap();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let phc = argon.hash_password(b"secret", &salt).unwrap().to_string();
        let h = PasswordHasher::new(PasswordPolicy::INSECURE_FAST).unwrap();
        assert!(h.verify(&pw("secret"), &phc).unwrap());
        assert!(!h.verify(&pw("Secret"), &phc).unwrap());
        assert!(h.needs_rehash(&phc));
    }

    #[test]
    fn absurd_parameters_are_refused_not_computed() {
        let h = PasswordHasher::new(PasswordPolicy::INSECURE_FAST).unwrap();
        let absurd = "$argon2id$v=19$m=4194304,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE";
        assert!(matches!(
            h.verify(&pw("x"), absurd),
            Err(Error::Internal(msg)) if msg.contains("out-of-bounds")
        ));
        let many_passes = "$argon2id$v=19$m=8,t=1000,p=1$MDEyMzQ1Njc4OWFiY2RlZg$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE";
        assert!(h.verify(&pw("x"), many_passes).is_err());
        assert!(h.verify(&pw("x"), "not a phc string").is_err());
        assert!(h.verify(&pw("x"), "$argon2i$v=19$m=8,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE").is_err());
    }

    #[test]
    fn the_dummy_hash_costs_one_verify_at_the_policy_parameters() {
        let h = PasswordHasher::new(PasswordPolicy::OWASP).unwrap();
        let parsed = PasswordHash::new(&h.dummy_hash).unwrap();
        let params = Params::try_from(&parsed).unwrap();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (19_456, 2, 1)
        );
        assert!(!h.needs_rehash(&h.dummy_hash));
        assert!(!h.verify(&pw("dummy password"), &h.dummy_hash).unwrap());
    }

    #[test]
    fn password_limits_are_checked_before_hashing() {
        assert!(Password::new(String::new()).is_err());
        assert!(Password::new("x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
        assert!(Password::new("x".repeat(MAX_PASSWORD_BYTES)).is_ok());
        assert_eq!(format!("{:?}", pw("hunter2")), "Password(***)");
    }

    #[test]
    fn needs_rehash_follows_the_policy() {
        let fast = PasswordHasher::new(PasswordPolicy::INSECURE_FAST).unwrap();
        let phc = fast.hash(&pw("p")).unwrap();
        assert!(!fast.needs_rehash(&phc));
        let stronger = PasswordHasher::new(PasswordPolicy {
            memory_kib: 16,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
        assert!(stronger.needs_rehash(&phc));
    }
}
