//! Random identifiers and secrets, from the operating system's generator.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

use crate::error::{Error, Result};

pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(Error::internal)?;
    Ok(bytes)
}

/// A random URL-safe identifier of `N` bytes of entropy.
pub fn random_id<const N: usize>() -> Result<String> {
    Ok(B64.encode(random_bytes::<N>()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_entropy_and_differ() {
        let a = random_id::<16>().unwrap();
        assert_eq!(B64.decode(&a).unwrap().len(), 16);
        assert_ne!(a, random_id::<16>().unwrap());
    }
}
