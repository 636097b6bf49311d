//! The little DER this crate needs: wrapping PKCS#1, SEC1 and raw Ed25519 keys into PKCS#8
//! (the one form both crypto backends parse), and reading the algorithm of a PKCS#8 key.

pub(crate) const OID_RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
pub(crate) const OID_EC: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
pub(crate) const OID_P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
pub(crate) const OID_P384: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];
pub(crate) const OID_P521: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x23];
pub(crate) const OID_SECP256K1: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x0A];
pub(crate) const OID_ED25519: &[u8] = &[0x2B, 0x65, 0x70];
pub(crate) const OID_ED448: &[u8] = &[0x2B, 0x65, 0x71];

pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
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

pub(crate) fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// An unsigned big-endian INTEGER.
pub(crate) fn uint(bytes: &[u8]) -> Vec<u8> {
    let start = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    let mut v = bytes[start.min(bytes.len())..].to_vec();
    if v.is_empty() {
        v.push(0);
    }
    if v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    tlv(0x02, &v)
}

pub(crate) fn oid(o: &[u8]) -> Vec<u8> {
    tlv(0x06, o)
}

const ZERO: &[u8] = &[0x02, 0x01, 0x00];
const NULL: &[u8] = &[0x05, 0x00];

pub(crate) fn pkcs8_from_pkcs1(rsa: &[u8]) -> Vec<u8> {
    seq(&[ZERO, &seq(&[&oid(OID_RSA), NULL]), &tlv(0x04, rsa)])
}

pub(crate) fn pkcs8_from_sec1_p256(ec: &[u8]) -> Vec<u8> {
    seq(&[ZERO, &seq(&[&oid(OID_EC), &oid(OID_P256)]), &tlv(0x04, ec)])
}

pub(crate) fn pkcs8_from_ed25519_seed(seed: &[u8]) -> Vec<u8> {
    seq(&[
        ZERO,
        &seq(&[&oid(OID_ED25519)]),
        &tlv(0x04, &tlv(0x04, seed)),
    ])
}

/// SEC1 `ECPrivateKey` for P-256 with parameters and public key.
pub(crate) fn sec1_p256(d: &[u8], x: &[u8], y: &[u8]) -> Vec<u8> {
    let mut point = vec![0x00, 0x04];
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    seq(&[
        &[0x02, 0x01, 0x01],
        &tlv(0x04, d),
        &tlv(0xA0, &oid(OID_P256)),
        &tlv(0xA1, &tlv(0x03, &point)),
    ])
}

/// Reads one TLV: (tag, content, rest).
pub(crate) fn read(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        (
            rest[..n]
                .iter()
                .fold(0usize, |a, b| (a << 8) | usize::from(*b)),
            &rest[n..],
        )
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The algorithm OID and (for EC) the curve OID of a PKCS#8 `PrivateKeyInfo`.
pub(crate) fn pkcs8_algorithm(der: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let (_, body, _) = read(der)?;
    let (_, _version, rest) = read(body)?;
    let (_, algid, _) = read(rest)?;
    let (tag, alg, rest) = read(algid)?;
    if tag != 0x06 {
        return None;
    }
    let param = read(rest).filter(|(t, _, _)| *t == 0x06).map(|(_, p, _)| p);
    Some((alg, param))
}

/// The curve OID inside a SEC1 `ECPrivateKey`, if it names one.
pub(crate) fn sec1_curve(der: &[u8]) -> Option<&[u8]> {
    let (_, body, _) = read(der)?;
    let mut rest = body;
    while let Some((tag, content, next)) = read(rest) {
        if tag == 0xA0 {
            return read(content).map(|(_, o, _)| o);
        }
        rest = next;
    }
    None
}

pub(crate) fn curve_name(o: &[u8]) -> &'static str {
    match o {
        x if x == OID_P256 => "P-256",
        x if x == OID_P384 => "P-384",
        x if x == OID_P521 => "P-521",
        x if x == OID_SECP256K1 => "secp256k1",
        _ => "an unknown curve",
    }
}
