//! The user-code page of the device authorization grant (RFC 8628 §3.3): the
//! `verification_uri` a TV or CLI shows. `GET /device` renders a form with an input named
//! `user_code` (pre-filled from `verification_uri_complete`'s query, never submitted by
//! itself) and the result of a finished approval; `POST /device` hands the code to
//! [`Provider::verify_user_code`], which continues into the usual login and consent pages.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use idpkit::axum::{into_request, into_response};
use idpkit::{DEVICE_APPROVED, DEVICE_DENIED, DEVICE_GONE, Params as FormParams};

use super::{AppState, escape, page, protect};

/// The user-code form, with a message above it.
fn form(user_code: &str, message: Option<(&str, bool)>) -> String {
    let message = message
        .map(|(text, error)| {
            let class = if error {
                " class=\"error\" role=\"alert\""
            } else {
                ""
            };
            format!("<p{class}>{}</p>", escape(text))
        })
        .unwrap_or_default();
    page(
        "Connect a device",
        &format!(
            "<h1>Connect a device</h1>{message}\
             <p>Enter the code your device shows.</p>\
             <form method=\"post\" action=\"/device\">\
             <label for=\"user_code\">Code</label>\
             <input id=\"user_code\" name=\"user_code\" value=\"{code}\" autocomplete=\"one-time-code\" \
             autocapitalize=\"characters\" spellcheck=\"false\" placeholder=\"BCDF-GHJK\" required autofocus>\
             <button type=\"submit\">Continue</button>\
             </form>",
            code = escape(user_code),
        ),
    )
}

/// `GET /device`: the form, or the result of an approval (`?result=`).
pub(crate) async fn device_page(uri: Uri) -> Response {
    let query = FormParams::parse(uri.query().unwrap_or_default().as_bytes());
    let get = |name: &str| {
        query
            .get(name)
            .ok()
            .flatten()
            .unwrap_or_default()
            .to_owned()
    };
    let result = get("result");
    let message = match result.as_str() {
        r if r == DEVICE_APPROVED => {
            return protect(
                page(
                    "Device connected",
                    "<h1>Device connected</h1><p>Your device is signed in. You can close this window.</p>",
                ),
                StatusCode::OK,
                None,
            );
        }
        r if r == DEVICE_DENIED => Some(("You denied the device. It was not signed in.", false)),
        r if r == DEVICE_GONE => Some((
            "That code has expired or was used already. Start again on your device.",
            true,
        )),
        _ => None,
    };
    protect(form(&get("user_code"), message), StatusCode::OK, None)
}

/// `POST /device`: the code goes to idpkit; a valid one continues to login and consent.
pub(crate) async fn device_submit(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    body: Bytes,
) -> Response {
    let source = idpkit::axum::source_of(&extensions);
    let form_params = FormParams::parse(&body);
    let user_code = form_params
        .get("user_code")
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_owned();
    let req = match into_request(&state.provider, &method, &uri, &headers, &body) {
        Ok(r) => r.with_source(source),
        Err(e) => {
            return protect(
                form(&user_code, Some((&e.description, true))),
                StatusCode::BAD_REQUEST,
                None,
            );
        }
    };
    match state.provider.verify_user_code(&req, &user_code).await {
        Ok(outcome) => into_response(outcome.into()),
        Err(e) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            let mut page = protect(form(&user_code, Some((&e.description, true))), status, None);
            if let Some(wait) = e.retry_after
                && let Ok(v) = axum::http::HeaderValue::from_str(&wait.to_string())
            {
                page.headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, v);
            }
            page
        }
    }
}
