//! Cold costs on the TLS path, each measured once in a fresh process (run it many times):
//! the first aws-lc random bytes (jitter entropy seeding unless aws-lc-sys was built with
//! AWS_LC_SYS_NO_JITTER_ENTROPY=1), a second call, and loading the native root certs.
use std::time::Instant;
fn main() {
    let t = Instant::now();
    let mut buf = [0u8; 32];
    aws_lc_rs::rand::fill(&mut buf).unwrap();
    let first = t.elapsed();
    let t = Instant::now();
    aws_lc_rs::rand::fill(&mut buf).unwrap();
    let second = t.elapsed();
    let t = Instant::now();
    let certs = rustls_native_certs::load_native_certs();
    let certs_time = t.elapsed();
    println!(
        "first_rand_us={} second_rand_us={} native_certs_us={} certs={}",
        first.as_micros(),
        second.as_micros(),
        certs_time.as_micros(),
        certs.certs.len()
    );
}
