//! The S3 documentation's chunked examples, the framing variants real SDKs send, and the attacks
//! a decoder must refuse (spec sigv4-s3.md §4.2–4.4, §9).

use std::sync::Arc;

use super::*;
use crate::sigv4::signing_key::SigningKey;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const CHUNK1: &str = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";
const CHUNK2: &str = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497";
const FINAL: &str = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9";

fn sig(hex_sig: &str) -> [u8; 32] {
    crate::sigv4::authorization::decode_signature(hex_sig).unwrap()
}

fn context(seed: &str) -> SigningContext {
    SigningContext {
        key: Arc::new(SigningKey::derive(SECRET, "20130524", "us-east-1", "s3")),
        date: AmzDate::parse("20130524T000000Z").unwrap(),
        scope: "20130524/us-east-1/s3/aws4_request".into(),
        seed_signature: sig(seed),
    }
}

/// The documentation's body: 65536 + 1024 bytes of 'a', signed chunks.
fn doc_body() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(format!("10000;chunk-signature={CHUNK1}\r\n").as_bytes());
    body.extend_from_slice(&[b'a'; 65536]);
    body.extend_from_slice(format!("\r\n400;chunk-signature={CHUNK2}\r\n").as_bytes());
    body.extend_from_slice(&[b'a'; 1024]);
    body.extend_from_slice(format!("\r\n0;chunk-signature={FINAL}\r\n\r\n").as_bytes());
    body
}

fn signed_params(seed: &str, len: u64) -> ChunkedParams {
    ChunkedParams {
        decoded_length: len,
        trailers: vec![],
        signing: Some(context(seed)),
        signed_trailer: false,
    }
}

fn decode_all(params: ChunkedParams, body: &[u8]) -> Result<Vec<u8>, SigV4Error> {
    let mut d = ChunkedDecoder::new(params)?;
    let mut out = Vec::new();
    d.push(body, &mut out)?;
    d.finish(&mut out)?;
    Ok(out.concat())
}

#[test]
fn documentation_example_body_decodes_and_matches_content_length() {
    let body = doc_body();
    assert_eq!(body.len(), 66824, "the documented Content-Length");
    let out = decode_all(signed_params(SEED, 66560), &body).unwrap();
    assert_eq!(out, vec![b'a'; 66560]);
}

#[test]
fn documentation_example_chunk_signatures_are_recomputed_exactly() {
    let ctx = context(SEED);
    let s1 = chunk_signature(
        &ctx.key,
        &ctx.date,
        &ctx.scope,
        &sig(SEED),
        &Sha256::digest([b'a'; 65536]).into(),
    );
    assert_eq!(hex::encode(s1), CHUNK1);
    let s2 = chunk_signature(
        &ctx.key,
        &ctx.date,
        &ctx.scope,
        &s1,
        &Sha256::digest([b'a'; 1024]).into(),
    );
    assert_eq!(hex::encode(s2), CHUNK2);
    let s3 = chunk_signature(
        &ctx.key,
        &ctx.date,
        &ctx.scope,
        &s2,
        &Sha256::digest([]).into(),
    );
    assert_eq!(hex::encode(s3), FINAL);
}

