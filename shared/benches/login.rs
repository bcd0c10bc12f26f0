//! Login cost: a bare argon2id verify against a full login through the handler on the
//! embedded store, at the same parameters, plus JWT mint and verify.
//!
//! `cargo bench -p shared --bench login` measures (release profile); `cargo test
//! --benches` runs it once per case as a smoke test (no timing claims). Set
//! `IMAUTH_BENCH_POLICY=m=..,t=..,p=..` to measure other argon2 parameters.
//!
//! The yardstick is the C reference implementation (libargon2 20171227 through the
//! `argon2-sys` dev-dependency: its `opt.c` built with `-march=native` on x86, `ref.c`
//! elsewhere), at the same parameters and on the same salt, checked to give the same
//! output. It is timed twice: like our `PasswordHasher` (one reused work area, no wipe)
//! and as libargon2 behaves by default (malloc, then wipe and free, per call).

// FFI calls into the C reference implementation (libargon2 via argon2-sys).
#![allow(unsafe_code)]

// The handler tests' helpers, for `repo_path`.
#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordVerifier as _};
use lambda_http::Body;
use shared::auth::password::{Password, PasswordPolicy};
use shared::auth::tokens::TokenType;
use shared::config::{Settings, StoreKind, parse_password_policy};
use shared::http::{Route, Services, handle};
use shared::service::Lifetime;
use support::repo_path;

mod common;

use common::{measure, report};

