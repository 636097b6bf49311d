//! The little DER (ITU-T X.690) idpkit reads and writes: one TLV reader used by every parser
//! in the workspace (SubjectPublicKeyInfo, PKCS#1, PKCS#8, SEC1, ECDSA signatures), and the
//! few writers that wrap PKCS#1, SEC1 and raw Ed25519 keys into PKCS#8, the one form both
//! crypto backends parse.
//!
//! It is not a general ASN.1 library: only definite lengths of at most four length bytes,
//! single-byte tags, and no validation beyond what the callers here need (the crypto backend
//! parses the key material itself afterwards).

/// Object identifiers (content bytes of an `OBJECT IDENTIFIER`).
pub mod oid {
    /// `rsaEncryption` (RFC 8017 Appendix C).
    pub const RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
    /// `id-ecPublicKey` (RFC 5480 §2.1.1).
    pub const EC: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
    /// `secp256r1` / P-256 (RFC 5480 §2.1.1.1).
    pub const P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    /// `secp384r1` / P-384.
    pub const P384: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];
    /// `secp521r1` / P-521.
    pub const P521: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x23];
    /// `secp256k1`.
    pub const SECP256K1: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x0A];
    /// `id-Ed25519` (RFC 8410 §3).
    pub const ED25519: &[u8] = &[0x2B, 0x65, 0x70];
    /// `id-Ed448` (RFC 8410 §3).
    pub const ED448: &[u8] = &[0x2B, 0x65, 0x71];
}

/// Universal tags used here.
pub mod tag {
    /// `INTEGER`.
    pub const INTEGER: u8 = 0x02;
    /// `BIT STRING`.
    pub const BIT_STRING: u8 = 0x03;
    /// `OCTET STRING`.
    pub const OCTET_STRING: u8 = 0x04;
    /// `NULL`.
    pub const NULL: u8 = 0x05;
    /// `OBJECT IDENTIFIER`.
    pub const OID: u8 = 0x06;
    /// `SEQUENCE` (constructed).
    pub const SEQUENCE: u8 = 0x30;
}

/// Reads one TLV from the start of `input`: `(tag, content, rest)`. `None` when the input
/// is truncated, uses the indefinite length form, or a length of more than four bytes.
pub fn read(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    let (content, rest) = rest.split_at(len);
    Some((tag, content, rest))
}

/// Reads one TLV that must carry `tag`: `(content, rest)`.
pub fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    match read(input)? {
        (t, content, rest) if t == tag => Some((content, rest)),
        _ => None,
    }
}

/// The magnitude of an unsigned `INTEGER`'s content: leading zero bytes removed.
pub fn unsigned(content: &[u8]) -> &[u8] {
    let start = content
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(content.len());
    &content[start..]
}

/// Encodes one TLV (definite length, minimal length bytes).
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// Encodes a `SEQUENCE` of already encoded parts.
pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag::SEQUENCE, &parts.concat())
}

/// Encodes an unsigned big-endian number as an `INTEGER` (minimal, with a leading zero byte
/// when the high bit is set).
pub fn uint(bytes: &[u8]) -> Vec<u8> {
    let mut v = unsigned(bytes).to_vec();
    if v.is_empty() {
        v.push(0);
    }
    if v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    tlv(tag::INTEGER, &v)
}

/// Encodes an `OBJECT IDENTIFIER` from its content bytes.
pub fn oid(o: &[u8]) -> Vec<u8> {
    tlv(tag::OID, o)
}

const ZERO: &[u8] = &[tag::INTEGER, 0x01, 0x00];
const NULL: &[u8] = &[tag::NULL, 0x00];

/// Wraps a PKCS#1 `RSAPrivateKey` into a PKCS#8 `PrivateKeyInfo` (RFC 5208 §5).
pub fn pkcs8_from_pkcs1(rsa: &[u8]) -> Vec<u8> {
    seq(&[
        ZERO,
        &seq(&[&oid(oid::RSA), NULL]),
        &tlv(tag::OCTET_STRING, rsa),
    ])
}