#[test]
fn documentation_trailer_example_signature() {
    // DOC-TRAIL: seed 106e2a8a…, chunks b474d886…5aa2, 1c1344b1…e5c7, 2ca2aba2…f992, and the
    // trailer signature d81f82fc… over "x-amz-checksum-crc32c:sOO8/Q==\n".
    let ctx = context("106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e");
    let s1 = chunk_signature(
        &ctx.key,
        &ctx.date,
        &ctx.scope,
        &ctx.seed_signature,
        &Sha256::digest([b'a'; 65536]).into(),
    );
    let s2 = chunk_signature(
        &ctx.key,
        &ctx.date,
        &ctx.scope,
        &s1,
        &Sha256::digest([b'a'; 1024]).into(),
    );
    let s3 = chunk_signature(
        &ctx.key,
        &ctx.date,
        &ctx.scope,
        &s2,
        &Sha256::digest([]).into(),
    );
    let (h1, h2, h3) = (hex::encode(s1), hex::encode(s2), hex::encode(s3));
    assert!(h1.starts_with("b474d886") && h1.ends_with("5aa2"), "{h1}");
    assert!(h2.starts_with("1c1344b1") && h2.ends_with("e5c7"), "{h2}");
    assert!(h3.starts_with("2ca2aba2") && h3.ends_with("f992"), "{h3}");
    let trailers = vec![("x-amz-checksum-crc32c".to_string(), "sOO8/Q==".to_string())];
    assert_eq!(
        canonical_trailers(&trailers),
        b"x-amz-checksum-crc32c:sOO8/Q==\n"
    );
    let t = trailer_signature(
        &ctx.key,
        &ctx.date,
        &ctx.scope,
        &s3,
        &canonical_trailers(&trailers),
    );
    assert_eq!(
        hex::encode(t),
        "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"
    );

    // And the whole body through the decoder.
    let mut body = Vec::new();
    body.extend_from_slice(format!("10000;chunk-signature={h1}\r\n").as_bytes());
    body.extend_from_slice(&[b'a'; 65536]);
    body.extend_from_slice(format!("\r\n400;chunk-signature={h2}\r\n").as_bytes());
    body.extend_from_slice(&[b'a'; 1024]);
    body.extend_from_slice(format!("\r\n0;chunk-signature={h3}\r\nx-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:{}\r\n\r\n", hex::encode(t)).as_bytes());
    let params = ChunkedParams {
        decoded_length: 66560,
        trailers: vec!["x-amz-checksum-crc32c".into()],
        signing: Some(ctx),
        signed_trailer: true,
    };
    assert_eq!(decode_all(params.clone(), &body).unwrap().len(), 66560);

    // A wrong trailer signature fails, and so does a changed checksum value.
    let bad_sig = String::from_utf8(body.clone())
        .unwrap()
        .replace(&hex::encode(t), &"0".repeat(64));
    assert_eq!(
        decode_all(params.clone(), bad_sig.as_bytes())
            .unwrap_err()
            .code(),
        "SignatureDoesNotMatch"
    );
    let bad_sum = String::from_utf8(body)
        .unwrap()
        .replace("sOO8/Q==", "AAAAAA==");
    assert_eq!(
        decode_all(params, bad_sum.as_bytes()).unwrap_err().code(),
        "SignatureDoesNotMatch"
    );
}

#[test]
fn the_completing_chunk_is_withheld_until_the_final_chunk_verifies() {
    let body = doc_body();
    let final_len = format!("0;chunk-signature={FINAL}\r\n\r\n").len();
    let mut d = ChunkedDecoder::new(signed_params(SEED, 66560)).unwrap();
    let mut out = Vec::new();
    d.push(&body[..body.len() - final_len], &mut out).unwrap();
    // The first chunk is released; the second completes the object and is held back.
    assert_eq!(out.iter().map(Bytes::len).sum::<usize>(), 65536);
    d.push(&body[body.len() - final_len..], &mut out).unwrap();
    d.finish(&mut out).unwrap();
    assert_eq!(out.iter().map(Bytes::len).sum::<usize>(), 66560);
}

#[test]
fn a_bad_final_chunk_signature_never_releases_the_last_bytes() {
    let body = String::from_utf8(doc_body())
        .unwrap()
        .replace(FINAL, &CHUNK2.replace('5', "6"));
    let mut d = ChunkedDecoder::new(signed_params(SEED, 66560)).unwrap();
    let mut out = Vec::new();
    let err = d.push(body.as_bytes(), &mut out).unwrap_err();
    assert_eq!(err.code(), "SignatureDoesNotMatch");
    assert_eq!(
        out.iter().map(Bytes::len).sum::<usize>(),
        65536,
        "only the verified, non-final chunk may have been released"
    );
}

#[test]
fn a_corrupted_chunk_is_never_released() {
    let mut body = doc_body();
    let pos = body.iter().position(|&b| b == b'a').unwrap() + 100;
    body[pos] = b'b';
    let mut d = ChunkedDecoder::new(signed_params(SEED, 66560)).unwrap();
    let mut out = Vec::new();
    assert_eq!(
        d.push(&body, &mut out).unwrap_err().code(),
        "SignatureDoesNotMatch"
    );
    assert!(out.is_empty());
}

#[test]
fn a_wrong_seed_fails_the_first_chunk() {
    let err = decode_all(signed_params(&"1".repeat(64), 66560), &doc_body()).unwrap_err();
    assert_eq!((err.code(), err.status()), ("SignatureDoesNotMatch", 403));
}

