//! Standard base64 (RFC 4648 section 4) decoding for the favicon in the configuration.
//! Written here because it is the module's only use of base64 and fits in a screen.

/// Decodes padded or unpadded standard base64. Whitespace is not allowed inside.
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    let trimmed = text.trim_end_matches('=');
    if text.len() - trimmed.len() > 2 || trimmed.len() % 4 == 1 {
        return Err("is not valid base64 (wrong length or padding)".to_string());
    }

    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for (i, byte) in trimmed.bytes().enumerate() {
        let value = sextet(byte)
            .ok_or_else(|| format!("is not valid base64 (byte {byte:#04x} at offset {i})"))?;
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

fn sextet(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_rfc_4648_test_vectors() {
        let cases = [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
            ("Zm9vYg", "foob"),
        ];
        for (text, expected) in cases {
            assert_eq!(decode(text).as_deref(), Ok(expected.as_bytes()), "{text}");
        }
    }

    #[test]
    fn decodes_every_byte_value() {
        let decoded = decode("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
        assert_eq!(decoded, (0u8..32).collect::<Vec<_>>());
        assert_eq!(decode("/+8=").unwrap(), vec![0xff, 0xef]);
    }

    #[test]
    fn refuses_malformed_input() {
        for text in ["Z", "Zg===", "Zm9v!", "Zm 9v", "Zm9v\n", "Zg=a"] {
            assert!(decode(text).is_err(), "{text:?} should be refused");
        }
    }
}
