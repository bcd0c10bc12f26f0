//! The argon2 our passwords are hashed with (the `argon2` crate) against the RFC 9106
//! test vector and the C reference implementation (libargon2 via `argon2-sys`, the login
//! bench's yardstick), for many inputs and parameters, including the production path
//! (`PasswordHasher` with its reused work area) verifying a hash the C code made.

// FFI calls into the C reference implementation (libargon2 via argon2-sys).
#![allow(unsafe_code)]

use argon2::{Algorithm, Argon2, AssociatedData, Params, ParamsBuilder, Version};
use shared::auth::password::{Password, PasswordHasher, PasswordPolicy};

#[test]
fn rfc_9106_argon2id_test_vector() {
    // RFC 9106 §5.3: m=32 KiB, t=3, p=4, with a secret and associated data.
    let params = ParamsBuilder::new()
        .m_cost(32)
        .t_cost(3)
        .p_cost(4)
        .data(AssociatedData::new(&[0x04; 12]).unwrap())
        .build()
        .unwrap();
    let argon =
        Argon2::new_with_secret(&[0x03; 8], Algorithm::Argon2id, Version::V0x13, params).unwrap();
    let mut tag = [0u8; 32];
    argon
        .hash_password_into(&[0x01; 32], &[0x02; 16], &mut tag)
        .unwrap();
    assert_eq!(
        tag,
        [
            0x0d, 0x64, 0x0d, 0xf5, 0x8d, 0x78, 0x76, 0x6c, 0x08, 0xc0, 0x37, 0xa3, 0x4a, 0x8b,
            0x53, 0xc9, 0xd0, 0x1e, 0xf0, 0x45, 0x2d, 0x75, 0xb6, 0x5e, 0xb5, 0x25, 0x20, 0xe9,
            0x6b, 0x01, 0xe6, 0x59,
        ]
    );
}

fn c_reference(t: u32, m: u32, p: u32, password: &[u8], salt: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    // SAFETY: every pointer and length describes a live buffer of that length.
    let status = unsafe {
        argon2_sys::argon2id_hash_raw(
            t,
            m,
            p,
            password.as_ptr().cast(),
            password.len(),
            salt.as_ptr().cast(),
            salt.len(),
            out.as_mut_ptr().cast(),
            out.len(),
        )
    };
    assert_eq!(status, 0, "libargon2 failed");
    out
}

/// xorshift64*: deterministic test data without a dependency.
fn bytes(seed: &mut u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *seed ^= *seed >> 12;
            *seed ^= *seed << 25;
            *seed ^= *seed >> 27;
            (seed.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

#[test]
fn the_rust_argon2_equals_the_c_reference() {
    let mut seed = 0x0123_4567_89AB_CDEF;
    let mut cases = 0;
    for (m, t, p) in [
        (8, 1, 1),
        (16, 2, 2),
        (64, 3, 1),
        (256, 1, 4),
        (1024, 2, 1),
        (4096, 1, 2),
        (PasswordPolicy::OWASP.memory_kib, 2, 1),
    ] {
        for round in 0..3 {
            let password = bytes(&mut seed, 1 + round * 20);
            let salt = bytes(&mut seed, 16);
            let len = [32, 16, 64][round];
            let params = Params::new(m, t, p, Some(len)).unwrap();
            let mut rust = vec![0u8; len];
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password_into(&password, &salt, &mut rust)
                .unwrap();
            assert_eq!(
                rust,
                c_reference(t, m, p, &password, &salt, len),
                "m={m} t={t} p={p}"
            );
            cases += 1;
        }
    }
    assert_eq!(cases, 21);
}

#[test]
fn our_verify_accepts_hashes_made_by_the_c_reference() {
    // The production path (PasswordHasher with its reused work area) against C output.
    let salt = *b"imauth-ref-salt!";
    let password = "correct horse battery staple";
    let policy = PasswordPolicy::OWASP;
    let raw = c_reference(
        policy.iterations,
        policy.memory_kib,
        policy.parallelism,
        password.as_bytes(),
        &salt,
        32,
    );
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let phc = format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        policy.memory_kib,
        policy.iterations,
        policy.parallelism,
        b64.encode(salt),
        b64.encode(&raw)
    );
    let hasher = PasswordHasher::new(policy).unwrap();
    assert!(
        hasher
            .verify(&Password::new(password.into()).unwrap(), &phc)
            .unwrap()
    );
    assert!(
        !hasher
            .verify(
                &Password::new("correct horse battery stapl".into()).unwrap(),
                &phc
            )
            .unwrap()
    );
}