#[test]
fn every_split_point_gives_the_same_result() {
    // A small signed body so that every byte boundary can be tried.
    let ctx = context(SEED);
    let data = b"hello, chunked world";
    let (a, b) = data.split_at(7);
    let s1 = chunk_signature(
        &ctx.key,
        &ctx.date,
        &ctx.scope,
        &ctx.seed_signature,
        &Sha256::digest(a).into(),
    );
    let s2 = chunk_signature(
        &ctx.key,
        &ctx.date,
        &ctx.scope,
        &s1,
        &Sha256::digest(b).into(),
    );
    let s3 = chunk_signature(
        &ctx.key,
        &ctx.date,
        &ctx.scope,
        &s2,
        &Sha256::digest([]).into(),
    );
    let mut body = Vec::new();
    body.extend_from_slice(format!("7;chunk-signature={}\r\n", hex::encode(s1)).as_bytes());
    body.extend_from_slice(a);
    body.extend_from_slice(
        format!("\r\n{:x};chunk-signature={}\r\n", b.len(), hex::encode(s2)).as_bytes(),
    );
    body.extend_from_slice(b);
    body.extend_from_slice(format!("\r\n0;chunk-signature={}\r\n\r\n", hex::encode(s3)).as_bytes());
    for split in 0..=body.len() {
        let mut d = ChunkedDecoder::new(signed_params(SEED, data.len() as u64)).unwrap();
        let mut out = Vec::new();
        d.push(&body[..split], &mut out).unwrap();
        d.push(&body[split..], &mut out).unwrap();
        d.finish(&mut out).unwrap();
        assert_eq!(out.concat(), data, "split at {split}");
    }
    // One byte at a time.
    let mut d = ChunkedDecoder::new(signed_params(SEED, data.len() as u64)).unwrap();
    let mut out = Vec::new();
    for byte in &body {
        d.push(std::slice::from_ref(byte), &mut out).unwrap();
    }
    d.finish(&mut out).unwrap();
    assert_eq!(out.concat(), data);
}

fn unsigned_params(len: u64, trailer: &str) -> ChunkedParams {
    ChunkedParams {
        decoded_length: len,
        trailers: vec![trailer.into()],
        signing: None,
        signed_trailer: false,
    }
}

fn crc32_b64(data: &[u8]) -> String {
    let mut c = Checksum::new(ChecksumAlgorithm::Crc32);
    c.update(data);
    c.finalize_base64()
}

#[test]
fn unsigned_trailer_as_botocore_sends_it() {
    let data = vec![b'z'; 3000];
    let body = format!(
        "bb8\r\n{}\r\n0\r\nx-amz-checksum-crc32:{}\r\n\r\n",
        "z".repeat(3000),
        crc32_b64(&data)
    );
    assert_eq!(
        decode_all(
            unsigned_params(3000, "x-amz-checksum-crc32"),
            body.as_bytes()
        )
        .unwrap(),
        data
    );
}

#[test]
fn unsigned_trailer_variants_from_other_sdks() {
    let data = b"0123456789";
    let sum = crc32_b64(data);
    // Java SDK v2: chunk-signature extensions in unsigned mode (ignored).
    let java = format!(
        "a;chunk-signature={}\r\n0123456789\r\n0;chunk-signature={}\r\nx-amz-checksum-crc32:{sum}\r\n\r\n",
        "1".repeat(64),
        "2".repeat(64)
    );
    assert_eq!(
        decode_all(unsigned_params(10, "x-amz-checksum-crc32"), java.as_bytes()).unwrap(),
        data
    );
    // No final CRLF after the trailer.
    let short = format!("a\r\n0123456789\r\n0\r\nx-amz-checksum-crc32:{sum}\r\n");
    assert_eq!(
        decode_all(
            unsigned_params(10, "x-amz-checksum-crc32"),
            short.as_bytes()
        )
        .unwrap(),
        data
    );
    // minio-go: "name:value\n" then "\r\n".
    let minio = format!("a\r\n0123456789\r\n0\r\nx-amz-checksum-crc32:{sum}\n\r\n");
    assert_eq!(
        decode_all(
            unsigned_params(10, "x-amz-checksum-crc32"),
            minio.as_bytes()
        )
        .unwrap(),
        data
    );
    // Upper-case hex sizes and trailer names.
    let upper = format!("A\r\n0123456789\r\n0\r\nX-Amz-Checksum-Crc32:{sum}\r\n\r\n");
    assert_eq!(
        decode_all(
            unsigned_params(10, "x-amz-checksum-crc32"),
            upper.as_bytes()
        )
        .unwrap(),
        data
    );
}

