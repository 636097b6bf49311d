//! The HTTP client of the `openidconnect` relying party (feature `rp`).

/// No redirect following: each hop is asserted.
pub fn rp_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}
