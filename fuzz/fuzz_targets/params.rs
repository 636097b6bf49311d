//! Form and query decoding: `Params::parse_exact`, `Params::get`, and `Request::from_http`.
//!
//! Invariants: no panic; what `parse_exact` accepts, the lenient WHATWG parser
//! (`form_urlencoded`) decodes identically; accepted pairs survive an encode/parse round
//! trip; `get` refuses exactly the repeated names; `from_http` never holds more than 100
//! parameters and refuses a body over its limit.
#![no_main]

use idpkit_core::{Method, Params, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match Params::parse_exact(data) {
        Ok(p) => {
            // Exact decoding agrees with the WHATWG parser whenever it succeeds (the
            // lenient parser only differs by replacing non-UTF-8 bytes, which exact refuses).
            let lenient = Params::parse(data);
            assert_eq!(p, lenient, "parse_exact and parse disagree");
            // Round trip through the serializer.
            let encoded = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(p.pairs().iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .finish();
            let again = Params::parse_exact(encoded.as_bytes()).expect("re-encoded is UTF-8");
            assert_eq!(
                p, again,
                "round trip through form encoding changed the pairs"
            );
            // `get`: an error exactly for repeated names, empty means absent.
            for (k, v) in p.pairs() {
                let n = p.pairs().iter().filter(|(k2, _)| k2 == k).count();
                match p.get(k) {
                    Err(_) => assert!(n > 1, "get refused a single parameter"),
                    Ok(got) => {
                        assert_eq!(n, 1, "get accepted a repeated parameter");
                        assert_eq!(got, Some(v.as_str()).filter(|v| !v.is_empty()));
                    }
                }
            }
            assert_eq!(
                p.first_duplicate().is_some(),
                p.pairs()
                    .iter()
                    .enumerate()
                    .any(|(i, (k, _))| p.pairs()[..i].iter().any(|(k2, _)| k2 == k))
            );
        }
        Err(e) => {
            assert_eq!(e.code.as_str(), "invalid_request");
            // Refused only for bytes that are not UTF-8 once decoded.
            assert!(
                Params::parse(data)
                    .pairs()
                    .iter()
                    .any(|(k, v)| k.contains('\u{FFFD}') || v.contains('\u{FFFD}')),
                "parse_exact refused input whose decoding is UTF-8"
            );
        }
    }

    // The same bytes as a GET query and a POST form body.
    let text = String::from_utf8_lossy(data);
    let max_body = 4096;
    for method in ["GET", "POST"] {
        let headers = [("Content-Type", "application/x-www-form-urlencoded")];
        let r = Request::from_http(method, Some(&text), headers, data, max_body);
        match r {
            Ok(req) => {
                assert!(req.params.pairs().len() + req.query.pairs().len() <= 100);
                assert!(data.len() <= max_body);
                if req.method == Method::Post {
                    let _ = req.check_back_channel();
                }
            }
            Err(e) => assert_eq!(e.code.as_str(), "invalid_request"),
        }
    }
    let _ = Params::from_json(data);
});