fn main() {
    let (budget, min_runs) = common::budget(Duration::from_secs(3));
    let full = min_runs > 1;
    let policy = std::env::var("IMAUTH_BENCH_POLICY")
        .ok()
        .map(|p| parse_password_policy(&p).unwrap())
        .unwrap_or(PasswordPolicy::OWASP);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let seed = repo_path("events/seed.json");
    let services: Services = runtime
        .block_on(
            Settings {
                seed_file: Some(seed),
                password_policy: policy,
                store: StoreKind::Embedded,
                ..Settings::default()
            }
            .build_services(),
        )
        .unwrap();
    let crypto = services.login.crypto();
    let password = Password::new("alice-password".into()).unwrap();
    let phc = crypto.hasher.hash(&password).unwrap();
    println!(
        "argon2id m={} KiB t={} p={}  ({} build)",
        policy.memory_kib,
        policy.iterations,
        policy.parallelism,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );

    let parsed = PasswordHash::new(&phc).unwrap();
    let reference = argon2::Argon2::default();
    let event = std::fs::read_to_string(repo_path("events/token-id/ok.json")).unwrap();

    // The C reference on the same salt and parameters as the stored hash.
    let salt = {
        let mut buf = [0u8; 64];
        parsed.salt.unwrap().decode_b64(&mut buf).unwrap().to_vec()
    };
    let mut out = [0u8; 32];
    c_reference::hash(
        b"alice-password",
        &salt,
        policy,
        c_reference::Mode::Reused,
        &mut out,
    );
    assert_eq!(
        &out[..],
        parsed.hash.unwrap().as_bytes(),
        "C and Rust argon2id disagree"
    );

    // The argon2-bound cases run interleaved, so their ratios survive a busy machine.
    let mut bare_case = || {
        assert!(
            reference
                .verify_password(black_box(b"alice-password"), &parsed)
                .is_ok()
        );
    };
    let mut ours_case = || {
        assert!(crypto.hasher.verify(black_box(&password), &phc).unwrap());
    };
    let mut login_case = || {
        let req = lambda_http::request::from_str(&event).unwrap();
        let response = runtime.block_on(handle(&services, Route::TokenId, req));
        assert_eq!(response.status(), 200);
        black_box(response);
    };
    let mut c_out = [0u8; 32];
    let mut c_reused_case = || {
        c_reference::hash(
            black_box(b"alice-password"),
            &salt,
            policy,
            c_reference::Mode::Reused,
            &mut c_out,
        );
        black_box(&c_out);
    };
    let mut c_out2 = [0u8; 32];
    let mut c_default_case = || {
        c_reference::hash(
            black_box(b"alice-password"),
            &salt,
            policy,
            c_reference::Mode::Default,
            &mut c_out2,
        );
        black_box(&c_out2);
    };
    let stats = common::measure_interleaved(
        budget * 5,
        min_runs,
        &mut [
            &mut bare_case,
            &mut ours_case,
            &mut login_case,
            &mut c_reused_case,
            &mut c_default_case,
        ],
    );
    let [bare, ours, login, c_reused, c_default] =
        <[_; 5]>::try_from(stats).ok().expect("five cases");
    report("argon2 verify (argon2 crate, allocating)", &bare);
    report("argon2 verify (PasswordHasher, reused)", &ours);
    report("login via handler (/token/id, embedded)", &login);
    report(
        &format!("libargon2 {} reused", c_reference::IMPLEMENTATION),
        &c_reused,
    );
    report(
        &format!("libargon2 {} malloc+wipe", c_reference::IMPLEMENTATION),
        &c_default,
    );

    let wrong = measure(budget, min_runs, || {
        let mut req = lambda_http::request::from_str(&event).unwrap();
        *req.body_mut() = Body::Text(r#"{"user_id":99999,"password":"alice-password"}"#.into());
        let response = runtime.block_on(handle(&services, Route::TokenId, req));
        assert_eq!(response.status(), 401);
    });
    report("failed login, unknown user (dummy verify)", &wrong);

    let grant_user = runtime.block_on(services.login.app("demo")).unwrap();
    let mint_budget = if full {
        Duration::from_secs(1)
    } else {
        Duration::ZERO
    };
    let sample_user = shared::service::Subject::User(shared::domain::User {
        app_id: "demo".into(),
        user_id: 10001,
        uuid: "u".into(),
        username: "alice".into(),
        phone: None,
        email: None,
        password_hash: phc.clone(),
        activated: true,
        created_ms: 0,
        modified_ms: 0,
        tokens_valid_after: 0,
        revision: 0,
    });
    let mint = measure(mint_budget, min_runs, || {
        black_box(
            services
                .login
                .issue(
                    &grant_user,
                    &sample_user,
                    Some("dev-1"),
                    Lifetime::AppDefault,
                    None,
                )
                .unwrap(),
        );
    });
    report("mint access+store+push tokens", &mint);
    let issued = services
        .login
        .issue(&grant_user, &sample_user, None, Lifetime::AppDefault, None)
        .unwrap();
    let verify = measure(mint_budget, min_runs, || {
        black_box(
            crypto
                .tokens
                .verify(&issued.token, TokenType::Access)
                .unwrap(),
        );
    });
    report("verify one access token", &verify);

    let ratio = login.median.as_secs_f64() / bare.median.as_secs_f64();
    let ratio_ours = login.median.as_secs_f64() / ours.median.as_secs_f64();
    println!("login / bare argon2 verify      = {ratio:.3}x (budget <= 1.05x)");
    println!("login / PasswordHasher::verify  = {ratio_ours:.3}x");
    println!(
        "reused-buffer verify / allocating verify = {:.3}x",
        ours.median.as_secs_f64() / bare.median.as_secs_f64()
    );
    println!(
        "Rust / C, reused work area       = {:.3}x (budget <= 1.0x; PasswordHasher vs libargon2 {} reused)",
        ours.median.as_secs_f64() / c_reused.median.as_secs_f64(),
        c_reference::IMPLEMENTATION
    );
    println!(
        "Rust / C, allocating             = {:.3}x (argon2 crate vs libargon2 {} malloc+wipe)",
        bare.median.as_secs_f64() / c_default.median.as_secs_f64(),
        c_reference::IMPLEMENTATION
    );
}

/// libargon2 (the PHC reference, C) through `argon2-sys`.
mod c_reference {
    use std::cell::Cell;
    use std::ffi::c_int;

    use argon2_sys as sys;
    use shared::auth::password::PasswordPolicy;

    pub const IMPLEMENTATION: &str = if cfg!(any(target_arch = "x86", target_arch = "x86_64")) {
        "opt.c -march=native"
    } else {
        "ref.c"
    };

    unsafe extern "C" {
        /// libargon2's global switch (core.c, default 1): wipe the work area before
        /// freeing it. Our Rust verify does not wipe, so the like-for-like run turns it off.
        static mut FLAG_clear_internal_memory: c_int;
    }

    #[derive(Clone, Copy, PartialEq, Eq)]
    pub enum Mode {
        /// One work area per thread, kept between calls, not wiped: what
        /// `shared::auth::password::PasswordHasher` does.
        Reused,
        /// libargon2's defaults: malloc, and wipe + free after every call.
        Default,
    }

    thread_local! {
        static WORK_AREA: Cell<(*mut u8, usize)> = const { Cell::new((std::ptr::null_mut(), 0)) };
    }

    unsafe extern "C" fn reuse_alloc(memory: *mut *mut u8, bytes: usize) -> c_int {
        WORK_AREA.with(|area| {
            let (mut ptr, len) = area.get();
            if len < bytes {
                // Grown at most once per size in a bench; the smaller area is leaked.
                let layout = std::alloc::Layout::from_size_align(bytes, 64).unwrap();
                ptr = unsafe { std::alloc::alloc(layout) };
                area.set((ptr, bytes));
            }
            unsafe { *memory = ptr };
            if ptr.is_null() {
                sys::ARGON2_MEMORY_ALLOCATION_ERROR
            } else {
                sys::ARGON2_OK
            }
        })
    }

    unsafe extern "C" fn keep(_memory: *mut u8, _bytes: usize) {}

    /// argon2id v1.3 of `pwd` under `policy` into `out` (32 bytes).
    pub fn hash(pwd: &[u8], salt: &[u8], policy: PasswordPolicy, mode: Mode, out: &mut [u8; 32]) {
        let reused = mode == Mode::Reused;
        // SAFETY: single-threaded bench; plain store to a C int.
        unsafe { FLAG_clear_internal_memory = c_int::from(!reused) };
        let mut ctx = sys::Argon2_Context {
            out: out.as_mut_ptr(),
            outlen: out.len() as u32,
            pwd: pwd.as_ptr().cast_mut(),
            pwdlen: pwd.len() as u32,
            salt: salt.as_ptr().cast_mut(),
            saltlen: salt.len() as u32,
            secret: std::ptr::null_mut(),
            secretlen: 0,
            ad: std::ptr::null_mut(),
            adlen: 0,
            t_cost: policy.iterations,
            m_cost: policy.memory_kib,
            lanes: policy.parallelism,
            threads: policy.parallelism,
            version: sys::ARGON2_VERSION_13,
            allocate_cbk: if reused { Some(reuse_alloc) } else { None },
            free_cbk: if reused { Some(keep) } else { None },
            flags: sys::ARGON2_DEFAULT_FLAGS,
        };
        // SAFETY: every pointer in ctx is valid for its length for the call's duration.
        let rc = unsafe { sys::argon2id_ctx(&mut ctx) };
        assert_eq!(rc, sys::ARGON2_OK, "libargon2 error {rc}");
    }
}