/// Wraps a SEC1 `ECPrivateKey` of a P-256 key into PKCS#8 (RFC 5915 §3).
pub fn pkcs8_from_sec1_p256(ec: &[u8]) -> Vec<u8> {
    seq(&[
        ZERO,
        &seq(&[&oid(oid::EC), &oid(oid::P256)]),
        &tlv(tag::OCTET_STRING, ec),
    ])
}

/// Wraps a raw 32-byte Ed25519 seed into PKCS#8 (RFC 8410 §7).
pub fn pkcs8_from_ed25519_seed(seed: &[u8]) -> Vec<u8> {
    seq(&[
        ZERO,
        &seq(&[&oid(oid::ED25519)]),
        &tlv(tag::OCTET_STRING, &tlv(tag::OCTET_STRING, seed)),
    ])
}

/// A SEC1 `ECPrivateKey` (RFC 5915 §3) for P-256 with parameters and public key.
pub fn sec1_p256(d: &[u8], x: &[u8], y: &[u8]) -> Vec<u8> {
    let mut point = vec![0x00, 0x04];
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    seq(&[
        &[tag::INTEGER, 0x01, 0x01],
        &tlv(tag::OCTET_STRING, d),
        &tlv(0xA0, &oid(oid::P256)),
        &tlv(0xA1, &tlv(tag::BIT_STRING, &point)),
    ])
}

/// The algorithm OID and (for EC) the curve OID of a PKCS#8 `PrivateKeyInfo`.
pub fn pkcs8_algorithm(der: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let (body, _) = expect(der, tag::SEQUENCE)?;
    let (_version, rest) = expect(body, tag::INTEGER)?;
    let (algid, _) = expect(rest, tag::SEQUENCE)?;
    let (alg, rest) = expect(algid, tag::OID)?;
    let param = expect(rest, tag::OID).map(|(p, _)| p);
    Some((alg, param))
}

/// The curve OID inside a SEC1 `ECPrivateKey`, if it names one (`[0]` parameters).
pub fn sec1_curve(der: &[u8]) -> Option<&[u8]> {
    let (body, _) = expect(der, tag::SEQUENCE)?;
    let mut rest = body;
    while let Some((t, content, next)) = read(rest) {
        if t == 0xA0 {
            return expect(content, tag::OID).map(|(o, _)| o);
        }
        rest = next;
    }
    None
}

/// A curve's name for error messages.
pub fn curve_name(o: &[u8]) -> &'static str {
    match o {
        x if x == oid::P256 => "P-256",
        x if x == oid::P384 => "P-384",
        x if x == oid::P521 => "P-521",
        x if x == oid::SECP256K1 => "secp256k1",
        _ => "an unknown curve",
    }
}

/// A `SubjectPublicKeyInfo` (RFC 5280 §4.1.2.7) taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spki<'a> {
    /// The algorithm OID.
    pub algorithm: &'a [u8],
    /// The parameter OID, if there is one (the curve, for EC).
    pub parameter: Option<&'a [u8]>,
    /// The key bits (whole bytes).
    pub key: &'a [u8],
}

/// Reads a `SubjectPublicKeyInfo` (RFC 5280 §4.1.2.7).
pub fn spki(der: &[u8]) -> Option<Spki<'_>> {
    let (spki, _) = expect(der, tag::SEQUENCE)?;
    let (algid, rest) = expect(spki, tag::SEQUENCE)?;
    let (bits, _) = expect(rest, tag::BIT_STRING)?;
    let (&unused, key) = bits.split_first()?;
    if unused != 0 {
        return None;
    }
    let (algorithm, params) = expect(algid, tag::OID)?;
    let parameter = expect(params, tag::OID).map(|(p, _)| p);
    Some(Spki {
        algorithm,
        parameter,
        key,
    })
}