#[test]
fn wrong_or_malformed_checksums() {
    let body = "a\r\n0123456789\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
    let e = decode_all(unsigned_params(10, "x-amz-checksum-crc32"), body.as_bytes()).unwrap_err();
    assert_eq!(
        (e.code(), e.message().as_str()),
        (
            "BadDigest",
            "The CRC32 you specified did not match the calculated checksum."
        )
    );
    let body = "a\r\n0123456789\r\n0\r\nx-amz-checksum-crc32:!!!\r\n\r\n";
    let e = decode_all(unsigned_params(10, "x-amz-checksum-crc32"), body.as_bytes()).unwrap_err();
    assert_eq!(
        e.message(),
        "Value for x-amz-checksum-crc32 trailing header is invalid."
    );
    // An unannounced trailer and a missing one.
    let body = "a\r\n0123456789\r\n0\r\nx-amz-checksum-sha256:AAAA\r\n\r\n";
    assert_eq!(
        decode_all(unsigned_params(10, "x-amz-checksum-crc32"), body.as_bytes())
            .unwrap_err()
            .code(),
        "InvalidRequest"
    );
    let body = "a\r\n0123456789\r\n0\r\n\r\n";
    assert_eq!(
        decode_all(unsigned_params(10, "x-amz-checksum-crc32"), body.as_bytes())
            .unwrap_err()
            .code(),
        "IncompleteBody"
    );
    assert!(ChunkedDecoder::new(unsigned_params(10, "x-amz-meta-foo")).is_err());
}

#[test]
fn length_attacks_are_refused() {
    let trailer = |d: &[u8]| format!("x-amz-checksum-crc32:{}\r\n\r\n", crc32_b64(d));
    let p = || unsigned_params(10, "x-amz-checksum-crc32");
    // More data than x-amz-decoded-content-length.
    let long = format!("b\r\n0123456789X\r\n0\r\n{}", trailer(b"0123456789X"));
    assert_eq!(
        decode_all(p(), long.as_bytes()).unwrap_err().code(),
        "IncompleteBody"
    );
    // Less data.
    let short = format!("9\r\n012345678\r\n0\r\n{}", trailer(b"012345678"));
    assert_eq!(
        decode_all(p(), short.as_bytes()).unwrap_err().code(),
        "IncompleteBody"
    );
    // A chunk carrying more bytes than its size says: the framing breaks.
    let over = format!("5\r\n0123456789\r\n0\r\n{}", trailer(b"0123456789"));
    assert_eq!(
        decode_all(p(), over.as_bytes()).unwrap_err().code(),
        "IncompleteBody"
    );
    // Truncated body: no final chunk.
    let mut d = ChunkedDecoder::new(p()).unwrap();
    let mut out = Vec::new();
    d.push(b"a\r\n0123456789\r\n", &mut out).unwrap();
    assert!(out.is_empty(), "the completing chunk must be withheld");
    assert_eq!(d.finish(&mut out).unwrap_err().code(), "IncompleteBody");
    // Bad sizes.
    for size in ["", "-1", "+a", " a", "x", "10000000000000000"] {
        let body = format!("{size}\r\n");
        assert_eq!(
            decode_all(p(), body.as_bytes()).unwrap_err().code(),
            "IncompleteBody",
            "{size:?}"
        );
    }
    // Oversized chunk.
    let huge = format!("{:x}\r\n", MAX_CHUNK_SIZE + 1);
    let e = decode_all(
        unsigned_params(u64::MAX, "x-amz-checksum-crc32"),
        huge.as_bytes(),
    )
    .unwrap_err();
    assert!(e.message().contains("exceeds"), "{e}");
    // Data after the end.
    let extra = format!("a\r\n0123456789\r\n0\r\n{}junk", trailer(b"0123456789"));
    assert_eq!(
        decode_all(p(), extra.as_bytes()).unwrap_err().code(),
        "IncompleteBody"
    );
    // An endless header line.
    let mut d = ChunkedDecoder::new(p()).unwrap();
    assert!(d.push(&vec![b'a'; MAX_LINE + 1], &mut Vec::new()).is_err());
}

#[test]
fn signed_mode_requires_chunk_signatures() {
    let body = format!("10000\r\n{}\r\n", "a".repeat(65536));
    assert_eq!(
        decode_all(signed_params(SEED, 66560), body.as_bytes())
            .unwrap_err()
            .code(),
        "SignatureDoesNotMatch"
    );
}
