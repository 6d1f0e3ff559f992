//! Generated identifiers: a prefix and 12 random lowercase hex characters.

use rand::Rng;

/// A new id such as `domain-1234ee0c14ae`.
pub fn generate(prefix: &str) -> String {
    format!("{prefix}-{}", random_hex(6))
}

/// `bytes` random bytes as lowercase hex (so twice as many characters).
pub fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_a_prefix_and_twelve_hex_characters() {
        let id = super::generate("workspace");
        let (prefix, hex) = id.split_once('-').unwrap();
        assert_eq!(prefix, "workspace");
        assert_eq!(hex.len(), 12);
        assert!(
            hex.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(super::generate("rb"), super::generate("rb"));
    }
}