/// A PKCS#1 `RSAPublicKey` (`SEQUENCE { n INTEGER, e INTEGER }`, RFC 8017 §A.1.1) as
/// big-endian magnitudes without leading zeros.
pub fn rsa_public_key(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (seq, _) = expect(der, tag::SEQUENCE)?;
    let (n, rest) = expect(seq, tag::INTEGER)?;
    let (e, _) = expect(rest, tag::INTEGER)?;
    Some((unsigned(n), unsigned(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_lengths_round_trip_x690_8_1_3() {
        for n in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let content = vec![0xAB; n];
            let enc = tlv(tag::OCTET_STRING, &content);
            let (t, c, rest) = read(&enc).expect("reads");
            assert_eq!((t, c.len(), rest.len()), (tag::OCTET_STRING, n, 0), "{n}");
        }
        assert_eq!(
            tlv(0x04, &[0; 128])[1..3],
            [0x81, 0x80],
            "minimal long form"
        );
    }

    #[test]
    fn truncated_indefinite_and_oversized_lengths_are_refused_x690_8_1_3() {
        assert!(read(&[0x04, 0x02, 0x00]).is_none(), "truncated content");
        assert!(
            read(&[0x30, 0x80, 0x00, 0x00]).is_none(),
            "indefinite length"
        );
        assert!(
            read(&[0x04, 0x85, 1, 0, 0, 0, 0]).is_none(),
            "five length bytes"
        );
        assert!(read(&[0x04]).is_none(), "no length");
        assert!(
            expect(&[0x02, 0x01, 0x05], tag::SEQUENCE).is_none(),
            "wrong tag"
        );
    }

    #[test]
    fn integers_are_minimal_and_unsigned_x690_8_3() {
        assert_eq!(uint(&[0x00, 0x00, 0x7f]), [0x02, 0x01, 0x7f]);
        assert_eq!(uint(&[0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(uint(&[]), [0x02, 0x01, 0x00]);
        assert_eq!(unsigned(&[0, 0, 1, 0]), [1, 0]);
    }

    #[test]
    fn pkcs8_wrappers_name_their_algorithm_rfc5208_5() {
        let rsa = pkcs8_from_pkcs1(&seq(&[&uint(&[1])]));
        assert_eq!(pkcs8_algorithm(&rsa), Some((oid::RSA, None)));
        let ec = pkcs8_from_sec1_p256(&sec1_p256(&[1; 32], &[2; 32], &[3; 32]));
        assert_eq!(pkcs8_algorithm(&ec), Some((oid::EC, Some(oid::P256))));
        let ed = pkcs8_from_ed25519_seed(&[7; 32]);
        assert_eq!(pkcs8_algorithm(&ed), Some((oid::ED25519, None)));
        assert_eq!(
            sec1_curve(&sec1_p256(&[1; 32], &[2; 32], &[3; 32])),
            Some(oid::P256)
        );
    }

    #[test]
    fn spki_and_rsa_public_key_are_taken_apart_rfc5280_4_1_2_7() {
        let rsa_key = seq(&[&uint(&[0x80, 1, 2]), &uint(&[1, 0, 1])]);
        let mut bits = vec![0];
        bits.extend(&rsa_key);
        let der = seq(&[&seq(&[&oid(oid::RSA), NULL]), &tlv(tag::BIT_STRING, &bits)]);
        let info = spki(&der).expect("spki");
        assert_eq!((info.algorithm, info.parameter), (oid::RSA, None));
        assert_eq!(
            rsa_public_key(info.key),
            Some((&[0x80, 1, 2][..], &[1, 0, 1][..]))
        );
        let mut odd = bits.clone();
        odd[0] = 1;
        let der = seq(&[&seq(&[&oid(oid::RSA), NULL]), &tlv(tag::BIT_STRING, &odd)]);
        assert!(spki(&der).is_none(), "unused bits in the key are refused");
    }
}
