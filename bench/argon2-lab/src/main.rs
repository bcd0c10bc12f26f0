//! Interleaved argon2id timing (m=19456 t=2 p=1, 32-byte output, one work area reused per
//! implementation, libargon2's wipe turned off like Rust's): each round runs argon2 0.5.3,
//! argon2 0.6.0 and libargon2 once, so load drift hits all of them alike. Prints the
//! median wall and thread-CPU time per verify and the ratios to C; checks the three
//! outputs are equal. `LAB_SECS` (default 6) sets the duration.
use argon2_sys as sys;
use std::ffi::c_int;
use std::hint::black_box;
use std::time::{Duration, Instant};

unsafe extern "C" {
    static mut FLAG_clear_internal_memory: c_int;
}

fn cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

static mut BUF: *mut u8 = std::ptr::null_mut();
unsafe extern "C" fn alloc_cb(m: *mut *mut u8, n: usize) -> c_int {
    unsafe {
        if BUF.is_null() {
            BUF = std::alloc::alloc(std::alloc::Layout::from_size_align(n, 64).unwrap());
        }
        *m = BUF;
    }
    0
}
unsafe extern "C" fn free_cb(_: *mut u8, _: usize) {}

fn main() {
    let (m, t) = (19456u32, 2u32);
    let salt = b"somesalt0123456";
    let pwd = b"alice-password";
    let secs: u64 = std::env::var("LAB_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let p5 = argon2_05::Params::new(m, t, 1, Some(32)).unwrap();
    let a5 = argon2_05::Argon2::new(
        argon2_05::Algorithm::Argon2id,
        argon2_05::Version::V0x13,
        p5.clone(),
    );
    let mut mem5 = vec![argon2_05::Block::new(); p5.block_count()];
    let p6 = argon2_06::Params::new(m, t, 1, Some(32)).unwrap();
    let a6 = argon2_06::Argon2::new(
        argon2_06::Algorithm::Argon2id,
        argon2_06::Version::V0x13,
        p6.clone(),
    );
    let mut mem6 = vec![argon2_06::Block::new(); p6.block_count()];
    unsafe { FLAG_clear_internal_memory = 0 };
    let mut outs = [[0u8; 32]; 3];
    let names = [
        "argon2 0.5.3 reused",
        "argon2 0.6.0 reused",
        if cfg!(feature = "simd") {
            "libargon2 opt.c reused"
        } else {
            "libargon2 ref.c reused"
        },
    ];
    let mut wall: [Vec<Duration>; 3] = Default::default();
    let mut cpus: [Vec<Duration>; 3] = Default::default();
    let start = Instant::now();
    let mut round = 0;
    while round < 20 || start.elapsed() < Duration::from_secs(secs) {
        for i in 0..3 {
            let (w0, c0) = (Instant::now(), cpu());
            match i {
                0 => a5
                    .hash_password_into_with_memory(black_box(pwd), salt, &mut outs[0], &mut mem5)
                    .unwrap(),
                1 => a6
                    .hash_password_into_with_memory(black_box(pwd), salt, &mut outs[1], &mut mem6)
                    .unwrap(),
                _ => {
                    let mut ctx = sys::Argon2_Context {
                        out: outs[2].as_mut_ptr(),
                        outlen: 32,
                        pwd: pwd.as_ptr().cast_mut(),
                        pwdlen: pwd.len() as u32,
                        salt: salt.as_ptr().cast_mut(),
                        saltlen: salt.len() as u32,
                        secret: std::ptr::null_mut(),
                        secretlen: 0,
                        ad: std::ptr::null_mut(),
                        adlen: 0,
                        t_cost: t,
                        m_cost: m,
                        lanes: 1,
                        threads: 1,
                        version: sys::ARGON2_VERSION_13,
                        allocate_cbk: Some(alloc_cb),
                        free_cbk: Some(free_cb),
                        flags: 0,
                    };
                    assert_eq!(unsafe { sys::argon2id_ctx(&mut ctx) }, 0);
                }
            }
            if round > 0 {
                wall[i].push(w0.elapsed());
                cpus[i].push(cpu() - c0);
            }
        }
        round += 1;
    }
    assert!(outs[0] == outs[2] && outs[1] == outs[2], "outputs differ");
    let med = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e3
    };
    let c_wall = med(&mut wall[2].clone());
    let c_cpu = med(&mut cpus[2].clone());
    for i in 0..3 {
        let (w, c) = (med(&mut wall[i]), med(&mut cpus[i]));
        println!(
            "{:<48} wall {:>7.3} ms  cpu {:>7.3} ms  ({:.3}x / {:.3}x of C)  {} rounds",
            names[i],
            w,
            c,
            w / c_wall,
            c / c_cpu,
            round - 1
        );
    }
}
