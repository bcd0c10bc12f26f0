//! First-verify cost and steady speed of argon2 0.5.3 (m=19456 t=2 p=1) with the work area
//! on 4 KiB pages (a Vec, as shared::auth::password does) vs transparent huge pages
//! (2 MiB-aligned allocation + madvise(MADV_HUGEPAGE)). Each mode in a fresh process:
//! `pages vec` / `pages huge`.
use argon2_05::{Algorithm, Argon2, Block, Params, Version};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "vec".into());
    let params = Params::new(19456, 2, 1, Some(32)).unwrap();
    let n = params.block_count();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut out = [0u8; 32];
    let t0 = Instant::now();
    let area: &mut [Block] = match mode.as_str() {
        "vec" => {
            let mut v = Vec::new();
            v.resize(n, Block::new());
            v.leak()
        }
        "huge" => unsafe {
            let bytes = n * std::mem::size_of::<Block>();
            let layout =
                std::alloc::Layout::from_size_align(bytes.next_multiple_of(2 << 20), 2 << 20)
                    .unwrap();
            let p = std::alloc::alloc(layout);
            libc::madvise(p.cast(), layout.size(), libc::MADV_HUGEPAGE);
            let s = std::slice::from_raw_parts_mut(p.cast::<Block>(), n);
            for b in s.iter_mut() {
                *b = Block::new();
            }
            s
        },
        _ => panic!("vec or huge"),
    };
    let alloc = t0.elapsed();
    let t1 = Instant::now();
    argon
        .hash_password_into_with_memory(b"alice-password", b"somesalt0123456", &mut out, &mut *area)
        .unwrap();
    let first = t1.elapsed();
    let mut v = Vec::new();
    let start = Instant::now();
    while v.len() < 20 || start.elapsed() < Duration::from_secs(4) {
        let t = Instant::now();
        argon
            .hash_password_into_with_memory(
                black_box(b"alice-password"),
                b"somesalt0123456",
                &mut out,
                &mut *area,
            )
            .unwrap();
        v.push(t.elapsed());
    }
    v.sort();
    let hp = std::fs::read_to_string("/proc/self/smaps_rollup")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("AnonHugePages"))
        .unwrap_or("")
        .split_whitespace()
        .nth(1)
        .unwrap_or("?")
        .to_owned();
    println!(
        "{mode:<5} alloc+zero {:>6.2} ms  first verify {:>6.2} ms  steady median {:>6.2} ms ({} runs)  AnonHugePages {hp} kB",
        alloc.as_secs_f64() * 1e3,
        first.as_secs_f64() * 1e3,
        v[v.len() / 2].as_secs_f64() * 1e3,
        v.len()
    );
}
