//! What the benchmarks that talk HTTP share: a page's CSRF token, and
//! `bench`'s first sign-in (the generated password replaced by its own, as
//! a new user must).

/// The CSRF field of a page.
pub fn csrf_in(body: &str) -> anyhow::Result<String> {
    let marker = "name=\"csrf\" value=\"";
    let start = body
        .find(marker)
        .ok_or_else(|| anyhow::anyhow!("no CSRF field"))?
        + marker.len();
    let end = body[start..]
        .find('"')
        .ok_or_else(|| anyhow::anyhow!("no CSRF field"))?
        + start;
    Ok(body[start..end].to_owned())
}

/// Signs `bench` in with the generated password and chooses a new one;
/// returns the client (its cookie jar holds the session) and the session
/// cookie as a `Cookie` header value.
pub async fn sign_in(base: &str, password: &str) -> anyhow::Result<(reqwest::Client, String)> {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let page = client.get(format!("{base}/login")).send().await?;
    let csrf = csrf_in(&page.text().await?)?;
    let login = client
        .post(format!("{base}/login"))
        .form(&[
            ("username", "bench"),
            ("password", password),
            ("csrf", &csrf),
        ])
        .send()
        .await?;
    let cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("mlstack_session="))
        .and_then(|v| v.split(';').next())
        .ok_or_else(|| anyhow::anyhow!("no session cookie"))?
        .to_owned();
    let page = client
        .get(format!("{base}/account/password"))
        .send()
        .await?;
    let csrf = csrf_in(&page.text().await?)?;
    let own = format!("{password}-own");
    let changed = client
        .post(format!("{base}/account/password"))
        .form(&[
            ("current_password", password),
            ("new_password", &own),
            ("confirm_password", &own),
            ("csrf", &csrf),
        ])
        .send()
        .await?;
    anyhow::ensure!(changed.status().as_u16() == 303, "the password change");
    Ok((client, cookie))
}
